"""One spreadsheet import: the file, how it is to be imported, and what became of each row."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from imports.records import RECORD_TYPE_CHOICES


class ImportJob(models.Model):
    """An uploaded file imported (or dry-run) as one record type, with its progress and outcome."""

    class Mode(models.TextChoices):
        ALL_OR_NOTHING = "all_or_nothing", "All or nothing"
        SKIP_INVALID = "skip_invalid", "Import the valid rows, skip the rest"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DRY_RUN_DONE = "dry_run_done", "Dry run done"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True, help_text="When a dry run was confirmed.")
    record_type = models.CharField(max_length=20, choices=RECORD_TYPE_CHOICES)
    file_name = models.CharField(max_length=255)
    file_format = models.CharField(max_length=4, choices=[("csv", "CSV"), ("xlsx", "XLSX")])
    file_size = models.PositiveIntegerField()
    # The file itself, in the database: any web worker and any Celery worker can read it, and it
    # goes when the job goes. Deferred in every list (see selectors).
    content = models.BinaryField()
    dry_run = models.BooleanField(default=True)
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.ALL_OR_NOTHING)
    status = models.CharField(max_length=14, choices=Status.choices, default=Status.QUEUED, db_index=True)
    # Rows processed so far out of the sheet's data rows (total is known once the file is counted).
    processed = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    # Why the whole file failed (empty, unreadable, over a limit, rejected rows in all-or-nothing).
    message = models.TextField(blank=True, default="")
    unknown_columns = models.JSONField(default=list, blank=True)
    # [{"row": 18, "column": "baseline_value", "message": "not a number: '12,5 %'"}, ...]
    errors = models.JSONField(default=list, blank=True)
    # [{"row": 2, "status": "created", "key": "PRJ-1", "id": 7}, ...] — the first rows only
    # (settings.IMPORT_ROW_RESULTS_SHOWN), for the dry-run table; the counts cover every row.
    row_results = models.JSONField(default=list, blank=True)
    # The rejected rows as CSV with an added `error` column, ready to correct and import again.
    rejected_csv = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(processed__lte=models.F("total")), name="import_progress_valid"
            ),
            models.CheckConstraint(
                condition=Q(mode__in=["all_or_nothing", "skip_invalid"]), name="import_mode_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.get_record_type_display()}, {self.get_status_display()})"

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DRY_RUN_DONE, self.Status.DONE, self.Status.FAILED)

    @property
    def percent(self) -> int:
        return int(100 * self.processed / self.total) if self.total else (100 if self.finished else 0)
