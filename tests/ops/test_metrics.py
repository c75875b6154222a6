"""What bpo_portfolio.metrics adds to django-prometheus: roll-ups, Celery tasks, the stale backlog."""

import datetime as dt

import pytest
from celery import signals
from prometheus_client import REGISTRY

from kpis.models import PendingScoreRecompute
from kpis.rollup import rollup_scores
from tests.factories import MeasurementFactory

pytestmark = pytest.mark.django_db


def _value(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_rollup_counts_its_duration_relationships_and_rows():
    MeasurementFactory()
    runs, rows = _value("portfolio_rollup_seconds_count"), _value("portfolio_rollup_rows_written_total")
    relationships = _value("portfolio_rollup_relationships_total")
    written = rollup_scores(period=dt.date.today())
    assert written >= 1
    assert _value("portfolio_rollup_seconds_count") == runs + 1
    assert _value("portfolio_rollup_rows_written_total") == rows + written
    assert _value("portfolio_rollup_relationships_total") == relationships + 1


def test_celery_tasks_are_counted_by_outcome_with_their_duration():
    class _Task:
        name = "kpis.tasks.recompute_relationship_scores"

    before = _value("portfolio_celery_tasks_total", task=_Task.name, outcome="failure")
    timed = _value("portfolio_celery_task_seconds_count", task=_Task.name)
    signals.task_prerun.send(sender=_Task, task_id="t-1", task=_Task())
    signals.task_postrun.send(sender=_Task, task_id="t-1", task=_Task(), state="FAILURE")
    assert _value("portfolio_celery_tasks_total", task=_Task.name, outcome="failure") == before + 1
    assert _value("portfolio_celery_task_seconds_count", task=_Task.name) == timed + 1


def test_the_stale_backlog_is_read_at_scrape_time(client):
    MeasurementFactory()  # recording a measurement marks its relationship stale
    waiting = PendingScoreRecompute.objects.count()
    assert waiting >= 1
    body = client.get("/metrics").content.decode()
    assert f"portfolio_stale_relationships {float(waiting)}" in body
    assert "django_http_requests_total_by_view_transport_method_total" in body
