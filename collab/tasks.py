"""Periodic work of collaboration: contests left unresolved go to the executives."""

import datetime as dt

from celery import shared_task
from django.utils import timezone

from collab.services import contests_escalate_overdue
from kpis.tasks import RETRY


@shared_task(name="collab.tasks.escalate_overdue_contests", **RETRY)
def escalate_overdue_contests(now: str | None = None) -> int:
    """Escalate the contests unresolved for 10 business days (once each; safe to run twice).

    `now` (ISO 8601) sets the clock the contests are measured against: a run can be replayed for a
    given moment, and tests compress ten business days into a call."""
    moment = dt.datetime.fromisoformat(now) if now else None
    if moment is not None and timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return contests_escalate_overdue(now=moment)
