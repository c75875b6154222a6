"""Builders for dashboard tests: relationships with projects, KPIs and stored monthly scores.

Dates are relative to today (the dashboards read "now"), computed here with plain arithmetic rather
than with the code under test. Score rows are written directly, in the shape the roll-up stores.
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from kpis.models import RelationshipScore
from projects import services as project_services
from tests.factories import KPIFactory, MeasurementFactory, ProjectFactory, ProjectKPIFactory

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
