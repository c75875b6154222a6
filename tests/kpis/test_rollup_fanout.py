"""The monthly roll-up fanned out over the workers: batches of relationships in a chord, each batch
idempotent and retry-safe, the result equal to the single-process roll-up."""

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import OperationalError
from django.utils import timezone

from bpo_portfolio.celery import app as celery_app
from kpis import tasks
from kpis.models import RelationshipScore
from kpis.rollup import SCORE_FIELDS, rollup_scores
from tests.factories import RelationshipFactory
from tests.kpis.test_tasks import delivered_kpi, record

FIELDS = ("relationship_id", "period", *SCORE_FIELDS)


def snapshot() -> dict:
    rows = RelationshipScore.objects.filter(period=timezone.localdate().replace(day=1)).values_list(*FIELDS)
    return {row[0]: row for row in rows}


def seven_relationships() -> list[int]:
    """Seven relationships with different scores: six with a measured project, one with nothing."""
    ids = []
    for number in range(6):
        project_kpi = delivered_kpi()
        record(project_kpi, str(61 + 5 * number))
        ids.append(project_kpi.project.relationship_id)
    ids.append(RelationshipFactory().pk)
    return ids


def single_process_reference() -> dict:
    """What one process computes for the month, read back; the month's rows are cleared after."""
    RelationshipScore.objects.all().delete()
    rollup_scores(period=timezone.localdate())
    reference = snapshot()
    RelationshipScore.objects.all().delete()
    return reference


def test_relationship_batches_split_in_id_order_without_gaps_or_repeats():
    assert tasks.relationship_batches([7, 3, 5, 1, 3, 9, 2], 3) == [[1, 2, 3], [5, 7, 9]]
    assert tasks.relationship_batches([4, 1], 5) == [[1, 4]]
    assert tasks.relationship_batches([], 5) == []


@pytest.mark.django_db
def test_fanned_out_rollup_equals_the_single_process_rollup_and_is_idempotent():
    ids = seven_relationships()
    reference = single_process_reference()
    assert len(reference) == 7 and len({row[2] for row in reference.values()}) > 3  # scores differ

    fanned = tasks.rollup_month_fanned_out(period=timezone.localdate(), batch_size=3)
    assert (fanned.relationships, fanned.batches) == (7, 3)
    assert fanned.wait() == 7
    assert snapshot() == reference
    assert sorted(snapshot()) == sorted(ids)

    computed_at = dict(RelationshipScore.objects.values_list("relationship_id", "computed_at"))
    again = tasks.rollup_month_fanned_out(period=timezone.localdate(), batch_size=3)
    assert again.wait() == 0  # nothing changed, nothing rewritten
    assert dict(RelationshipScore.objects.values_list("relationship_id", "computed_at")) == computed_at


@pytest.mark.django_db
def test_fanned_out_rollup_of_no_relationships_queues_nothing():
    fanned = tasks.rollup_month_fanned_out(period=timezone.localdate())
    assert (fanned.relationships, fanned.batches, fanned.result, fanned.wait()) == (0, 0, None, 0)


@pytest.mark.django_db
def test_a_batch_run_twice_writes_once():
    ids = seven_relationships()
    RelationshipScore.objects.all().delete()
    month = timezone.localdate().replace(day=1).isoformat()
    assert tasks.rollup_score_batch.apply(args=(month, ids[:4])).get() == 4
    assert tasks.rollup_score_batch.apply(args=(month, ids[:4])).get() == 0
    assert sorted(snapshot()) == sorted(ids[:4])


@pytest.mark.django_db
def test_nightly_rollup_fans_out_over_every_live_relationship(settings):
    settings.BPO_SCORE_ROLLUP = {**settings.BPO_SCORE_ROLLUP, "FANOUT_BATCH_SIZE": 2}
    ids = seven_relationships()
    assert tasks.rollup_current_month.apply().get() >= 4  # batches queued (one more month on the 1st)
    assert sorted(snapshot()) == sorted(ids)


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_batches_retries_a_transient_failure_and_the_chord_adds_them_up(
    real_broker, monkeypatch
):
    ids = seven_relationships()
    reference = single_process_reference()
    failures = []

    def flaky_rollup(**kwargs):  # the first batch loses its database connection once
        if not failures:
            failures.append(kwargs["relationship_ids"])
            raise OperationalError("server closed the connection unexpectedly")
        return rollup_scores(**kwargs)

    monkeypatch.setattr(tasks, "rollup_scores", flaky_rollup)
    celery_app.control.purge()  # the recomputes the saves above queued: only the batches are to run
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        fanned = tasks.rollup_month_fanned_out(period=timezone.localdate(), batch_size=2)
        assert fanned.batches == 4
        assert fanned.wait(timeout=60) == 7
    assert len(failures) == 1
    assert snapshot() == reference
    assert sorted(snapshot()) == sorted(ids)


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_without_a_result_backend_the_batches_are_still_queued(real_broker, monkeypatch):
    """A broker without a result backend cannot count a chord: the batches go out as a plain group."""
    from celery.signals import after_task_publish

    seven_relationships()
    celery_app.control.purge()
    published = []

    def record(sender=None, **kwargs):
        published.append(sender)

    after_task_publish.connect(record, weak=False)
    monkeypatch.setattr(celery_app.conf, "result_backend", None)
    try:
        fanned = tasks.rollup_month_fanned_out(period=timezone.localdate(), batch_size=3)
    finally:
        after_task_publish.disconnect(record)
    assert (fanned.batches, fanned.result, fanned.wait()) == (3, None, 0)
    assert published == ["kpis.tasks.rollup_score_batch"] * 3
