"""Monthly score roll-ups against the database: the worked example, the window, idempotence, queries."""

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kpis import rollup, scoring, selectors
from kpis.models import PendingScorePeriod, PendingScoreRecompute, RelationshipScore
from projects.services import project_delete, project_transition, relationship_delete
from tests.factories import (
    KPIFactory,
    MeasurementFactory,
    ProjectFactory,
    ProjectKPIFactory,
    RelationshipFactory,
)

pytestmark = pytest.mark.django_db

NOVEMBER = dt.date(2025, 11, 1)  # window 2024-12-01 … 2025-11-30


def delivered(relationship, on, level="process", **fields):
    return ProjectFactory(
        relationship=relationship,
        stage="delivered",
        level=level,
        started_on=dt.date(2024, 1, 15),
        delivered_on=on,
        **fields,
    )


def track(project, *, baseline, values, direction="higher_is_better", unit="percent", target=None, name=None):
    """A KPI on `project` with measurements {date: value}."""
    kpi = KPIFactory(direction=direction, unit=unit, **({"name": name} if name else {}))
    project_kpi = ProjectKPIFactory(
        project=project,
        kpi=kpi,
        baseline_value=Decimal(baseline),
        baseline_date=dt.date(2024, 1, 1),
        target_value=Decimal(target) if target is not None else None,
    )
    for measured_on, value in values.items():
        MeasurementFactory(project_kpi=project_kpi, measured_on=measured_on, value=Decimal(value))
    return project_kpi


def score_of(relationship, period=NOVEMBER) -> RelationshipScore:
    return RelationshipScore.objects.get(relationship=relationship, period=period)


@pytest.fixture
def worked_example():
    """DESIGN §4: one process project, fill rate 60 → 85 and turnaround 21 h → 17 h, no targets."""
    relationship = RelationshipFactory(name="Worked example")
    project = delivered(relationship, dt.date(2025, 10, 1), title="Vendor management")
    fill = track(
        project,
        baseline="60",
        values={dt.date(2025, 6, 1): "70", dt.date(2025, 10, 1): "85"},
        name="Customer-order fill rate",
    )
    turnaround = track(
        project,
        baseline="21",
        values={dt.date(2025, 10, 1): "17"},
        direction="lower_is_better",
        unit="hours",
        name="Turnaround time",
    )
    return {"relationship": relationship, "project": project, "fill": fill, "turnaround": turnaround}


def test_worked_example_scores_48_8_steady_with_its_explanation(worked_example):
    assert rollup.rollup_scores(period=dt.date(2025, 11, 17)) == 1
    row = score_of(worked_example["relationship"])
    assert (row.score, row.tier) == (Decimal("48.8"), "steady")
    assert (row.impact, row.attainment, row.realisation, row.continuity) == (
        Decimal("0.607143"),
        None,
        None,
        Decimal("0.25"),
    )
    assert row.basis == ["impact", "continuity"]
    assert (row.projects_delivered, row.kpis_measured) == (1, 2)
    project, fill, turnaround = (worked_example[key] for key in ("project", "fill", "turnaround"))
    assert row.components == {
        "weights": {"impact": "0.4", "attainment": "0.2", "realisation": "0.2", "continuity": "0.2"},
        "weights_used": {"impact": "0.666667", "continuity": "0.333333"},
        "window": {"start": "2024-12-01", "end": "2025-11-30"},
        "impact": {
            "value": "0.607143",
            "mean_impact_pct": "30.36",
            "projects": [
                {
                    "id": project.pk,
                    "title": "Vendor management",
                    "level": "process",
                    "level_weight": 2,
                    "delivered_on": "2025-10-01",
                    "impact_pct": "30.36",
                    "kpis": [
                        {
                            "project_kpi_id": fill.pk,
                            "kpi": "Customer-order fill rate",
                            "unit": "percent",
                            "direction": "higher_is_better",
                            "baseline": "60.0000",
                            "latest": "85.0000",
                            "latest_measured_on": "2025-10-01",
                            "improvement_pct": "41.67",
                            "target": None,
                            "target_achievement_pct": None,
                        },
                        {
                            "project_kpi_id": turnaround.pk,
                            "kpi": "Turnaround time",
                            "unit": "hours",
                            "direction": "lower_is_better",
                            "baseline": "21.0000",
                            "latest": "17.0000",
                            "latest_measured_on": "2025-10-01",
                            "improvement_pct": "19.05",
                            "target": None,
                            "target_achievement_pct": None,
                        },
                    ],
                }
            ],
        },
        "attainment": {"value": None, "kpis_with_target": 0},
        "realisation": {
            "value": None,
            "realised_sum": "0.00",
            "expected_sum": "0.00",
            "projects_counted": 0,
            "projects_in_grace": 0,
        },
        "continuity": {
            "value": "0.250000",
            "quarters": [
                {"start": "2024-12-01", "end": "2025-02-28", "delivered": 0},
                {"start": "2025-03-01", "end": "2025-05-31", "delivered": 0},
                {"start": "2025-06-01", "end": "2025-08-31", "delivered": 0},
                {"start": "2025-09-01", "end": "2025-11-30", "delivered": 1},
            ],
        },
    }


