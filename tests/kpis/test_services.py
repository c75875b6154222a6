"""KPI catalogue, project KPI and measurement services."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.utils import timezone

from kpis import selectors, services
from kpis.models import Measurement, PendingScoreRecompute, ProjectKPI
from projects import access
from projects.models import AuditEntry
from projects.services import project_delete
from tests.factories import KPIFactory, MeasurementFactory, ProjectFactory, ProjectKPIFactory

pytestmark = pytest.mark.django_db


def test_project_kpi_copies_unit_and_marks_score_stale():
    project_kpi = ProjectKPIFactory(
        kpi__unit="hours", kpi__direction="lower_is_better", baseline_value=Decimal("21")
    )
    assert project_kpi.unit == "hours"
    assert PendingScoreRecompute.objects.filter(relationship=project_kpi.project.relationship).exists()


def test_duplicate_kpi_on_project_is_a_validation_error():
    project_kpi = ProjectKPIFactory()
    with pytest.raises(ValidationError) as refused:
        ProjectKPIFactory(project=project_kpi.project, kpi=project_kpi.kpi)
    assert "This KPI is already tracked on this project." in str(refused.value)


def test_percent_above_100_is_a_validation_error_not_an_integrity_error():
    with pytest.raises(ValidationError) as refused:
        ProjectKPIFactory(baseline_value=Decimal("120"))
    assert "Percent values must be between 0 and 100." in str(refused.value)
    assert ProjectKPI.objects.count() == 0


def test_measurement_before_baseline_is_refused():
    project_kpi = ProjectKPIFactory(baseline_date=dt.date(2024, 1, 10))
    with pytest.raises(ValidationError) as refused:
        MeasurementFactory(project_kpi=project_kpi, measured_on=dt.date(2024, 1, 9))
    assert "measured_on" in refused.value.message_dict


def test_second_measurement_on_same_date_is_refused():
    measurement = MeasurementFactory()
    with pytest.raises(ValidationError):
        MeasurementFactory(project_kpi=measurement.project_kpi, measured_on=measurement.measured_on)


def test_kpi_unit_frozen_once_in_use():
    project_kpi = ProjectKPIFactory()
    with pytest.raises(ValidationError):
        services.kpi_update(actor=None, kpi=project_kpi.kpi, changes=services.KPIFields(unit="hours"))
    services.kpi_update(actor=None, kpi=project_kpi.kpi, changes=services.KPIFields(name="Renamed"))


def test_account_manager_cannot_change_catalogue(account_manager):
    with pytest.raises(PermissionDenied):
        services.kpi_create(
            actor=account_manager,
            fields=services.KPIFields(code="x", name="X", unit="count", direction="higher_is_better"),
        )


def test_deleting_project_deletes_its_kpis_and_measurements():
    measurement = MeasurementFactory()
    project = measurement.project_kpi.project
    project_delete(actor=None, project=project)
    measurement.refresh_from_db()
    measurement.project_kpi.refresh_from_db()
    assert measurement.deleted_at is not None
    assert measurement.project_kpi.deleted_at is not None
    actions = AuditEntry.objects.values("content_type__model").annotate(n=Count("id")).filter(action="delete")
    assert {row["content_type__model"] for row in actions} == {
        "innovationproject",
        "projectkpi",
        "measurement",
    }


def test_deleted_kpi_may_be_tracked_again():
    project_kpi = ProjectKPIFactory()
    services.project_kpi_delete(actor=None, project_kpi=project_kpi)
    again = ProjectKPIFactory(project=project_kpi.project, kpi=project_kpi.kpi)
    assert again.pk != project_kpi.pk


def test_measurement_update_versioned_and_audited():
    measurement = MeasurementFactory(value=Decimal("70"))
    updated = services.measurement_update(
        actor=None, measurement=measurement, changes=services.MeasurementFields(value=Decimal("72.5"))
    )
    assert updated.version == 2
    entry = AuditEntry.objects.filter(object_id=measurement.pk, content_type__model="measurement").first()
    assert entry.changes["value"] == {"before": "70.0000", "after": "72.5000"}


def test_latest_value_and_improvement_surface_without_per_row_queries(django_assert_num_queries, admin_user):
    kpi = KPIFactory(unit="hours", direction="lower_is_better")
    for index in range(5):
        project_kpi = ProjectKPIFactory(kpi=kpi, baseline_value=Decimal("21"))
        MeasurementFactory(project_kpi=project_kpi, measured_on=dt.date(2024, 3, 1), value=Decimal("19"))
        MeasurementFactory(
            project_kpi=project_kpi, measured_on=dt.date(2024, 4, 1), value=Decimal("17") + index
        )
    access.role_of(admin_user)  # the role is looked up once per request, not per list
    with django_assert_num_queries(1):
        rows = list(selectors.project_kpi_list(user=admin_user).order_by("id"))
        improvements = [row.improvement_pct for row in rows]
    assert rows[0].latest_value == Decimal("17") and rows[0].latest_measured_on == dt.date(2024, 4, 1)
    assert round(improvements[0], 2) == Decimal("19.05")
    assert improvements[4] == Decimal(0)  # 21 → 21


def test_project_impact_from_prefetched_kpis(django_assert_num_queries, admin_user):
    from projects import selectors as project_selectors

    project = ProjectFactory()
    fill = ProjectKPIFactory(project=project, kpi__unit="percent", baseline_value=Decimal("60"))
    turnaround = ProjectKPIFactory(
        project=project, kpi__unit="hours", kpi__direction="lower_is_better", baseline_value=Decimal("21")
    )
    MeasurementFactory(project_kpi=fill, value=Decimal("85"))
    MeasurementFactory(project_kpi=turnaround, value=Decimal("17"))
    ProjectFactory(relationship=project.relationship)  # a project without KPIs has no impact
    access.role_of(admin_user)
    with django_assert_num_queries(2):
        projects = list(
            selectors.with_kpi_stats(project_selectors.project_list(user=admin_user)).order_by("id")
        )
        impacts = [selectors.project_impact_pct(p) for p in projects]
    assert round(impacts[0], 2) == Decimal("30.36")
    assert impacts[1] is None
    assert Measurement.objects.count() == 2


def test_measurement_cannot_be_dated_in_the_future():
    project_kpi = ProjectKPIFactory()
    with pytest.raises(ValidationError) as refused:
        MeasurementFactory(project_kpi=project_kpi, measured_on=dt.date.today() + dt.timedelta(days=1))
    assert refused.value.message_dict["measured_on"] == ["A measurement cannot be dated in the future."]
    assert not Measurement.objects.exists()


def test_project_kpi_baseline_cannot_be_dated_in_the_future():
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    with pytest.raises(ValidationError) as refused:
        ProjectKPIFactory(baseline_date=tomorrow)
    assert refused.value.message_dict == {"baseline_date": ["A baseline cannot be dated in the future."]}
    assert ProjectKPIFactory(baseline_date=timezone.localdate()).baseline_date == timezone.localdate()


def test_project_kpi_target_equal_to_the_baseline_is_refused_on_add_and_update():
    with pytest.raises(ValidationError) as refused:
        ProjectKPIFactory(baseline_value=Decimal("60"), target_value=Decimal("60.00"))
    assert list(refused.value.message_dict) == ["target_value"]
    assert ProjectKPI.objects.count() == 0
    project_kpi = ProjectKPIFactory(baseline_value=Decimal("60"), target_value=Decimal("90"))
    # Moving the baseline onto the target is refused too (the row as a whole is checked).
    with pytest.raises(ValidationError) as refused:
        services.project_kpi_update(
            actor=None,
            project_kpi=project_kpi,
            changes=services.ProjectKPIFields(baseline_value=Decimal("90")),
        )
    assert "target_value" in refused.value.message_dict
    project_kpi.refresh_from_db()
    assert (project_kpi.baseline_value, project_kpi.version) == (Decimal("60"), 1)
