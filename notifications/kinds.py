"""Every kind of notification: the one list preferences, pages and the sweep use."""

from django.db import models


class Kind(models.TextChoices):
    # Reminders from the daily sweep (notifications.reminders); each closes itself when resolved.
    MEASUREMENT_DUE = "measurement_due", "Delivered project without a measurement"
    STUCK_IN_STAGE = "stuck_in_stage", "Project stuck in a stage"
    TIER_DROPPED = "tier_dropped", "Relationship score fell a tier"
    CONTINUITY_AT_RISK = "continuity_at_risk", "No delivery this quarter"
    LEADERSHIP_TERM_ENDING = "leadership_term_ending", "Leadership pair term ending"
    # Sent as things happen.
    WEBHOOK_DISABLED = "webhook_disabled", "Webhook endpoint disabled"
    # For features that call notify() (comments, approvals, contested figures).
    MENTION = "mention", "Mentioned in a comment"
    REPLY = "reply", "Reply to your comment"
    APPROVAL = "approval", "Approval asked or given"
    CONTESTED = "contested", "Figure contested"
    OTHER = "other", "Other"


REMINDER_KINDS = (
    Kind.MEASUREMENT_DUE,
    Kind.STUCK_IN_STAGE,
    Kind.TIER_DROPPED,
    Kind.CONTINUITY_AT_RISK,
    Kind.LEADERSHIP_TERM_ENDING,
)
