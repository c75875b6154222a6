"""Fixtures of the collaboration tests (the `table` of people is in tests/conftest.py)."""

import pytest


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """People are made by the dozen here; the production hasher's cost is not under test."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def delivered(table):
    """On relationship A: a process-level project delivered ten days ago, tracking a fill rate
    (60 → 85 %), so that its figures feed the current month's score."""
    import datetime as dt
    from decimal import Decimal

    from django.utils import timezone

    from kpis import services as kpi_services
    from tests.factories import KPIFactory, ProjectFactory, ProjectKPIFactory

    today = timezone.localdate()
    project = ProjectFactory(
        relationship=table["relationship"],
        title="Forecasting",
        stage="delivered",
        level="process",
        started_on=today - dt.timedelta(days=100),
        delivered_on=today - dt.timedelta(days=10),
        expected_annual_benefit=Decimal("100000"),
        realised_annual_benefit=Decimal("90000"),
    )
    project_kpi = ProjectKPIFactory(
        project=project,
        kpi=KPIFactory(code="fill", name="Fill rate"),
        baseline_value=Decimal("60"),
        baseline_date=project.started_on,
    )
    measurement = kpi_services.measurement_record(
        actor=None,
        fields=kpi_services.MeasurementFields(
            project_kpi=project_kpi, measured_on=today - dt.timedelta(days=5), value=Decimal("85")
        ),
    )
    return {"project": project, "project_kpi": project_kpi, "measurement": measurement}


# A real Celery worker on Redis (tests marked celery_worker).
from tests.kpis.conftest import real_broker  # noqa: E402, F401
