from django.apps import AppConfig


class OutboxConfig(AppConfig):
    """The transactional outbox: what happened to which record, appended in the writing transaction."""

    name = "outbox"
    verbose_name = "Events"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Registers the `__any` lookup (outbox.rows.AnyOf) for every query, whatever imports first.
        from outbox import rows  # noqa: F401
