"""Fixtures for the browser pages: a project with the published aerospace KPIs."""

import datetime as dt
from decimal import Decimal

import pytest

from kpis.models import KPI
from tests.factories import KPIFactory, MeasurementFactory, ProjectFactory, ProjectKPIFactory


@pytest.fixture
def fill_rate(db):
    return KPIFactory(code="order_fill_rate", name="Order fill rate", unit="percent")


@pytest.fixture
def turnaround(db):
    return KPIFactory(
        code="turnaround_time", name="Turnaround time", unit="hours", direction=KPI.Direction.LOWER_IS_BETTER
    )


@pytest.fixture
def aerospace_project(portfolio, fill_rate, turnaround):
    """Fill rate 60 → 85 % (target 90) and turnaround 21 → 17 h on the account manager's relationship."""
    project = ProjectFactory(relationship=portfolio["rel_a"], title="Vendor management", level="process")
    fill = ProjectKPIFactory(
        project=project, kpi=fill_rate, baseline_value=Decimal("60"), target_value=Decimal("90")
    )
    turn = ProjectKPIFactory(project=project, kpi=turnaround, baseline_value=Decimal("21"))
    MeasurementFactory(project_kpi=fill, measured_on=dt.date(2024, 3, 1), value=Decimal("70"))
    MeasurementFactory(project_kpi=fill, measured_on=dt.date(2024, 6, 1), value=Decimal("85"))
    MeasurementFactory(project_kpi=turn, measured_on=dt.date(2024, 6, 1), value=Decimal("17"))
    return project
