"""Notifications for people, and what each person wants to receive."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from notifications.kinds import Kind


class Notification(models.Model):
    """Something one person should know or do, with a link to the record it is about."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=40, choices=Kind.choices)
    title = models.CharField(max_length=200)
    body = models.CharField(max_length=500, blank=True)
    url = models.CharField(max_length=300, blank=True, help_text="The page of the record it is about.")
    relationship_id = models.BigIntegerField(null=True, blank=True)
    # A reminder's cause, e.g. "measurement_due:project:12": open reminders are unique per
    # recipient and key, so two sweeps (or two workers) write each reminder once.
    reminder_key = models.CharField(max_length=120, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    read_at = models.DateTimeField(null=True, blank=True)
    # A reminder whose cause went away (the measurement arrived) closes itself.
    resolved_at = models.DateTimeField(null=True, blank=True)
    in_app = models.BooleanField(default=True)
    # Whether it is still owed to the recipient's e-mail digest.
    email_pending = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "reminder_key"],
                condition=Q(reminder_key__isnull=False, resolved_at__isnull=True),
                name="notification_open_reminder_once",
            ),
        ]
        indexes = [
            models.Index(
                fields=["recipient", "created_at"],
                condition=Q(read_at__isnull=True, resolved_at__isnull=True, in_app=True),
                name="notification_unread",
            ),
            models.Index(
                fields=["recipient"], condition=Q(email_pending=True), name="notification_email_due"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.recipient}: {self.title}"


class Preference(models.Model):
    """A person's choices: which kinds, where (in the app, in a daily e-mail), and when."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference"
    )
    # Kinds not shown in the app / not sent by e-mail (everything is on by default).
    muted_in_app = models.JSONField(default=list, blank=True)
    muted_email = models.JSONField(default=list, blank=True)
    email_digest = models.BooleanField(default=True, help_text="A daily e-mail of what is new.")
    digest_hour = models.PositiveSmallIntegerField(default=8, help_text="Hour of the day (0–23), your time.")
    time_zone = models.CharField(max_length=60, default="UTC")
    last_digest_on = models.DateField(
        null=True, blank=True, help_text="Your local date of the last digest sent."
    )

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(digest_hour__lte=23), name="notification_digest_hour_range"),
        ]

    def __str__(self) -> str:
        return f"preferences of {self.user}"

    def wants_in_app(self, kind: str) -> bool:
        return kind not in self.muted_in_app

    def wants_email(self, kind: str) -> bool:
        return self.email_digest and kind not in self.muted_email
