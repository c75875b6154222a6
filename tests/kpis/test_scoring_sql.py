"""SQL that repeats a rule of kpis.scoring is checked against the Python definition."""

from decimal import Decimal

import pytest

from kpis import scoring
from kpis.models import KPI, ProjectKPI
from kpis.selectors import improvement_expression, with_latest_values
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
