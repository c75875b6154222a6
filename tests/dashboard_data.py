"""Builders for dashboard tests (domain reads and pages): relationships with projects, KPIs and
stored monthly scores, and the `kpis` and `book` fixtures built from them.

Dates are relative to today (the dashboards read "now"), computed here with plain arithmetic rather
than with the code under test. Score rows are written directly, in the shape the roll-up stores.
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from kpis.models import RelationshipScore
from projects import services as project_services
from projects.models import ProcessArea
from tests.factories import (
    ClientFactory,
    KPIFactory,
    MeasurementFactory,
    ProjectFactory,
    ProjectKPIFactory,
    ProviderFactory,
    RelationshipFactory,
)

TODAY = timezone.localdate()


def month(offset: int, day: int = 15) -> dt.date:
    """Day `day` (≤ 28) of the month `offset` months from this one."""
    index = TODAY.year * 12 + TODAY.month - 1 + offset
    return dt.date(index // 12, index % 12 + 1, day)


def tier_of(score: Decimal) -> str:
    """The tier cut-offs of DESIGN.md §4, stated independently of kpis.scoring."""
    return "high_performing" if score >= 70 else "steady" if score >= 40 else "at_risk"


def worked_example_components(project=None, kpis=()) -> dict:
    """The components JSON of DESIGN.md §4's worked example (impact 0.607143, continuity 0.25)."""
    return {
        "weights": {"impact": "0.4", "attainment": "0.2", "realisation": "0.2", "continuity": "0.2"},
        "weights_used": {
            "impact": "0.6666666666666666666666666667",
            "continuity": "0.3333333333333333333333333333",
        },
        "window": {
            "start": month(-11, 1).isoformat(),
            "end": (month(1, 1) - dt.timedelta(days=1)).isoformat(),
        },
        "impact": {
            "value": "0.607143",
            "mean_impact_pct": "30.36",
            "projects": [
                {
                    "id": project.pk if project else 12,
                    "title": project.title if project else "Vendor management",
                    "level": "process",
                    "level_weight": 2,
                    "delivered_on": (project.delivered_on if project else month(-1)).isoformat(),
                    "impact_pct": "30.36",
                    "kpis": [
                        {
                            "project_kpi_id": project_kpi.pk,
                            "kpi": project_kpi.kpi.name,
                            "unit": project_kpi.unit,
                            "direction": project_kpi.kpi.direction,
                            "baseline": str(project_kpi.baseline_value),
                            "latest": latest,
                            "latest_measured_on": measured_on.isoformat(),
                            "improvement_pct": improvement,
                            "target": None,
                            "target_achievement_pct": None,
                        }
                        for project_kpi, latest, measured_on, improvement in kpis
                    ],
                }
            ],
        },
        "attainment": {"value": None, "kpis_with_target": 0},
        "realisation": {"value": None, "realised_sum": "0", "expected_sum": "0", "projects_counted": 0},
        "continuity": {
            "value": "0.25",
            "quarters": [
                {
                    "start": month(-11 + 3 * q, 1).isoformat(),
                    "end": (month(-8 + 3 * q, 1) - dt.timedelta(days=1)).isoformat(),
                    "delivered": 1 if q == 3 else 0,
                }
                for q in range(4)
            ],
        },
    }


def score_row(relationship, offset: int, score: str, **fields) -> RelationshipScore:
    """A stored score for the month `offset` months from this one."""
    value = Decimal(score)
    defaults = {
        "impact": None,
        "attainment": None,
        "realisation": None,
        "continuity": Decimal("0"),
        "basis": ["continuity"],
        "components": {},
        "projects_delivered": 0,
        "kpis_measured": 0,
    }
    defaults.update(fields)
    return RelationshipScore.objects.create(
        relationship=relationship, period=month(offset, 1), score=value, tier=tier_of(value), **defaults
    )


def delivered(
    relationship, delivered_on: dt.date, *, realised=None, expected=None, title=None, level="operational"
):
    started_on = delivered_on - dt.timedelta(days=60)
    return ProjectFactory(
        relationship=relationship,
        stage="delivered",
        level=level,
        proposed_on=started_on - dt.timedelta(days=30),
        started_on=started_on,
        delivered_on=delivered_on,
        realised_annual_benefit=Decimal(realised) if realised is not None else None,
        expected_annual_benefit=Decimal(expected) if expected is not None else None,
        **({"title": title} if title else {}),
    )


def cancelled(relationship):
    project = ProjectFactory(relationship=relationship)
    return project_services.project_transition(actor=None, project=project, to_stage="cancelled")


def track(project, kpi, baseline: str, *values: tuple[dt.date, str], target=None):
    """Track `kpi` on `project` with a baseline and dated measurements."""
    project_kpi = ProjectKPIFactory(
        project=project,
        kpi=kpi,
        baseline_value=Decimal(baseline),
        baseline_date=project.started_on or month(-30),
        target_value=Decimal(target) if target is not None else None,
    )
    for measured_on, value in values:
        MeasurementFactory(project_kpi=project_kpi, measured_on=measured_on, value=Decimal(value))
    return project_kpi


