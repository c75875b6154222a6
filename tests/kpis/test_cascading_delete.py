"""Soft deletes cascade set-based: a relationship takes its projects, their tracked KPIs and their
measurements, in a number of statements that does not grow with the number of rows."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kpis.models import Measurement, ProjectKPI
from projects import services as project_services
from projects.models import AuditEntry, InnovationProject
from tests.factories import (
    KPIFactory,
    MeasurementFactory,
    ProjectFactory,
    ProjectKPIFactory,
    RelationshipFactory,
)

pytestmark = pytest.mark.django_db


def _relationship_with(projects: int, kpis: int, measurements: int):
    relationship = RelationshipFactory()
    catalogue = [KPIFactory() for _ in range(kpis)]
    for _ in range(projects):
        project = ProjectFactory(relationship=relationship)
        for kpi in catalogue:
            project_kpi = ProjectKPIFactory(project=project, kpi=kpi)
            for day in range(measurements):
                MeasurementFactory(project_kpi=project_kpi, measured_on=dt.date(2024, 2, 1 + day))
    return relationship


def _delete_counting_queries(relationship) -> int:
    with CaptureQueriesContext(connection) as queries:
        project_services.relationship_delete(actor=None, relationship=relationship)
    return len(queries)


def test_relationship_delete_costs_the_same_statements_for_one_row_or_many():
    small = _delete_counting_queries(_relationship_with(projects=1, kpis=1, measurements=1))
    large = _delete_counting_queries(_relationship_with(projects=3, kpis=2, measurements=4))
    assert small == large


def test_every_row_deleted_with_its_relationship_is_a_tombstone_with_its_own_audit_entry():
    relationship = _relationship_with(projects=2, kpis=2, measurements=3)
    project_ids = list(relationship.projects.values_list("pk", flat=True))
    before = {
        (model, pk): version
        for model in (InnovationProject, ProjectKPI, Measurement)
        for pk, version in model.objects.values_list("pk", "version")
    }
    project_services.relationship_delete(actor=None, relationship=relationship)

    live = InnovationProject.objects.filter(pk__in=project_ids, deleted_at__isnull=True)
    assert not live.exists()
    assert not ProjectKPI.objects.filter(project__in=project_ids, deleted_at__isnull=True).exists()
    assert not Measurement.objects.filter(
        project_kpi__project__in=project_ids, deleted_at__isnull=True
    ).exists()
    for (model, pk), version in before.items():
        row = model.objects.get(pk=pk)
        assert row.version == version + 1, f"{model.__name__} {pk} kept its version"
        entry = AuditEntry.objects.get(
            content_type__model=model._meta.model_name, object_id=pk, action=AuditEntry.Action.DELETE
        )
        assert entry.version == row.version
        assert entry.changes["deleted_at"]["before"] is None
        assert entry.object_repr == str(row)[:300]
    # 2 projects, 4 tracked KPIs, 12 measurements.
    assert len(before) == 18


def test_rows_deleted_before_keep_their_own_tombstone():
    measurement = MeasurementFactory()
    project_kpi = measurement.project_kpi
    from kpis import services as kpi_services

    kpi_services.measurement_delete(actor=None, measurement=measurement)
    measurement.refresh_from_db()
    first_deleted_at, first_version = measurement.deleted_at, measurement.version
    project_services.project_delete(actor=None, project=project_kpi.project)
    measurement.refresh_from_db()
    assert (measurement.deleted_at, measurement.version) == (first_deleted_at, first_version)
    assert (
        AuditEntry.objects.filter(
            object_id=measurement.pk, action="delete", content_type__model="measurement"
        ).count()
        == 1
    )


def test_unknown_field_is_refused_before_anything_is_written():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        project_services.ProjectFields.of({"title": "X", "colour": "red"})
    assert refused.value.message_dict == {"colour": ["Unknown field."]}


def test_fields_left_unset_are_not_written():
    project = ProjectFactory(title="Before", description="Kept")
    project_services.project_update(
        actor=None, project=project, changes=project_services.ProjectFields(title="After")
    )
    project.refresh_from_db()
    assert (project.title, project.description) == ("After", "Kept")
