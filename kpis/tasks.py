"""Score recompute scheduling and Celery tasks."""

from django.utils import timezone

from kpis.models import PendingScoreRecompute


def request_score_recompute(relationship_id: int) -> None:
    """Mark a relationship's current score stale, inside the caller's transaction.

    The mark commits (or rolls back) with the change that caused it, so a recompute that never runs
    — broker down, worker killed — is still known and caught up by the periodic job.
    """
    PendingScoreRecompute.objects.update_or_create(
        relationship_id=relationship_id, defaults={"requested_at": timezone.now()}
    )
