"""The set-based bulk write path (projects.bulk) for measurements and project KPIs: outcomes per
record, all or nothing, dry runs, skipping invalid records, replays, scoping, audit and events."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied

from kpis.models import Measurement, PendingScorePeriod, PendingScoreRecompute, ProjectKPI
from outbox.models import Event
from projects import bulk
from projects.models import AuditEntry
from tests.factories import KPIFactory, ProjectFactory, ProjectKPIFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def tracked(portfolio):
    kpi = KPIFactory(code="fill_rate", external_id="kpi-fill", unit="percent")
    rows = {"kpi": kpi, **portfolio}
    for key in ("a", "b"):
        project = ProjectFactory(relationship=portfolio[f"rel_{key}"], external_id=f"p-{key}")
        rows[f"project_kpi_{key}"] = ProjectKPIFactory(
            project=project, kpi=kpi, baseline_date=dt.date(2024, 1, 1), external_id=f"pk-{key}"
        )
    return rows


def measurements(count, *, parent="pk-a", value="70"):
    return [
        {
            "external_id": f"m-{index}",
            "project_kpi": parent,
            "measured_on": (dt.date(2024, 1, 1) + dt.timedelta(days=index)).isoformat(),
            "value": value,
        }
        for index in range(count)
    ]


def counts():
    return (Measurement.objects.count(), AuditEntry.objects.count(), Event.objects.count())


def test_creates_then_replays_without_any_change(admin_user, tracked):
    outcome = bulk.upsert(actor=admin_user, record_type="measurement", records=measurements(5))
    assert not outcome.problems and outcome.counts == {"created": 5, "updated": 0, "unchanged": 0}
    assert [r["index"] for r in outcome.results] == list(range(5))
    created = Measurement.objects.get(external_id="m-3")
    assert (created.value, created.measured_on, created.unit, created.version) == (
        Decimal("70.0000"),
        dt.date(2024, 1, 4),
        "percent",
        1,
    )
    assert outcome.results[3] == {
        "index": 3,
        "external_id": "m-3",
        "id": created.pk,
        "version": 1,
        "status": "created",
    }
    assert AuditEntry.objects.filter(object_id=created.pk, action="create").count() == 1
    assert Event.objects.filter(type="measurement.created", record_id=created.pk).count() == 1
    before = counts()
    replay = bulk.upsert(actor=admin_user, record_type="measurement", records=measurements(5))
    assert replay.counts == {"created": 0, "updated": 0, "unchanged": 5}
    assert [r["id"] for r in replay.results] == [r["id"] for r in outcome.results]
    assert counts() == before
    assert set(
        Measurement.objects.filter(external_id__startswith="m-").values_list("version", flat=True)
    ) == {1}


def test_an_update_bumps_the_version_audits_and_announces_the_changed_fields(admin_user, tracked):
    bulk.upsert(actor=admin_user, record_type="measurement", records=measurements(2))
    outcome = bulk.upsert(actor=admin_user, record_type="measurement", records=measurements(2, value="75.5"))
    assert outcome.counts == {"created": 0, "updated": 2, "unchanged": 0}
    row = Measurement.objects.get(external_id="m-1")
    assert (row.value, row.version) == (Decimal("75.5000"), 2)
    entry = AuditEntry.objects.filter(object_id=row.pk, action="update").get()
    assert entry.changes == {"value": {"before": "70.0000", "after": "75.5000"}} and entry.version == 2
    event = Event.objects.get(type="measurement.updated", record_id=row.pk)
    assert event.data == {"changed": ["value"]} and event.version == 2
    assert event.relationship_id == tracked["rel_a"].pk


def test_a_write_marks_the_relationships_score_stale_once(admin_user, tracked):
    PendingScoreRecompute.objects.all().delete()
    PendingScorePeriod.objects.all().delete()
    bulk.upsert(actor=admin_user, record_type="measurement", records=measurements(3))
    assert list(PendingScoreRecompute.objects.values_list("relationship_id", flat=True)) == [
        tracked["rel_a"].pk
    ]
    assert PendingScorePeriod.objects.filter(relationship=tracked["rel_a"]).exists()


def test_one_bad_record_writes_nothing_and_names_each_problem(admin_user, tracked):
    records = measurements(4)
    records[1]["value"] = "12,5 %"
    records[2]["measured_on"] = "2023-06-01"  # before the baseline
    records[3]["project_kpi"] = "no-such-kpi"
    before = counts()
    outcome = bulk.upsert(actor=admin_user, record_type="measurement", records=records)
    assert outcome.problems == {
        1: {"value": ["A valid number is required."]},
        2: {"measured_on": ["A measurement cannot predate the baseline (2024-01-01)."]},
        3: {"project_kpi": ["No such record (id or external_id 'no-such-kpi') that you may use."]},
    }
    assert outcome.results == [] and not outcome.conflicts and counts() == before


def test_a_dry_run_reports_the_outcome_and_writes_nothing(admin_user, tracked):
    bulk.upsert(actor=admin_user, record_type="measurement", records=measurements(2))
    before = counts()
    records = [*measurements(2, value="80"), *measurements(4)[2:]]
    outcome = bulk.upsert(actor=admin_user, record_type="measurement", records=records, dry_run=True)
    assert [r["status"] for r in outcome.results] == ["updated", "updated", "created", "created"]
    assert [r["id"] is None for r in outcome.results] == [False, False, True, True]
    assert counts() == before and not outcome.written
    assert set(Measurement.objects.filter(external_id__startswith="m-").values_list("value", flat=True)) == {
        Decimal("70")
    }


def test_skip_invalid_writes_the_valid_records_and_lists_the_rest(admin_user, tracked):
    records = measurements(3)
    records[1]["value"] = "101"  # a percent KPI
    outcome = bulk.upsert(actor=admin_user, record_type="measurement", records=records, skip_invalid=True)
    assert outcome.problems == {1: {"non_field_errors": ["Percent values must be between 0 and 100."]}}
    assert [r["index"] for r in outcome.results] == [0, 2]
    assert set(
        Measurement.objects.filter(external_id__startswith="m-").values_list("external_id", flat=True)
    ) == {
        "m-0",
        "m-2",
    }


def test_another_tenants_parent_is_absent_to_an_account_manager(account_manager, tracked):
    outcome = bulk.upsert(
        actor=account_manager, record_type="measurement", records=measurements(1, parent="pk-b")
    )
    assert outcome.problems == {
        0: {"project_kpi": ["No such record (id or external_id 'pk-b') that you may use."]}
    }
    by_id = measurements(1, parent=tracked["project_kpi_b"].pk)
    assert (
        "No such record"
        in bulk.upsert(actor=account_manager, record_type="measurement", records=by_id).problems[0][
            "project_kpi"
        ][0]
    )
    assert (
        bulk.upsert(actor=account_manager, record_type="measurement", records=measurements(2)).counts[
            "created"
        ]
        == 2
    )


def test_a_reader_may_not_write_even_what_they_see(executive, tracked):
    with pytest.raises(PermissionDenied):
        bulk.upsert(actor=executive, record_type="measurement", records=measurements(1))
    assert not Measurement.objects.filter(external_id="m-0").exists()


def test_a_second_measurement_on_the_same_date_is_a_conflict(admin_user, tracked):
    records = measurements(2)
    records[1]["measured_on"] = records[0]["measured_on"]
    outcome = bulk.upsert(actor=admin_user, record_type="measurement", records=records)
    assert set(outcome.problems) == {1} and outcome.conflicts == {1}
    bulk.upsert(actor=admin_user, record_type="measurement", records=records[:1])
    again = [{**records[0], "external_id": "other"}]
    outcome = bulk.upsert(actor=admin_user, record_type="measurement", records=again)
    assert outcome.conflicts == {0}
    assert "already has a measurement on this date" in str(outcome.problems[0])


def test_project_kpis_are_added_and_checked_like_single_writes(admin_user, tracked):
    other = KPIFactory(code="turnaround", external_id="kpi-turn", unit="hours")
    records = [
        {
            "external_id": "pk-new",
            "project": "p-a",
            "kpi": "kpi-turn",
            "baseline_value": "21",
            "baseline_date": "2024-01-01",
        },
        {
            "external_id": "pk-dup",
            "project": "p-a",
            "kpi": "kpi-fill",
            "baseline_value": "60",
            "baseline_date": "2024-01-01",
        },
        {"external_id": "pk-a", "target_value": "60"},
        {"external_id": "pk-b", "project": "p-a"},
    ]
    outcome = bulk.upsert(actor=admin_user, record_type="project_kpi", records=records)
    assert outcome.problems == {
        1: {"non_field_errors": ["This KPI is already tracked on this project."]},
        2: {
            "target_value": [
                "The target equals the baseline, so no target achievement could ever be computed; "
                "give a different target or leave it empty."
            ]
        },
        3: {"project": ["A tracked KPI cannot move; remove it and add a new one."]},
    }
    assert outcome.conflicts == {1}
    outcome = bulk.upsert(
        actor=admin_user,
        record_type="project_kpi",
        records=[*records[:1], {"external_id": "pk-a", "target_value": "90"}],
    )
    assert outcome.counts == {"created": 1, "updated": 1, "unchanged": 0}
    added = ProjectKPI.objects.get(external_id="pk-new")
    assert (added.kpi, added.unit, added.baseline_value) == (other, "hours", Decimal("21.0000"))
    assert ProjectKPI.objects.get(external_id="pk-a").target_value == Decimal("90")


def test_catalogue_kpis_go_through_their_services_with_the_same_outcomes(admin_user, tracked):
    records = [
        {
            "external_id": "kpi-turn",
            "code": "turnaround",
            "name": "Turnaround",
            "unit": "hours",
            "direction": "lower_is_better",
        },
        {"external_id": "kpi-fill", "unit": "hours"},  # tracked on projects: its unit is fixed
    ]
    outcome = bulk.upsert(actor=admin_user, record_type="kpi", records=records)
    assert outcome.problems == {1: {"unit": ["This KPI is tracked on projects; its unit cannot change."]}}
    outcome = bulk.upsert(actor=admin_user, record_type="kpi", records=records[:1])
    assert outcome.counts == {"created": 1, "updated": 0, "unchanged": 0}
    replay = bulk.upsert(actor=admin_user, record_type="kpi", records=records[:1])
    assert replay.counts == {"created": 0, "updated": 0, "unchanged": 1}
