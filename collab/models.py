"""Both sides at the table: comments on projects and monthly scores (shared or internal to one side)."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from projects.access import Side
from projects.models import InnovationProject, Relationship, SyncedModel, live_external_id_unique


class Visibility(models.TextChoices):
    SHARED = "shared", "Shared with both sides"
    INTERNAL = "internal", "Internal to my side"


class Comment(SyncedModel):
    """A remark on a project or on a relationship's monthly score, seen by both sides or by one."""

    # Deleted with its relationship or its project, whichever goes first (projects.records).
    SOFT_DELETED_WITH = ("relationship", "project")

    relationship = models.ForeignKey(Relationship, on_delete=models.PROTECT, related_name="comments")
    project = models.ForeignKey(
        InnovationProject, null=True, blank=True, on_delete=models.PROTECT, related_name="comments"
    )
    period = models.DateField(
        null=True, blank=True, help_text="The month of the score discussed (its first day)."
    )
    # Replies hang off a thread's first comment (one level), which they share target and side with.
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="replies"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The author's side of the relationship when they wrote: an internal comment stays on it.
    author_side = models.CharField(max_length=10, choices=Side.choices)
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.SHARED)
    body = models.TextField(max_length=5000)
    # The people the text mentions (`@username`), each of whom may see the comment.
    mentions = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    edited_at = models.DateTimeField(null=True, blank=True)

    SCOPE_PATH = "relationship"

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["relationship", "project"], name="comment_project_idx"),
            models.Index(fields=["relationship", "period"], name="comment_period_idx"),
        ]
        constraints = [
            live_external_id_unique("comment"),
            models.CheckConstraint(
                condition=Q(project__isnull=False, period__isnull=True)
                | Q(project__isnull=True, period__isnull=False),
                name="comment_one_target",
                violation_error_message="A comment is on a project or on a month's score, not both.",
            ),
            models.CheckConstraint(
                condition=Q(period__isnull=True) | Q(period__day=1), name="comment_period_month_start"
            ),
            models.CheckConstraint(
                condition=Q(visibility__in=Visibility.values), name="comment_visibility_valid"
            ),
            models.CheckConstraint(condition=Q(author_side__in=Side.values), name="comment_side_valid"),
            models.CheckConstraint(condition=~Q(parent=models.F("id")), name="comment_not_its_own_parent"),
        ]

    def __str__(self) -> str:
        # Never the text: audit entries and logs name a comment by this.
        target = f"project #{self.project_id}" if self.project_id else f"score {self.period:%Y-%m}"
        return f"Comment #{self.pk} on {target}"

    @property
    def is_internal(self) -> bool:
        return self.visibility == Visibility.INTERNAL

    def audit_hidden_fields(self) -> set[str]:
        """An internal comment's text and mentions stay out of the audit, which others may read."""
        return {"body", "mentions"} if self.is_internal else set()