def test_components_text_is_what_json_dumps_gives_even_for_awkward_titles(worked_example):
    """The explanation is written as JSON text directly; it must be exactly the compact json.dumps
    text of the same dict (SQLite compares the stored text to decide whether a row changed)."""
    title = 'Quote " backslash \\ tab \t café — 東京 \U0001f600'
    project = worked_example["project"]
    type(project).objects.filter(pk=project.pk).update(title=title)
    window = scoring.score_window(NOVEMBER)
    relationship_id = worked_example["relationship"].pk
    inputs = rollup.gather_inputs(window=window, relationship_ids=[relationship_id])
    (computed,) = rollup.compute_scores(inputs)
    decoded = json.loads(computed.components_json)
    assert json.dumps(decoded, separators=(",", ":")) == computed.components_json
    assert decoded["impact"]["projects"][0]["title"] == title
    rollup.rollup_scores(period=NOVEMBER)
    row = score_of(worked_example["relationship"])
    assert row.components == decoded
    assert row.components["impact"]["projects"][0]["title"] == title
    assert rollup.rollup_scores(period=NOVEMBER) == 0


def test_a_reason_with_tabs_newlines_and_backslashes_is_stored_as_given(worked_example):
    """PostgreSQL copies the rows in COPY's text format, where a tab ends a value, a newline a row
    and a backslash starts an escape: each must arrive as written."""
    reason = "import of sheet\t3\nrow 12 \\ C:\\data\\q4.xlsx \\N \\."
    RelationshipScore.objects.all().delete()
    PendingScorePeriod.objects.all().delete()  # the reasons the factories' writes asked for
    assert rollup.rollup_scores(period=NOVEMBER, reason=reason) == 1
    row = score_of(worked_example["relationship"])
    assert row.reason == reason
    assert row.score == Decimal("48.80")


