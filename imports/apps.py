from django.apps import AppConfig


class ImportsConfig(AppConfig):
    """Spreadsheet imports: upload, dry run, confirm, progress and history."""

    name = "imports"
    verbose_name = "Imports"
    default_auto_field = "django.db.models.BigAutoField"
