from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    """In-app notifications, reminders from a daily sweep, and e-mail digests."""

    name = "notifications"
    verbose_name = "Notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from notifications import consumer, signoffs
        from outbox import stream
        from projects.signals import signoff_changed

        stream.register_consumer("notifications", consumer.on_events)
        signoff_changed.connect(signoffs.on_signoff_changed, dispatch_uid="notifications.signoffs")