def test_all_four_components_with_targets_benefits_and_levels():
    relationship = RelationshipFactory()
    strategic = delivered(
        relationship,
        dt.date(2025, 1, 10),
        level="strategic",
        expected_annual_benefit=Decimal("1000.00"),
        realised_annual_benefit=Decimal("600.00"),
    )
    operational = delivered(
        relationship,
        dt.date(2025, 7, 10),
        level="operational",
        expected_annual_benefit=Decimal("500.00"),
    )
    # Strategic: +20 % and +40 % → impact 30 %; target 70 reached halfway (0.5), target 50 exceeded (1).
    track(strategic, baseline="50", values={dt.date(2025, 2, 1): "60"}, target="70")
    track(
        strategic,
        baseline="100",
        values={dt.date(2025, 2, 1): "60"},
        direction="lower_is_better",
        unit="index",
    )
    # Operational: +100 % → impact capped at 100 %; a target behind the baseline direction → clamp 0.
    track(operational, baseline="10", values={dt.date(2025, 8, 1): "25"}, target="5", unit="count")

    rollup.rollup_scores(period=NOVEMBER)
    row = score_of(relationship)
    # Level-weighted impact: (3 × 30 + 1 × 100) / 4 = 47.5 % → 0.95.
    assert row.impact == Decimal("0.95")
    assert row.components["impact"]["mean_impact_pct"] == "47.50"
    # Attainment: the two KPIs with a target, 0.5 and (clamped) 0.
    assert row.attainment == Decimal("0.25")
    assert row.components["attainment"] == {"value": "0.250000", "kpis_with_target": 2}
    # Realisation: 600 / 1000. DESIGN §4 changed (realisation grace period): the operational project,
    # delivered 10 Jul 2025 (after 31 May, the last day of M − 6) with no realised benefit recorded,
    # is left out instead of counting as 0 (it was 600 / (1000 + 500) = 0.4 before).
    assert row.realisation == Decimal("0.6")
    assert row.components["realisation"]["realised_sum"] == "600.00"
    assert row.components["realisation"]["expected_sum"] == "1000.00"
    assert row.components["realisation"]["projects_in_grace"] == 1
    assert row.continuity == Decimal("0.5")
    # 100 × (0.4 × 0.95 + 0.2 × 0.25 + 0.2 × 0.6 + 0.2 × 0.5) / 1.0 = 65.0 (61.0 before the grace period)
    assert (row.score, row.tier, row.basis) == (Decimal("65.0"), "steady", list(scoring.COMPONENTS))


def test_relationship_that_delivered_nothing_scores_zero_at_risk():
    relationship = RelationshipFactory()
    ProjectFactory(relationship=relationship, stage="in_progress")
    rollup.rollup_scores(period=NOVEMBER)
    row = score_of(relationship)
    assert (row.score, row.tier, row.basis, row.continuity) == (Decimal("0"), "at_risk", ["continuity"], 0)
    assert row.impact is None and row.components["impact"]["projects"] == []


@pytest.mark.parametrize(
    "delivered_on,realised,expected_realisation,in_grace",
    [
        # November 2025: the grace period ends on 31 May 2025, the last day of M − 6.
        (dt.date(2025, 5, 31), None, Decimal("0.4"), 0),  # missing after grace counts 0: 400 / 1000
        (dt.date(2025, 6, 1), None, Decimal("0.8"), 1),  # the day after: left out, 400 / 500
        (dt.date(2025, 6, 1), "0.00", Decimal("0.4"), 0),  # a recorded 0 always counts
        (dt.date(2025, 11, 20), "250.00", Decimal("0.65"), 0),  # recorded, however recent: 650 / 1000
    ],
)
def test_realisation_grace_period_in_the_rollup(delivered_on, realised, expected_realisation, in_grace):
    """DESIGN §4 worked examples: one project long delivered (expected 500, realised 400) and one
    delivered on `delivered_on` (expected 500, realised `realised`)."""
    relationship = RelationshipFactory()
    delivered(
        relationship,
        dt.date(2025, 1, 10),
        expected_annual_benefit=Decimal("500.00"),
        realised_annual_benefit=Decimal("400.00"),
    )
    delivered(
        relationship,
        delivered_on,
        expected_annual_benefit=Decimal("500.00"),
        realised_annual_benefit=Decimal(realised) if realised is not None else None,
    )
    rollup.rollup_scores(period=NOVEMBER)
    row = score_of(relationship)
    assert row.realisation == expected_realisation
    detail = row.components["realisation"]
    assert (detail["projects_counted"], detail["projects_in_grace"]) == (2 - in_grace, in_grace)
    assert detail["expected_sum"] == ("500.00" if in_grace else "1000.00")
    assert row.basis == ["realisation", "continuity"]
    # The score follows: 100 × (0.2 × realisation + 0.2 × continuity 0.5) / 0.4.
    assert row.score == scoring.quantize((expected_realisation + Decimal("0.5")) * 50, Decimal("0.1"))


