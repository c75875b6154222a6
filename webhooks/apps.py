from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    """Signed webhooks (Standard Webhooks) fed by the outbox."""

    name = "webhooks"
    verbose_name = "Webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from outbox import stream
        from webhooks import fanout, scheduler
        from webhooks.models import Delivery

        stream.register_consumer("webhooks", fanout.fan_out)
        # Events still owed to an endpoint outlive the retention period.
        stream.register_retention_hold(
            "webhooks",
            lambda: Delivery.objects.filter(status=Delivery.Status.PENDING, event__isnull=False).values(
                "event_id"
            ),
        )
        scheduler.start_for_development_server()
