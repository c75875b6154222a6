"""The figures a project row's `impact_pct` rests on: on PostgreSQL read by SQL written once
(kpis.selectors.LIVE_KPI_FIGURES_SQL), which must give exactly the rows of the queryset that
defines them, in its order."""

import datetime as dt
from decimal import Decimal

import pytest

from kpis import selectors
from kpis.models import KPI
from kpis.services import measurement_delete, project_kpi_delete
from tests.factories import KPIFactory, MeasurementFactory, ProjectFactory, ProjectKPIFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def projects():
    # Two KPIs of one name (ordered by id then), names out of creation order, both directions.
    same_a, same_b = KPIFactory(name="Same name"), KPIFactory(name="Same name")
    zeta = KPIFactory(name="Zeta", direction=KPI.Direction.LOWER_IS_BETTER)
    alpha = KPIFactory(name="Alpha")
    first, second, third, untracked = (ProjectFactory() for _ in range(4))
    for index, kpi in enumerate((zeta, same_b, alpha, same_a)):  # each its own baseline, to tell them apart
        tracked = ProjectKPIFactory(project=first, kpi=kpi, baseline_value=Decimal("12.3456") + index)
        MeasurementFactory(project_kpi=tracked, value=Decimal("0.0001"), measured_on=dt.date(2025, 3, 1))
        MeasurementFactory(project_kpi=tracked, value=Decimal("99.9900"), measured_on=dt.date(2025, 4, 1))
    admin = UserFactory(is_superuser=True)
    # A KPI never measured, one whose only measurement was deleted, one deleted itself.
    ProjectKPIFactory(project=second, kpi=alpha, baseline_value=Decimal("0"))
    emptied = ProjectKPIFactory(project=second, kpi=zeta)
    measurement_delete(actor=admin, measurement=MeasurementFactory(project_kpi=emptied, value=Decimal("5")))
    gone = ProjectKPIFactory(project=second, kpi=same_a)
    MeasurementFactory(project_kpi=gone)
    project_kpi_delete(actor=admin, project_kpi=gone)
    MeasurementFactory(project_kpi=ProjectKPIFactory(project=third, kpi=same_b), value=Decimal("4.5"))
    return [first, second, third, untracked]


def test_the_written_sql_gives_the_querysets_rows_in_its_order(projects):
    ids = [project.pk for project in projects]
    expected = list(selectors.live_kpi_figures_queryset(ids))
    assert len(expected) == 7
    assert selectors.live_kpi_figures(ids) == expected
    assert selectors.live_kpi_figures(ids[1:2]) == list(selectors.live_kpi_figures_queryset(ids[1:2]))
    assert selectors.live_kpi_figures([projects[3].pk]) == [] == selectors.live_kpi_figures([])
    # The deleted KPI is left out, the emptied and the unmeasured ones have no latest value.
    second = [row for row in expected if row[0] == projects[1].pk]
    assert [(row[1], row[2]) for row in second] == [(Decimal("0"), None), (Decimal("60"), None)]


def test_a_projects_improvements_come_from_those_figures(projects):
    improvements = selectors.live_kpi_improvements([project.pk for project in projects])
    first = [kpi.improvement_pct for kpi in improvements[projects[0].pk]]
    # Alpha, Same name (same_b, then same_a: by id), Zeta: higher is better but for Zeta.
    baselines = [Decimal("14.3456"), Decimal("13.3456"), Decimal("15.3456"), Decimal("12.3456")]
    signs = [1, 1, 1, -1]
    latest = Decimal("99.9900")
    assert first == [
        sign * (latest - baseline) / baseline * 100 for sign, baseline in zip(signs, baselines, strict=True)
    ]
    assert [kpi.improvement_pct for kpi in improvements[projects[1].pk]] == [None, None]
    assert projects[3].pk not in improvements