def test_realisation_left_out_while_every_project_is_in_grace():
    relationship = RelationshipFactory()
    delivered(relationship, dt.date(2025, 10, 1), expected_annual_benefit=Decimal("500.00"))
    rollup.rollup_scores(period=NOVEMBER)
    row = score_of(relationship)
    # Before the grace period this scored 100 × (0.2 × 0 + 0.2 × 0.25) / 0.4 = 12.5 (at risk).
    assert (row.realisation, row.basis, row.score) == (None, ["continuity"], Decimal("25.0"))
    # Six months on, the same missing benefit counts as 0.
    rollup.rollup_scores(period=dt.date(2026, 5, 1))
    may = score_of(relationship, dt.date(2026, 5, 1))
    assert (may.realisation, may.components["realisation"]["projects_in_grace"]) == (Decimal(0), 0)


@pytest.mark.parametrize(
    "contract_start,deliver,is_new",
    [
        (dt.date(2025, 9, 1), False, True),  # began after 31 Aug, the last day of M − 3
        (dt.date(2025, 8, 31), False, False),  # three months: scored, 0 at risk
        (dt.date(2025, 9, 1), True, False),  # new, but it has delivered: scored on its merits
    ],
)
def test_new_relationship_is_flagged_and_keeps_its_figures(contract_start, deliver, is_new):
    relationship = RelationshipFactory(contract_start=contract_start)
    if deliver:
        delivered(relationship, dt.date(2025, 10, 1))
    rollup.rollup_scores(period=NOVEMBER)
    row = score_of(relationship)
    assert row.is_new is is_new
    # The stored row still says what it rests on (continuity) and what it was computed from.
    assert row.basis == ["continuity"]
    assert row.continuity == (Decimal("0.25") if deliver else 0)
    assert rollup.rollup_scores(period=NOVEMBER) == 0  # idempotent, flag included
    # Four months on it is no longer new: it scores 0 at risk like any relationship without delivery.
    if is_new:
        rollup.rollup_scores(period=dt.date(2026, 3, 1))
        march = score_of(relationship, dt.date(2026, 3, 1))
        assert (march.is_new, march.score, march.tier) == (False, Decimal("0"), "at_risk")


def test_measurement_after_the_months_end_is_ignored(worked_example):
    fill = worked_example["fill"]
    MeasurementFactory(project_kpi=fill, measured_on=dt.date(2025, 12, 1), value=Decimal("100"))
    rollup.rollup_scores(period=NOVEMBER)
    entry = score_of(worked_example["relationship"]).components["impact"]["projects"][0]["kpis"][0]
    assert (entry["latest"], entry["latest_measured_on"]) == ("85.0000", "2025-10-01")
    rollup.rollup_scores(period=dt.date(2025, 12, 1))
    december = score_of(worked_example["relationship"], dt.date(2025, 12, 1))
    assert december.components["impact"]["projects"][0]["kpis"][0]["latest"] == "100.0000"


def test_measurement_on_the_months_last_day_counts(worked_example):
    MeasurementFactory(
        project_kpi=worked_example["fill"], measured_on=dt.date(2025, 11, 30), value=Decimal("90")
    )
    rollup.rollup_scores(period=NOVEMBER)
    entry = score_of(worked_example["relationship"]).components["impact"]["projects"][0]["kpis"][0]
    assert (entry["latest"], entry["improvement_pct"]) == ("90.0000", "50.00")


def test_deleted_measurement_is_ignored(worked_example):
    from kpis.services import measurement_delete

    latest = worked_example["fill"].measurements.get(measured_on=dt.date(2025, 10, 1))
    measurement_delete(actor=None, measurement=latest)
    rollup.rollup_scores(period=NOVEMBER)
    entry = score_of(worked_example["relationship"]).components["impact"]["projects"][0]["kpis"][0]
    assert entry["latest"] == "70.0000"


