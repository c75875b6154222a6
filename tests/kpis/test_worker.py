"""A real Celery worker on the real Redis recomputes a score after a change is saved."""

import time
from decimal import Decimal

import pytest
from celery.contrib.testing.worker import start_worker
from django.utils import timezone

from bpo_portfolio.celery import app as celery_app
from kpis import services
from kpis.models import PendingScoreRecompute, RelationshipScore
from tests.kpis.test_tasks import delivered_kpi, record

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


def wait_for(condition, *, timeout: float = 30.0, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"Timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture
def worker(real_broker, settings):
    settings.BPO_SCORE_ROLLUP = {**settings.BPO_SCORE_ROLLUP, "RECOMPUTE_DELAY_SECONDS": 0.2}
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        yield


def score_row(relationship_id):
    period = timezone.localdate().replace(day=1)
    return RelationshipScore.objects.filter(relationship_id=relationship_id, period=period).first()


def test_worker_recomputes_the_score_after_a_measurement_is_saved(worker):
    project_kpi = delivered_kpi()
    relationship_id = project_kpi.project.relationship_id
    # The project and KPI saves already queued a recompute: the worker writes the first row.
    first = wait_for(lambda: score_row(relationship_id), what="the first score row")
    assert (first.impact, first.score, first.basis) == (None, Decimal("25.0"), ["continuity"])

    record(project_kpi, "85")  # fill rate 60 → 85: +41.67 % → impact 0.833333
    row = wait_for(
        lambda: (row := score_row(relationship_id)) and row.impact is not None and row,
        what="the score to include the measurement",
    )
    assert (row.impact, row.continuity, row.score, row.tier) == (
        Decimal("0.833333"),
        Decimal("0.25"),
        Decimal("63.9"),
        "steady",
    )
    assert row.kpis_measured == 1
    wait_for(lambda: not PendingScoreRecompute.objects.exists(), what="the stale mark to clear")


def test_worker_follows_a_burst_of_edits_to_the_last_value(worker):
    project_kpi = delivered_kpi()
    relationship_id = project_kpi.project.relationship_id
    measurement = record(project_kpi, "61")
    for value in range(62, 86):
        measurement = services.measurement_update(
            actor=None, measurement=measurement, changes=services.MeasurementFields(value=Decimal(value))
        )
    row = wait_for(
        lambda: (row := score_row(relationship_id)) and row.impact == Decimal("0.833333") and row,
        what="the score to reflect the last of 25 edits",
    )
    assert row.components["impact"]["projects"][0]["kpis"][0]["latest"] == "85.0000"
    wait_for(lambda: not PendingScoreRecompute.objects.exists(), what="the stale mark to clear")


def test_worker_returns_quietly_for_a_relationship_that_is_gone(worker):
    from kpis.tasks import recompute_relationship_scores

    recompute_relationship_scores.delay([987654])
    # Queued behind it, a real change is still processed, and nothing is written for the id.
    project_kpi = delivered_kpi()
    record(project_kpi, "85")
    wait_for(
        lambda: (row := score_row(project_kpi.project.relationship_id)) and row.impact is not None,
        what="a score after the gone relationship",
    )
    assert not RelationshipScore.objects.filter(relationship_id=987654).exists()
