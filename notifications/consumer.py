"""The outbox consumer of notifications: a change to a relationship's projects, measurements,
scores or leadership may resolve a reminder (or make one due) — checked for just those
relationships at once, instead of waiting for the next daily sweep."""

from notifications import reminders
from notifications.models import Notification
from outbox.models import Event

# Events that can change a reminder's cause.
RELEVANT = ("project.", "measurement.", "project_kpi.", "score.changed", "relationship.")


def on_events(events: list[Event]) -> None:
    relationship_ids = {
        event.relationship_id for event in events if event.relationship_id and event.type.startswith(RELEVANT)
    }
    if not relationship_ids:
        return
    open_ones = Notification.objects.filter(
        relationship_id__in=relationship_ids, reminder_key__isnull=False, resolved_at__isnull=True
    )
    if open_ones.exists():  # one cheap query for the usual case: nothing to close
        reminders.sweep(relationship_ids=relationship_ids, resolve_only=True)
