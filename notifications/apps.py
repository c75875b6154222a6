from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    """In-app notifications, reminders from a daily sweep, and e-mail digests."""

    name = "notifications"
    verbose_name = "Notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from notifications import consumer
        from outbox import stream

        stream.register_consumer("notifications", consumer.on_events)