def test_rollups_latest_measurement_is_the_one_the_selectors_define(worked_example):
    """The roll-up's own statement (a LATERAL join on PostgreSQL) picks, for every project KPI, the
    measurement kpis.selectors.latest_measurement defines: live, dated by the month's end, latest."""
    project = worked_example["project"]
    later_only = track(project, baseline="10", values={dt.date(2025, 12, 1): "20"})
    deleted_latest = track(
        project, baseline="10", values={dt.date(2025, 3, 1): "11", dt.date(2025, 9, 1): "15"}
    )
    deleted_latest.measurements.filter(measured_on=dt.date(2025, 9, 1)).update(deleted_at=timezone.now())
    on_last_day = track(
        project, baseline="10", values={dt.date(2025, 11, 30): "12", dt.date(2025, 12, 1): "99"}
    )
    never = track(project, baseline="10", values={})
    window = scoring.score_window(NOVEMBER)
    rows = rollup._project_kpis_with_latest(window, [worked_example["relationship"].pk])
    from_rollup = {row[0]: (row[7], row[8]) for row in rows}
    expected = {
        row.pk: (row.latest_value, row.latest_measured_on)
        for row in selectors.with_latest_values(type(never).objects.filter(project=project), as_of=window.end)
    }
    assert from_rollup == expected
    assert expected[later_only.pk] == (None, None) and expected[never.pk] == (None, None)
    assert expected[deleted_latest.pk] == (Decimal("11"), dt.date(2025, 3, 1))
    assert expected[on_last_day.pk] == (Decimal("12"), dt.date(2025, 11, 30))
    assert expected[worked_example["fill"].pk] == (Decimal("85"), dt.date(2025, 10, 1))


@pytest.mark.parametrize(
    "delivered_on,counted",
    [
        (dt.date(2024, 11, 30), False),  # the day before the window
        (dt.date(2024, 12, 1), True),  # the window's first day
        (dt.date(2025, 11, 30), True),  # the scored month's last day
        (dt.date(2025, 12, 1), False),  # the day after
    ],
)
def test_project_counts_only_when_delivered_inside_the_window(delivered_on, counted):
    relationship = RelationshipFactory()
    delivered(relationship, delivered_on)
    rollup.rollup_scores(period=NOVEMBER)
    row = score_of(relationship)
    assert row.projects_delivered == (1 if counted else 0)
    assert row.continuity == (Decimal("0.25") if counted else 0)


def test_cancelled_and_deleted_projects_never_count():
    relationship = RelationshipFactory()
    cancelled = ProjectFactory(relationship=relationship, stage="in_progress", started_on=dt.date(2025, 1, 1))
    track(cancelled, baseline="10", values={dt.date(2025, 3, 1): "20"})
    project_transition(actor=None, project=cancelled, to_stage="cancelled")
    deleted = delivered(relationship, dt.date(2025, 3, 1))
    track(deleted, baseline="10", values={dt.date(2025, 3, 1): "20"})
    project_delete(actor=None, project=deleted)
    rollup.rollup_scores(period=NOVEMBER)
    row = score_of(relationship)
    assert (row.projects_delivered, row.kpis_measured, row.score) == (0, 0, Decimal("0"))


def test_zero_baseline_and_unmeasured_kpis_have_no_improvement_but_count_for_attainment():
    relationship = RelationshipFactory()
    project = delivered(relationship, dt.date(2025, 5, 5), level="strategic")
    track(project, baseline="0", values={dt.date(2025, 6, 1): "52"}, target="50")
    track(project, baseline="40", values={})
    rollup.rollup_scores(period=NOVEMBER)
    row = score_of(relationship)
    kpis = row.components["impact"]["projects"][0]["kpis"]
    assert [k["improvement_pct"] for k in kpis] == [None, None]
    assert kpis[0]["target_achievement_pct"] == "104.00"
    assert (row.impact, row.attainment, row.kpis_measured) == (None, Decimal("1"), 1)
    assert row.basis == ["attainment", "continuity"]
    # 100 × (0.2 × 1 + 0.2 × 0.25) / 0.4 = 62.5
    assert row.score == Decimal("62.5")


def test_rolling_up_twice_writes_nothing_the_second_time(worked_example):
    assert rollup.rollup_scores(period=NOVEMBER) == 1
    first = list(RelationshipScore.objects.values())
    assert rollup.rollup_scores(period=NOVEMBER) == 0
    assert list(RelationshipScore.objects.values()) == first


