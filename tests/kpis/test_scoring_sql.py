"""SQL that repeats a rule of kpis.scoring is checked against the Python definition."""

from decimal import Decimal

import pytest

from kpis import scoring
from kpis.models import KPI, ProjectKPI
from kpis.selectors import (
    improvement_expression,
    project_impact_expression,
    project_impact_pct,
    with_kpi_stats,
    with_latest_values,
)
from projects.models import InnovationProject
from tests.factories import KPIFactory, MeasurementFactory, ProjectFactory, ProjectKPIFactory

pytestmark = pytest.mark.django_db

CASES = [
    # (direction, baseline, latest)
    (KPI.Direction.HIGHER_IS_BETTER, "60", "85"),
    (KPI.Direction.LOWER_IS_BETTER, "21", "17"),
    (KPI.Direction.LOWER_IS_BETTER, "100", "73"),
    (KPI.Direction.HIGHER_IS_BETTER, "-40", "-10"),
    (KPI.Direction.LOWER_IS_BETTER, "-5", "-8"),
    (KPI.Direction.HIGHER_IS_BETTER, "3", "1"),
]


def test_improvement_expression_equals_scoring_improvement():
    project = ProjectFactory()
    expected = {}
    for index, (direction, baseline, latest) in enumerate(CASES):
        kpi = KPIFactory(code=f"kpi_{index}", unit="count", direction=direction)
        project_kpi = ProjectKPIFactory(project=project, kpi=kpi, baseline_value=Decimal(baseline))
        MeasurementFactory(project_kpi=project_kpi, value=Decimal(latest))
        expected[project_kpi.pk] = scoring.improvement_pct(
            baseline=Decimal(baseline),
            latest=Decimal(latest),
            higher_is_better=direction == KPI.Direction.HIGHER_IS_BETTER,
        )
    rows = with_latest_values(ProjectKPI.objects.filter(project=project)).annotate(
        improvement=improvement_expression()
    )
    seen = 0
    for row in rows:
        assert row.improvement == pytest.approx(float(expected[row.pk]), rel=1e-12)
        assert row.improvement_pct == expected[row.pk]  # the figure shown is the exact one
        seen += 1
    assert seen == len(CASES)
    # Ordering by the expression gives the order of the exact figures.
    ordered = [row.pk for row in rows.order_by("-improvement", "id")]
    assert ordered == sorted(expected, key=lambda pk: (-expected[pk], pk))


def test_project_impact_expression_equals_scoring_impact():
    """Each project's impact in SQL (for sorting) is kpis.scoring's: capped, mean of those defined."""
    higher = KPIFactory(code="higher", unit="count")
    lower = KPIFactory(code="lower", unit="count", direction=KPI.Direction.LOWER_IS_BETTER)
    cases = {
        "capped": [(higher, "10", "40")],  # +300 % → +100 %
        "mixed": [(higher, "60", "85"), (lower, "21", "17")],  # +41.67 %, +19.05 %
        "zero baseline ignored": [(higher, "0", "52"), (lower, "100", "73")],
        "unmeasured": [(higher, "50", None)],
        "worse": [(lower, "10", "35")],  # −250 % → −100 %
    }
    for title, kpis in cases.items():
        project = ProjectFactory(title=title)
        for kpi, baseline, latest in kpis:
            project_kpi = ProjectKPIFactory(project=project, kpi=kpi, baseline_value=Decimal(baseline))
            if latest is not None:
                MeasurementFactory(project_kpi=project_kpi, value=Decimal(latest))
    # A deleted KPI does not count.
    stale = ProjectKPIFactory(
        project=InnovationProject.objects.get(title="mixed"), kpi=KPIFactory(code="gone")
    )
    MeasurementFactory(project_kpi=stale, value=Decimal("1"))
    ProjectKPI.objects.filter(pk=stale.pk).update(deleted_at="2025-01-01T00:00:00Z")

    projects = with_kpi_stats(InnovationProject.objects.annotate(impact_sql=project_impact_expression()))
    for project in projects:
        expected = project_impact_pct(project)
        if expected is None:
            assert project.impact_sql is None, project.title
        else:
            assert project.impact_sql == pytest.approx(float(expected), abs=1e-9), project.title
    ordered = [
        p.title for p in InnovationProject.objects.order_by(project_impact_expression().desc(nulls_last=True))
    ]
    assert ordered == ["capped", "mixed", "zero baseline ignored", "worse", "unmeasured"]