@pytest.fixture
def kpis(db):
    return {
        "fill": KPIFactory(code="fill_rate", name="Customer-order fill rate", unit="percent"),
        "turnaround": KPIFactory(
            code="turnaround", name="Turnaround time", unit="hours", direction="lower_is_better"
        ),
        "yield": KPIFactory(code="first_pass", name="First-pass yield", unit="percent"),
        "rework": KPIFactory(code="rework", name="Rework intercepted", unit="percent"),
    }


@pytest.fixture
def book(kpis, account_manager):
    """Five live relationships and a deleted one, with the figures each should contribute."""
    provider_a = ProviderFactory(name="Provider Alpha")
    provider_b = ProviderFactory(name="Provider Beta")
    claims = ProcessArea.objects.get(code="claims")
    r1 = RelationshipFactory(
        name="R1", client=ClientFactory(name="Client One"), provider=provider_a,
        account_managers=[account_manager], process_areas=[claims],
    )  # fmt: skip
    r2 = RelationshipFactory(name="R2", client=ClientFactory(name="Client Two"), provider=provider_a)
    r3 = RelationshipFactory(name="R3", client=ClientFactory(name="Client Three"), provider=provider_b)
    r4 = RelationshipFactory(
        name="R4", client=ClientFactory(name="Client Four"), provider=provider_b, status="ended",
        contract_start=dt.date(2022, 1, 1), contract_end=TODAY - dt.timedelta(days=60),
    )  # fmt: skip
    r5 = RelationshipFactory(
        name="R5", client=ClientFactory(name="Client Five"), provider=provider_a,
        contract_start=TODAY - dt.timedelta(days=20),
    )  # fmt: skip
    r6 = RelationshipFactory(name="R6", client=ClientFactory(name="Client Six"), provider=provider_b)

    # Scores: R1 rises to 72.5, R2 falls to 48.8, R3 to 30.0; R4 only now; R5 never; R6 is deleted.
    score_row(r1, -12, "40.0")
    for offset in range(-11, -3):
        score_row(r1, offset, str(50 + offset + 11))
    score_row(r1, -3, "60.0")
    score_row(r1, -2, "65.0")
    score_row(r1, -1, "70.0")
    score_row(
        r1, 0, "72.5", impact=Decimal("0.8"), attainment=Decimal("0.5"), realisation=Decimal("0.9"),
        continuity=Decimal("0.75"), projects_delivered=2,
    )  # fmt: skip
    score_row(r2, -3, "55.0")
    score_row(r2, 0, "48.8", impact=Decimal("0.607143"), continuity=Decimal("0.25"), projects_delivered=1)
    score_row(r2, 1, "99.0")  # a month not yet reached is never "current"
    score_row(r3, -3, "35.0")
    score_row(r3, 0, "30.0")
    score_row(r4, 0, "10.0")
    score_row(r6, 0, "99.0")

    # Projects. R1: three delivered (one outside the 12 months), one of each open stage, one
    # cancelled, one delivered then deleted.
    r1_recent = delivered(r1, month(-1), realised="100000", expected="120000", title="R1 recent")
    track(r1_recent, kpis["yield"], "80", (month(-1, 20), "70"))  # worse: −12.5 %
    track(r1_recent, kpis["rework"], "0", (month(-1, 20), "52"))  # zero baseline: no improvement
    delivered(r1, month(-5), realised="50000")
    r1_old = delivered(r1, month(-13), realised="70000")
    track(r1_old, kpis["fill"], "10", (month(-12), "50"))  # +400 %, but delivered before the window
    ProjectFactory(relationship=r1, stage="in_progress", proposed_on=month(-4), started_on=month(-3))
    ProjectFactory(relationship=r1, stage="idea")
    cancelled(r1)
    gone = delivered(r1, month(-1), realised="999")
    project_services.project_delete(actor=None, project=gone)
    # R2: the published aerospace case, a proposed and an approved project.
    aerospace = delivered(r2, month(-2), title="Vendor management", level="process")
    track(aerospace, kpis["fill"], "60", (month(-3), "72"), (month(-2), "85"))
    track(aerospace, kpis["turnaround"], "21", (month(-3), "19"), (month(-2), "17"))
    ProjectFactory(relationship=r2, stage="proposed", proposed_on=month(-2))
    ProjectFactory(relationship=r2, stage="approved", proposed_on=month(-2))
    # R3 delivered long ago; R6's delivery disappears with the relationship.
    delivered(r3, month(-20), realised="5000")
    delivered(r6, month(-1), realised="1000000")
    project_services.relationship_delete(actor=None, relationship=r6)
    return {"r1": r1, "r2": r2, "r3": r3, "r4": r4, "r5": r5, "r6": r6, "aerospace": aerospace}