def test_a_change_rewrites_only_the_changed_row(worked_example):
    other = RelationshipFactory()
    assert rollup.rollup_scores(period=NOVEMBER) == 2
    untouched = score_of(other).computed_at
    MeasurementFactory(
        project_kpi=worked_example["fill"], measured_on=dt.date(2025, 11, 2), value=Decimal("95")
    )
    assert rollup.rollup_scores(period=NOVEMBER) == 1
    assert score_of(worked_example["relationship"]).components["impact"]["mean_impact_pct"] == "38.69"
    assert score_of(other).computed_at == untouched


def test_explanation_is_stored_as_the_text_written_and_equal_content_is_not_a_change(worked_example):
    """PostgreSQL keeps the explanation as `json` text (kpis.fields): the roll-up's own text, keys
    in its order. A row whose text differs but whose content is the same (as a row written before
    the column was `json` reads: jsonb's rendering) is not rewritten; different content is."""
    if connection.vendor != "postgresql":
        pytest.skip("the json column type is PostgreSQL's (SQLite stores text and compares it)")
    relationship = worked_example["relationship"]
    window = scoring.score_window(NOVEMBER)
    (computed,) = rollup.compute_scores(
        rollup.gather_inputs(window=window, relationship_ids=[relationship.pk])
    )
    RelationshipScore.objects.filter(period=NOVEMBER).delete()
    assert rollup.rollup_scores(period=NOVEMBER) == 1
    select = "SELECT pg_typeof(components)::text, components::text FROM kpis_relationshipscore WHERE id = %s"
    row = score_of(relationship)
    with connection.cursor() as cursor:
        cursor.execute(select, [row.pk])
        assert cursor.fetchone() == ("json", computed.components_json)
        cursor.execute(
            "UPDATE kpis_relationshipscore SET components = components::jsonb::json WHERE id = %s", [row.pk]
        )
        cursor.execute(select, [row.pk])
        rendered = cursor.fetchone()[1]
    assert rendered != computed.components_json and json.loads(rendered) == json.loads(
        computed.components_json
    )
    assert list(score_of(relationship).components) == list(json.loads(rendered))  # read as stored

    assert rollup.rollup_scores(period=NOVEMBER, force=True) == 0
    kept = score_of(relationship)
    assert (kept.computed_at, kept.reason) == (row.computed_at, row.reason)
    # Same figures, but another explanation (a KPI renamed): the row is written.
    worked_example["fill"].kpi.__class__.objects.filter(pk=worked_example["fill"].kpi_id).update(
        name="Fill %"
    )
    assert rollup.rollup_scores(period=NOVEMBER, force=True) == 1
    rewritten = score_of(relationship)
    assert rewritten.computed_at > row.computed_at
    assert "Fill %" in json.dumps(rewritten.components) and rewritten.score == row.score


def test_past_month_recomputes_to_the_same_answer_after_later_changes(worked_example):
    rollup.rollup_scores(period=NOVEMBER)
    before = RelationshipScore.objects.values().get()
    MeasurementFactory(
        project_kpi=worked_example["fill"], measured_on=dt.date(2026, 1, 5), value=Decimal("99")
    )
    delivered(worked_example["relationship"], dt.date(2026, 1, 6))
    assert rollup.rollup_scores(period=NOVEMBER) == 0
    assert RelationshipScore.objects.values().get() == before


def test_deleted_relationship_is_skipped_quietly():
    relationship = RelationshipFactory()
    relationship_delete(actor=None, relationship=relationship)
    assert rollup.rollup_scores(period=NOVEMBER, relationship_ids=[relationship.pk, 987654]) == 0
    assert not RelationshipScore.objects.exists()


def test_current_month_rollup_clears_stale_marks():
    relationship = RelationshipFactory()
    ProjectFactory(relationship=relationship)  # the project_changed receiver marks it stale
    assert PendingScoreRecompute.objects.filter(relationship=relationship).exists()
    rollup.rollup_scores(period=dt.date(2025, 1, 1))
    assert PendingScoreRecompute.objects.filter(relationship=relationship).exists()  # a past month
    rollup.rollup_scores(period=timezone.localdate())
    assert not PendingScoreRecompute.objects.exists()


