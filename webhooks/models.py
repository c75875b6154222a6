"""Webhook endpoints, the deliveries of events to them, and every attempt made."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from outbox.models import Event
from projects.models import Relationship


class Endpoint(models.Model):
    """A URL that receives signed events (Standard Webhooks) on behalf of its owner."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    # Event types (outbox.catalogue) sent to it; empty: every type.
    event_types = models.JSONField(default=list, blank=True)
    # Only events of this relationship; null: every relationship the owner may see.
    relationship = models.ForeignKey(
        Relationship, null=True, blank=True, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    is_active = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    # The signing secret (`whsec_` + base64). Kept readable: an HMAC needs the key itself. After a
    # rotation the previous secret still signs (a second signature) until it expires.
    secret = models.CharField(max_length=100, editable=False)
    previous_secret = models.CharField(max_length=100, blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Since when every attempt has failed (cleared by a success): five days of it disables.
    failing_since = models.DateTimeField(null=True, blank=True)
    # Who is delivering to it right now (one worker at a time keeps the order), until when.
    lease_token = models.CharField(max_length=40, blank=True, editable=False)
    lease_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.description or self.url

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


class Delivery(models.Model):
    """One event (or test message) to one endpoint, tried until it is delivered or given up."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed (retries exhausted)"
        SKIPPED = "skipped", "Skipped (outside the owner's access)"
        CANCELLED = "cancelled", "Cancelled (endpoint disabled)"

    class Kind(models.TextChoices):
        EVENT = "event", "Event"
        REPLAY = "replay", "Replay"
        TEST = "test", "Test"

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    # Null for test messages. Deleted with the event when the outbox prunes it (after retention).
    event = models.ForeignKey(Event, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    event_type = models.CharField(max_length=60)
    # The event's sequence: deliveries of one endpoint go out in this order (tests first).
    sequence = models.BigIntegerField(default=0)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.EVENT)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            # The fan-out writes each (endpoint, event) once, however often it runs.
            models.UniqueConstraint(
                fields=["endpoint", "event"], condition=Q(kind="event"), name="webhook_delivery_once"
            ),
        ]
        indexes = [
            models.Index(
                fields=["endpoint", "sequence", "id"],
                condition=Q(status="pending"),
                name="webhook_delivery_queue",
            ),
        ]
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return f"{self.event_type} → {self.endpoint} ({self.status})"

    @property
    def message_id(self) -> str:
        """The `webhook-id`: the same for every attempt and replay of one event, so a receiver can
        deduplicate; a test message has its own."""
        return f"evt_{self.event_id}" if self.event_id else f"test_{self.pk}"


class DeliveryAttempt(models.Model):
    """One HTTP request of a delivery: what came back, how long it took."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    attempted_at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    succeeded = models.BooleanField(default=False)
    error = models.CharField(max_length=300, blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["delivery_id", "number"]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}: {self.status_code or self.error}"
