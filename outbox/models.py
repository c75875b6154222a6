"""The outbox: one row per thing that happened, written in the transaction that made it happen."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Event(models.Model):
    """Something that happened to a record: appended with the change, numbered once committed."""

    # Numbered after commit, in commit order (outbox.services.assign_sequences): a reader that has
    # seen sequence N never later meets an event below N. Not contiguous (ids of rolled-back
    # appends are skipped). Null until numbered; unnumbered events are not readable yet.
    sequence = models.BigIntegerField(null=True, blank=True, unique=True, editable=False)
    type = models.CharField(max_length=60, help_text="e.g. project.stage_changed (outbox.catalogue).")
    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)
    record_type = models.CharField(max_length=40)
    record_id = models.BigIntegerField(null=True, blank=True)
    external_id = models.CharField(max_length=100, null=True, blank=True)
    version = models.PositiveIntegerField(
        null=True, blank=True, help_text="The record's version after the change."
    )
    # The relationship the record belongs to, for scoping (an id, not a key: the outbox sits below
    # the apps whose records it describes, and outlives them). Null for records outside every
    # relationship (organisations, the KPI catalogue, imports). Indexed by outbox_event_scope_seq,
    # which begins with it (a second index would cost every write and serve no query).
    relationship_id = models.BigIntegerField(null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The record's change stamp (projects.sync): a sync client sees this change in the pass that
    # covers it. Null for records synced by time (scores) and for events without a record.
    sync_stamp = models.BigIntegerField(null=True, blank=True)
    # Small facts about the change, never field values: the stage moved from/to, the names of the
    # fields that changed, a score's period and tier.
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["id"], condition=Q(sequence__isnull=True), name="outbox_event_unnumbered"),
            models.Index(fields=["relationship_id", "sequence"], name="outbox_event_scope_seq"),
        ]

    def __str__(self) -> str:
        return f"#{self.sequence or '—'} {self.type} {self.record_type} {self.record_id}"


class OutboxClock(models.Model):
    """The last sequence handed out. Its one row is also the lock that orders the numbering."""

    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"outbox at {self.value}"


class ConsumerPosition(models.Model):
    """How far one consumer of the stream (webhook fan-out, notifications) has processed it.

    Moved in the same transaction as the consumer's own writes, so a consumer killed half-way
    resumes where it committed last: nothing skipped, nothing processed twice.
    """

    name = models.CharField(max_length=60, unique=True)
    position = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.name} at {self.position}"