def test_stale_marks_of_deleted_relationships_are_dropped():
    relationship = RelationshipFactory()
    ProjectFactory(relationship=relationship)
    relationship_delete(actor=None, relationship=relationship)
    rollup.rollup_scores(period=timezone.localdate())
    assert not PendingScoreRecompute.objects.exists()


def _portfolio(size: int) -> None:
    """Relationships with two projects each, delivered in the current month's window."""
    today = timezone.localdate()
    for index in range(size):
        relationship = RelationshipFactory()
        for number in range(2):
            on = today - dt.timedelta(days=20 + 30 * (index % 10) + number)
            project = delivered(relationship, on)
            track(project, baseline="50", values={on: "55", on + dt.timedelta(days=5): "60"}, target="80")


def test_query_count_does_not_grow_with_relationships():
    _portfolio(2)
    with CaptureQueriesContext(connection) as small:
        assert rollup.rollup_scores(period=timezone.localdate()) == 2
    _portfolio(6)
    RelationshipScore.objects.all().delete()
    with CaptureQueriesContext(connection) as large:
        assert rollup.rollup_scores(period=timezone.localdate()) == 8
    assert len(large.captured_queries) == len(small.captured_queries)
    # ids, stale marks and month requests of deleted relationships, [lock], stale marks, the
    # month's requests (with their reasons), [the fingerprint check], projects, project KPIs with
    # their latest measurements (two statements on SQLite), [the staging table and the COPY into
    # it], upsert, the rows written and their score.changed events; then the change stamp and one
    # update each of the project KPIs, projects and relationships whose figures moved (so that
    # sync re-sends them); savepoints aside.
    statements = [q["sql"] for q in large.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(statements) == (18 if connection.vendor == "postgresql" else 16), statements


def test_batches_cost_a_fixed_number_of_queries_each(settings):
    settings.BPO_SCORE_ROLLUP = {**settings.BPO_SCORE_ROLLUP, "BATCH_SIZE": 3}
    _portfolio(7)
    progress = []
    assert (
        rollup.rollup_scores(period=NOVEMBER, progress=lambda done, total: progress.append((done, total)))
        == 7
    )
    assert progress == [(3, 7), (6, 7), (7, 7)]


def _stored_rows() -> dict:
    return {
        row["relationship_id"]: row
        for row in RelationshipScore.objects.values(
            "relationship_id", *rollup.SCORE_FIELDS, "inputs_fingerprint"
        )
    }


def test_batch_read_computed_and_written_in_overlapping_slices_stores_the_same_rows(monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("The slices overlap on PostgreSQL only; elsewhere a batch is one slice.")
    _portfolio(5)
    today = timezone.localdate()
    assert rollup.rollup_scores(period=today) == 5
    whole = _stored_rows()
    RelationshipScore.objects.all().delete()
    monkeypatch.setattr(rollup, "PIPELINE_SLICE", 2)
    with CaptureQueriesContext(connection) as sliced:
        assert rollup.rollup_scores(period=today) == 5
    assert _stored_rows() == whole
    # Three slices, each read and written by its own statements: copied, then upserted.
    statements = [query["sql"] for query in sliced.captured_queries]
    assert sum(sql.startswith(f"COPY {rollup.STAGING_TABLE} FROM STDIN") for sql in statements) == 3
    assert sum(sql.startswith("WITH staged AS") for sql in statements) == 3


def test_a_slice_that_fails_leaves_none_of_the_batch_written(monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("The slices overlap on PostgreSQL only.")
    _portfolio(5)
    monkeypatch.setattr(rollup, "PIPELINE_SLICE", 2)
    sent = []
    execute = rollup._execute_upsert

    def failing_second(statement):
        sent.append(statement)
        if len(sent) == 2:
            raise RuntimeError("the database went away")
        return execute(statement)

    monkeypatch.setattr(rollup, "_execute_upsert", failing_second)
    with pytest.raises(RuntimeError, match="went away"):
        rollup.rollup_scores(period=timezone.localdate())
    assert not RelationshipScore.objects.exists()
    assert len(sent) == 2  # the third slice was never sent


def test_selectors_read_the_current_score_without_a_query_per_row(django_assert_num_queries):
    _portfolio(4)
    rollup.rollup_scores(period=timezone.localdate())
    from projects.models import Relationship

    with django_assert_num_queries(2):
        rows = [
            selectors.current_score(relationship)
            for relationship in selectors.with_current_score(Relationship.objects.all())
        ]
    assert all(row is not None and row.tier in {"at_risk", "steady", "high_performing"} for row in rows)


@pytest.mark.django_db(transaction=True)
def test_rollup_stores_explanations_lz4_compressed_and_leaves_the_session_default():
    if connection.vendor != "postgresql":
        pytest.skip("TOAST compression is PostgreSQL's")
    relationship = RelationshipFactory()
    for day in range(1, 13):  # an explanation of several KB, so that PostgreSQL compresses it
        project = delivered(relationship, dt.date(2025, 10, day))
        track(project, baseline="50", values={dt.date(2025, 10, day): "55"}, target="80")
        track(project, baseline="20", values={dt.date(2025, 10, day): "15"}, direction="lower_is_better")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT setting, 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
        )
        default, has_lz4 = cursor.fetchone()
        # The factories' writes have already recomputed the months they fall in; write it again.
        RelationshipScore.objects.filter(period=NOVEMBER).delete()
        assert rollup.rollup_scores(period=NOVEMBER) == 1
        cursor.execute(
            "SELECT pg_column_compression(components), octet_length(components::text) "
            "FROM kpis_relationshipscore WHERE relationship_id = %s AND period = %s",
            [relationship.pk, NOVEMBER],
        )
        compression, size = cursor.fetchone()
        assert size > 4000
        assert compression == ("lz4" if has_lz4 else default)
        cursor.execute("SHOW default_toast_compression")
        assert cursor.fetchone()[0] == default


@pytest.mark.django_db(transaction=True)
def test_concurrent_rollup_of_the_same_relationship_waits_for_the_first():
    if connection.vendor != "postgresql":
        pytest.skip("advisory locks are PostgreSQL's; SQLite serialises write transactions itself")
    import threading

    from django.db import connections, transaction

    relationship = RelationshipFactory()
    holding, release, finished = threading.Event(), threading.Event(), threading.Event()

    def first_rollup_in_progress():
        try:
            with transaction.atomic():
                rollup._lock([relationship.pk])
                holding.set()
                release.wait(10)
        finally:
            connections.close_all()

    def second_rollup():
        try:
            rollup.rollup_scores(period=NOVEMBER, relationship_ids=[relationship.pk])
            finished.set()
        finally:
            connections.close_all()

    holder = threading.Thread(target=first_rollup_in_progress)
    holder.start()
    assert holding.wait(10)
    waiter = threading.Thread(target=second_rollup)
    waiter.start()
    assert not finished.wait(1.0), "the second roll-up ran beside the first"
    release.set()
    assert finished.wait(10), "the second roll-up did not run after the first finished"
    holder.join()
    waiter.join()
    assert RelationshipScore.objects.filter(relationship=relationship).count() == 1


def test_project_kpi_figures_without_a_query_per_row(django_assert_num_queries):
    _portfolio(3)
    from kpis.models import ProjectKPI

    with django_assert_num_queries(1):
        figures = [
            (row.latest_value, row.improvement_pct, row.target_achievement_pct)
            for row in selectors.with_latest_values(ProjectKPI.objects.all())
        ]
    assert figures[0] == (Decimal("60"), Decimal("20"), Decimal("100") / 3)


def test_project_gain_share():
    project = ProjectFactory(
        stage="delivered",
        started_on=dt.date(2025, 1, 1),
        delivered_on=dt.date(2025, 2, 1),
        funding="gain_share",
        gain_share_pct=Decimal("25"),
        gain_share_baseline=Decimal("600000.00"),
        realised_annual_benefit=Decimal("1000000.00"),
    )
    assert selectors.project_gain_share(project) == Decimal("100000")
    assert selectors.project_gain_share(ProjectFactory()) is None
