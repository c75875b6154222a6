"""A score history that stays true: a change recomputes exactly the months whose window holds it,
and a roll-up whose inputs did not change (same fingerprint) computes and writes nothing."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kpis import rollup, scoring, services
from kpis.models import PendingScorePeriod, RelationshipScore
from projects.services import (
    ProjectFields,
    RelationshipFields,
    project_delete,
    project_update,
    relationship_update,
)
from tests.factories import (
    KPIFactory,
    MeasurementFactory,
    ProjectFactory,
    ProjectKPIFactory,
    RelationshipFactory,
)

pytestmark = pytest.mark.django_db

HISTORY_MONTHS = 30


def month(offset: int) -> dt.date:
    """The first day of the month `offset` months from the current one (−1: last month)."""
    return scoring.add_months(timezone.localdate(), offset)


def months(first: int, last: int) -> set[dt.date]:
    return {month(offset) for offset in range(first, last + 1)}


def history(relationship) -> dict[dt.date, tuple]:
    """Every stored month of the relationship: (score, components, computed_at, reason)."""
    return {
        row.period: (row.score, row.components, row.computed_at, row.reason)
        for row in RelationshipScore.objects.filter(relationship=relationship)
    }


def changed_months(before: dict, after: dict) -> set[dt.date]:
    assert set(before) == set(after), "the same months are stored before and after"
    return {period for period in after if after[period] != before[period]}


@pytest.fixture
def delivered_project(django_capture_on_commit_callbacks):
    """A relationship with one process project delivered 14 months ago (it counts in months −14 to
    −3), tracking a fill rate 60 → 70 measured at delivery, and 30 months of stored history."""
    relationship = RelationshipFactory(contract_start=dt.date(2020, 1, 1))
    delivered_on = month(-14) + dt.timedelta(days=9)
    with django_capture_on_commit_callbacks(execute=True):
        project = ProjectFactory(
            relationship=relationship,
            stage="delivered",
            level="process",
            started_on=delivered_on - dt.timedelta(days=120),
            delivered_on=delivered_on,
        )
        project_kpi = ProjectKPIFactory(
            project=project,
            kpi=KPIFactory(direction="higher_is_better", unit="percent"),
            baseline_value=Decimal("60"),
            baseline_date=delivered_on - dt.timedelta(days=200),
        )
        MeasurementFactory(project_kpi=project_kpi, measured_on=delivered_on, value=Decimal("70"))
    rollup.rollup_history(months=HISTORY_MONTHS)
    return {"relationship": relationship, "project": project, "project_kpi": project_kpi}


def test_periods_counting_a_delivery_are_the_twelve_months_from_it_up_to_today():
    delivered_on = dt.date(2025, 3, 20)
    assert scoring.periods_counting(delivered_on, through=dt.date(2026, 12, 6)) == [
        scoring.add_months(dt.date(2025, 3, 1), offset) for offset in range(12)
    ]
    assert scoring.periods_counting(
        delivered_on, since=dt.date(2025, 11, 30), through=dt.date(2026, 1, 2)
    ) == [
        dt.date(2025, 11, 1),
        dt.date(2025, 12, 1),
        dt.date(2026, 1, 1),
    ]
    assert (
        scoring.periods_counting(delivered_on, since=dt.date(2026, 3, 1), through=dt.date(2026, 12, 6)) == []
    )
    assert scoring.periods_counting(None, through=dt.date(2026, 12, 6)) == []


def test_back_dated_measurement_changes_exactly_the_months_whose_window_holds_it(
    delivered_project, django_capture_on_commit_callbacks
):
    relationship = delivered_project["relationship"]
    before = history(relationship)
    assert len(before) == HISTORY_MONTHS
    with django_capture_on_commit_callbacks(execute=True):
        measurement = services.measurement_record(
            actor=None,
            fields=services.MeasurementFields(
                project_kpi=delivered_project["project_kpi"],
                measured_on=month(-10) + dt.timedelta(days=4),
                value=Decimal("90"),
            ),
        )
    after = history(relationship)
    # From the measurement's month until the project leaves the window (month −3); not the months
    # before it was measured, nor those after the project's window, nor the current one.
    assert changed_months(before, after) == months(-10, -3)
    for period in months(-10, -3):
        assert after[period][3] == f"measurement {measurement.pk} recorded"
        assert after[period][0] > before[period][0]
    assert not PendingScorePeriod.objects.exists()


def test_corrected_delivery_date_changes_the_months_of_both_dates_and_no_others(
    delivered_project, django_capture_on_commit_callbacks
):
    relationship, project = delivered_project["relationship"], delivered_project["project"]
    before = history(relationship)
    with django_capture_on_commit_callbacks(execute=True):
        project_update(
            actor=None,
            project=project,
            changes=ProjectFields(
                proposed_on=month(-23), started_on=month(-22), delivered_on=month(-20) + dt.timedelta(days=2)
            ),
        )
    after = history(relationship)
    # The old date counted in months −14 … −3, the new one in −20 … −9.
    assert changed_months(before, after) == months(-20, -3)
    assert {after[period][3] for period in months(-20, -3)} == {f"project {project.pk} changed"}


def test_deleted_project_changes_the_months_that_counted_it(
    delivered_project, django_capture_on_commit_callbacks
):
    relationship, project = delivered_project["relationship"], delivered_project["project"]
    before = history(relationship)
    with django_capture_on_commit_callbacks(execute=True):
        project_delete(actor=None, project=project)
    after = history(relationship)
    assert changed_months(before, after) == months(-14, -3)
    assert all(after[period][0] == 0 for period in months(-14, -3))
    assert {after[period][3] for period in months(-14, -3)} == {f"project {project.pk} deleted"}


def test_change_to_a_project_outside_every_window_recomputes_only_the_current_month(
    delivered_project, django_capture_on_commit_callbacks
):
    relationship = delivered_project["relationship"]
    with django_capture_on_commit_callbacks(execute=True):
        ProjectFactory(relationship=relationship, stage="idea")
    assert set(PendingScorePeriod.objects.values_list("period", flat=True)) == set()
    before = history(relationship)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        ProjectFactory(relationship=relationship, stage="idea")
    assert list(PendingScorePeriod.objects.values_list("period", flat=True)) == [month(0)]
    for callback in callbacks:
        callback()
    assert history(relationship) == before  # nothing it counts changed


# --- Fingerprints --------------------------------------------------------------------------------


def test_unchanged_inputs_are_skipped_without_reading_them(delivered_project):
    period = month(-5)
    with CaptureQueriesContext(connection) as queries:
        assert rollup.rollup_scores(period=period) == 0
    statements = " ".join(query["sql"] for query in queries.captured_queries)
    if connection.vendor == "postgresql":
        # The fingerprint check found nothing to do: the inputs were never read.
        assert "kpis_measurement" in statements  # the check itself
        assert '"projects_innovationproject"."title"' not in statements
    # A forced roll-up computes every row again and finds the same figures: nothing is written.
    row = RelationshipScore.objects.get(relationship=delivered_project["relationship"], period=period)
    assert rollup.rollup_scores(period=period, force=True) == 0
    assert RelationshipScore.objects.get(pk=row.pk).computed_at == row.computed_at


def test_fingerprint_moves_with_every_input_and_only_with_them(delivered_project):
    relationship, project_kpi = delivered_project["relationship"], delivered_project["project_kpi"]
    period = month(-5)

    def fingerprint():
        return RelationshipScore.objects.get(relationship=relationship, period=period).inputs_fingerprint

    first = fingerprint()
    assert len(first) == 32
    # A measurement before an existing later one is not the latest: the inputs are the same.
    earlier = project_kpi.project.delivered_on - dt.timedelta(days=30)
    MeasurementFactory(project_kpi=project_kpi, measured_on=earlier, value=Decimal("65"))
    assert rollup.rollup_scores(period=period) == 0
    assert fingerprint() == first
    # The latest measurement removed and entered again with the same date and value: another row,
    # the same figures. Nothing is rewritten, but the fingerprint follows so the next run skips it.
    latest = project_kpi.measurements.get(measured_on=project_kpi.project.delivered_on)
    row = RelationshipScore.objects.get(relationship=relationship, period=period)
    services.measurement_delete(actor=None, measurement=latest)
    MeasurementFactory(project_kpi=project_kpi, measured_on=latest.measured_on, value=latest.value)
    assert rollup.rollup_scores(period=period) == 0
    assert fingerprint() != first
    assert RelationshipScore.objects.get(pk=row.pk).computed_at == row.computed_at
    # A target is an input: the row is rewritten, with the reason the change asked for (its own
    # recompute has not run here; the roll-up that does it takes the request).
    services.project_kpi_update(
        actor=None, project_kpi=project_kpi, changes=services.ProjectKPIFields(target_value=Decimal("80"))
    )
    assert rollup.rollup_scores(period=period, reason="nightly roll-up") == 1
    assert RelationshipScore.objects.get(pk=row.pk).reason == f"project KPI {project_kpi.pk} changed"
    # A change nobody asked a recompute for (written past the services) gets the roll-up's reason.
    type(project_kpi).objects.filter(pk=project_kpi.pk).update(target_value=Decimal("90"), version=99)
    assert rollup.rollup_scores(period=period, reason="nightly roll-up") == 1
    assert RelationshipScore.objects.get(pk=row.pk).reason == "nightly roll-up"


def test_scoring_settings_are_part_of_the_fingerprint(delivered_project, settings):
    settings.BPO_SCORING = {**settings.BPO_SCORING, "IMPACT_FULL_PCT": "40"}
    assert rollup.rollup_scores(period=month(-5)) == 1


def test_database_fingerprints_are_the_ones_python_defines(delivered_project):
    if connection.vendor != "postgresql":
        pytest.skip("the SQL fingerprint is PostgreSQL's; elsewhere the Python one is the only one")
    others = [RelationshipFactory(), RelationshipFactory(contract_start=month(-1))]
    project = ProjectFactory(
        relationship=others[0], stage="delivered", started_on=month(-4), delivered_on=month(-2)
    )
    ProjectKPIFactory(project=project, baseline_date=month(-4))  # never measured
    ids = [delivered_project["relationship"].pk, *(other.pk for other in others)]
    for period in (month(-12), month(-5), month(0)):
        window = scoring.score_window(period)
        inputs = rollup.gather_inputs(window=window, relationship_ids=ids)
        assert rollup.database_fingerprints(window, ids) == rollup.fingerprints_of(inputs)


def test_moved_contract_start_changes_which_months_are_new(django_capture_on_commit_callbacks):
    relationship = RelationshipFactory(contract_start=dt.date(2020, 1, 1))  # nothing delivered
    rollup.rollup_history(months=HISTORY_MONTHS)
    before = history(relationship)
    assert not RelationshipScore.objects.filter(relationship=relationship, is_new=True).exists()
    with django_capture_on_commit_callbacks(execute=True):
        relationship_update(
            actor=None,
            relationship=relationship,
            changes=RelationshipFields(contract_start=month(-4) + dt.timedelta(days=9)),
        )
    after = history(relationship)
    # New — not scored yet: the months ending less than three months after the new start, as far
    # back as the recompute reaches (fifteen months); not the month after, nor the current one.
    assert changed_months(before, after) == months(-16, -2)
    assert set(
        RelationshipScore.objects.filter(relationship=relationship, is_new=True).values_list(
            "period", flat=True
        )
    ) == months(-16, -2)
    assert {after[period][3] for period in months(-16, -2)} == {
        f"relationship {relationship.pk} contract start changed"
    }
