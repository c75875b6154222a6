"""Recomputes after commit: eager in-process by default, deduplicated, safe without a broker."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from kpis import scoring, services, tasks
from kpis.models import PendingScoreRecompute, RelationshipScore
from tests.factories import (
    KPIFactory,
    ProjectFactory,
    ProjectKPIFactory,
    RelationshipFactory,
)


def this_month() -> dt.date:
    return timezone.localdate().replace(day=1)


def current_score(relationship) -> RelationshipScore | None:
    return RelationshipScore.objects.filter(relationship=relationship, period=this_month()).first()


def delivered_kpi(relationship=None, *, baseline="60"):
    """A project delivered ten days ago on `relationship`, tracking a higher-is-better percent KPI."""
    today = timezone.localdate()
    project = ProjectFactory(
        relationship=relationship or RelationshipFactory(),
        stage="delivered",
        level="process",
        started_on=today - dt.timedelta(days=100),
        delivered_on=today - dt.timedelta(days=10),
    )
    return ProjectKPIFactory(
        project=project, kpi=KPIFactory(), baseline_value=Decimal(baseline), baseline_date=project.started_on
    )


def months_counting(project_kpi) -> int:
    """How many months' scores count the project's delivery, up to this one."""
    return len(scoring.periods_counting(project_kpi.project.delivered_on, through=timezone.localdate()))


def record(project_kpi, value, days_ago=0):
    return services.measurement_record(
        actor=None,
        fields=services.MeasurementFields(
            project_kpi=project_kpi,
            measured_on=timezone.localdate() - dt.timedelta(days=days_ago),
            value=Decimal(value),
        ),
    )


# --- Embedded default: eager, in-process, right after the commit ------------------------------


@pytest.mark.django_db(transaction=True)
def test_score_is_current_right_after_a_save_without_a_broker():
    project_kpi = delivered_kpi()
    relationship = project_kpi.project.relationship
    record(project_kpi, "85")
    score = current_score(relationship)
    # +41.67 % → impact 0.833333; one quarter of four → continuity 0.25.
    assert (score.impact, score.continuity, score.score) == (
        Decimal("0.833333"),
        Decimal("0.25"),
        Decimal("63.9"),
    )
    assert not PendingScoreRecompute.objects.exists()
    record(project_kpi, "66", days_ago=1)  # an older measurement: the latest is still 85
    assert current_score(relationship).score == Decimal("63.9")
    services.measurement_update(
        actor=None,
        measurement=project_kpi.measurements.latest("measured_on"),
        changes=services.MeasurementFields(value=Decimal("75")),
    )
    assert current_score(relationship).impact == Decimal("0.5")


@pytest.mark.django_db
def test_one_transaction_asks_once_for_all_relationships_it_touched(django_capture_on_commit_callbacks):
    first, second = delivered_kpi(), delivered_kpi()
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        for days_ago, value in enumerate(("70", "75", "80")):
            record(first, value, days_ago=days_ago)
        record(second, "90")
    # Every request registers a callback, but one flush covers the whole transaction.
    pending = {id(callback.pending) for callback in callbacks}
    assert len(pending) == 1
    assert callbacks[0].pending.relationship_ids >= {
        first.project.relationship_id,
        second.project.relationship_id,
    }
    assert current_score(first.project.relationship) is not None
    assert current_score(second.project.relationship) is not None


@pytest.mark.django_db(transaction=True)
def test_rolled_back_change_recomputes_nothing_and_leaves_no_mark():
    relationship = RelationshipFactory()
    PendingScoreRecompute.objects.all().delete()
    with pytest.raises(RuntimeError), transaction.atomic():
        delivered_kpi(relationship)
        raise RuntimeError("abandon the change")
    assert not RelationshipScore.objects.exists()
    assert not PendingScoreRecompute.objects.exists()


# --- Tasks ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_tasks_return_quietly_for_relationships_that_are_gone():
    assert tasks.recompute_relationship_scores.apply(args=([123456],)).get() == 0


@pytest.mark.django_db
def test_nightly_rollup_snapshots_every_relationship_and_is_idempotent():
    relationships = [RelationshipFactory() for _ in range(3)]
    tasks.rollup_current_month.apply().get()  # eager here: its batches have run when it returns
    computed_at = dict(RelationshipScore.objects.values_list("relationship_id", "computed_at"))
    assert set(computed_at) == {r.pk for r in relationships}
    tasks.rollup_current_month.apply().get()
    assert dict(RelationshipScore.objects.values_list("relationship_id", "computed_at")) == computed_at


@pytest.mark.django_db
def test_catch_up_waits_for_the_grace_period_then_recomputes_stale_relationships():
    project_kpi = delivered_kpi()
    record(project_kpi, "85")
    assert tasks.catch_up_stale_scores.apply().get() == 0  # marked just now: its own task may still run
    # The current month, and the month of the delivery when that was last month (its window holds
    # the delivery too).
    assert tasks.catch_up_stale_scores.apply(kwargs={"older_than_seconds": 0}).get() == months_counting(
        project_kpi
    )
    assert current_score(project_kpi.project.relationship).score == Decimal("63.9")
    assert not PendingScoreRecompute.objects.exists()


# --- With a real broker (Redis) --------------------------------------------------------------


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_rolled_back_change_publishes_nothing(real_broker, publishes):
    relationship = RelationshipFactory()
    with pytest.raises(RuntimeError), transaction.atomic():
        delivered_kpi(relationship)
        raise RuntimeError("abandon the change")
    assert publishes == []
    delivered_kpi(relationship)
    assert publishes == [[relationship.pk]]


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_burst_of_saves_publishes_one_recompute(real_broker, publishes):
    project_kpi = delivered_kpi()  # a project and its KPI: two transactions
    for days_ago in range(30):  # thirty more
        record(project_kpi, str(70 + days_ago % 10), days_ago=days_ago)
    # The first queued a recompute (due in RECOMPUTE_DELAY_SECONDS); the others rode along with it.
    assert publishes == [[project_kpi.project.relationship_id]]


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_save_succeeds_with_the_broker_down_and_the_catch_up_fixes_the_score(real_broker, unreachable_broker):
    project_kpi = delivered_kpi()
    relationship = project_kpi.project.relationship
    measurement = record(project_kpi, "85")  # commits; publishing fails quietly
    assert measurement.pk and measurement.value == Decimal("85")
    assert current_score(relationship) is None
    assert PendingScoreRecompute.objects.filter(relationship=relationship).exists()

    written = tasks.catch_up_stale_scores.apply(kwargs={"older_than_seconds": 0}).get()
    assert written == months_counting(project_kpi)
    assert current_score(relationship).score == Decimal("63.9")
    assert not PendingScoreRecompute.objects.exists()
