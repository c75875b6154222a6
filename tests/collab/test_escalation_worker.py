"""The periodic escalation runs on a real Celery worker over Redis, with a compressed clock: the
task is handed the moment ten business days after the contest was raised."""

import datetime as dt
import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.utils import timezone

from bpo_portfolio.celery import app as celery_app
from collab.models import Contest
from collab.services import ContestFields, contest_raise
from collab.tasks import escalate_overdue_contests

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


def test_a_worker_escalates_an_overdue_contest_once(transactional_db, real_broker, table, delivered):
    raised = contest_raise(
        actor=table["client_contributor"],
        fields=ContestFields(kind="measurement", measurement=delivered["measurement"], reason="Wrong count"),
    )
    today = timezone.localdate()
    monday = today - dt.timedelta(days=today.weekday() + 21)
    raised_at = timezone.make_aware(dt.datetime.combine(monday, dt.time(10, 0)))
    Contest.objects.filter(pk=raised.pk).update(created_at=raised_at)
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        # Nine business days, then ten: the worker takes them in order (one process, one queue).
        escalate_overdue_contests.apply_async(kwargs={"now": (raised_at + dt.timedelta(days=13)).isoformat()})
        escalate_overdue_contests.apply_async(kwargs={"now": (raised_at + dt.timedelta(days=14)).isoformat()})
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and Contest.objects.get(pk=raised.pk).escalated_at is None:
            time.sleep(0.1)
    escalated = Contest.objects.get(pk=raised.pk)
    # Escalated by the second run (the first was a business day early), once.
    assert escalated.escalated_at == raised_at + dt.timedelta(days=14)
    assert escalated.version == 2
    assert escalate_overdue_contests(now=(raised_at + dt.timedelta(days=20)).isoformat()) == 0
