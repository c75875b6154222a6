"""Writes for the KPI catalogue, project KPIs and measurements.

Same contract as projects.services: atomic, rights-checked, validated, versioned, audited. A change
that can move a relationship's score asks for a recompute (kpis.tasks.request_score_recompute),
which runs after the transaction commits.
"""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from kpis.models import KPI, Measurement, ProjectKPI
from kpis.tasks import request_score_recompute
from projects import access
from projects.models import InnovationProject
from projects.records import record_create, record_soft_delete, record_update

# --- KPI catalogue ----------------------------------------------------------------------------


def kpi_create(*, actor, data: dict[str, Any]) -> KPI:
    access.ensure_can_manage(actor)
    return record_create(actor=actor, model=KPI, data=data)


@transaction.atomic
def kpi_update(*, actor, kpi: KPI, data: dict[str, Any], expected_version: int | None = None) -> KPI:
    access.ensure_can_manage(actor)
    in_use = kpi.project_kpis.filter(deleted_at__isnull=True).exists()
    for field in ("unit", "direction"):
        if field in data and data[field] != getattr(kpi, field) and in_use:
            raise ValidationError({field: f"This KPI is tracked on projects; its {field} cannot change."})
    kpi = record_update(actor=actor, instance=kpi, data=data, expected_version=expected_version)
    if "direction" in data or "unit" in data:
        _request_recompute_for_kpi(kpi)
    return kpi


@transaction.atomic
def kpi_delete(*, actor, kpi: KPI, expected_version: int | None = None) -> KPI:
    access.ensure_can_manage(actor)
    if kpi.project_kpis.filter(deleted_at__isnull=True).exists():
        raise ValidationError("This KPI is tracked on projects and cannot be deleted.")
    return record_soft_delete(actor=actor, instance=kpi, expected_version=expected_version)


def _request_recompute_for_kpi(kpi: KPI) -> None:
    relationship_ids = (
        ProjectKPI.objects.filter(kpi=kpi, deleted_at__isnull=True)
        .values_list("project__relationship_id", flat=True)
        .distinct()
    )
    for relationship_id in relationship_ids:
        request_score_recompute(relationship_id)


# --- Project KPIs -----------------------------------------------------------------------------


def _check_project_writable(actor, project: InnovationProject) -> None:
    if project.deleted_at is not None:
        raise ValidationError({"project": "This project has been deleted."})
    access.ensure_can_write(actor, project.relationship)


@transaction.atomic
def project_kpi_add(*, actor, data: dict[str, Any]) -> ProjectKPI:
    """Track a catalogue KPI on a project, with its baseline and optional target."""
    project, kpi = data.get("project"), data.get("kpi")
    errors = {}
    if not isinstance(project, InnovationProject):
        errors["project"] = "This field is required."
    if not isinstance(kpi, KPI):
        errors["kpi"] = "This field is required."
    elif kpi.deleted_at is not None:
        errors["kpi"] = "This KPI has been removed from the catalogue."
    if errors:
        raise ValidationError(errors)
    _check_project_writable(actor, project)
    project_kpi = record_create(actor=actor, model=ProjectKPI, data={**data, "unit": kpi.unit})
    request_score_recompute(project.relationship_id)
    return project_kpi


@transaction.atomic
def project_kpi_update(
    *, actor, project_kpi: ProjectKPI, data: dict[str, Any], expected_version: int | None = None
) -> ProjectKPI:
    _check_project_writable(actor, project_kpi.project)
    data = dict(data)
    for parent in ("project", "kpi"):
        if parent in data and getattr(data[parent], "pk", data[parent]) != getattr(
            project_kpi, f"{parent}_id"
        ):
            raise ValidationError({parent: "A tracked KPI cannot move; remove it and add a new one."})
        data.pop(parent, None)
    project_kpi = record_update(
        actor=actor, instance=project_kpi, data=data, expected_version=expected_version
    )
    request_score_recompute(project_kpi.project.relationship_id)
    return project_kpi


@transaction.atomic
def project_kpi_delete(*, actor, project_kpi: ProjectKPI, expected_version: int | None = None) -> ProjectKPI:
    """Stop tracking a KPI: its measurements are deleted with it."""
    access.ensure_can_write(actor, project_kpi.project.relationship)
    project_kpi = record_soft_delete(actor=actor, instance=project_kpi, expected_version=expected_version)
    for measurement in project_kpi.measurements.filter(deleted_at__isnull=True):
        record_soft_delete(actor=actor, instance=measurement)
    request_score_recompute(project_kpi.project.relationship_id)
    return project_kpi


# --- Measurements -----------------------------------------------------------------------------


def _check_project_kpi_writable(actor, project_kpi: ProjectKPI) -> None:
    if project_kpi.deleted_at is not None:
        raise ValidationError({"project_kpi": "This KPI is no longer tracked on the project."})
    _check_project_writable(actor, project_kpi.project)


def check_measured_on(project_kpi: ProjectKPI | None, measured_on) -> None:
    """A measurement is a fact: it happened, and after the baseline it is compared with.

    Forms call it too, to report it beside their other field errors before calling a service."""
    if measured_on is not None and measured_on > timezone.localdate():
        raise ValidationError({"measured_on": "A measurement cannot be dated in the future."})
    if project_kpi is not None and measured_on is not None and measured_on < project_kpi.baseline_date:
        baseline = f"{project_kpi.baseline_date:%Y-%m-%d}"
        raise ValidationError({"measured_on": f"A measurement cannot predate the baseline ({baseline})."})


@transaction.atomic
def measurement_record(*, actor, data: dict[str, Any]) -> Measurement:
    """Record a dated value of a project KPI (one per date)."""
    project_kpi = data.get("project_kpi")
    if not isinstance(project_kpi, ProjectKPI):
        raise ValidationError({"project_kpi": "This field is required."})
    _check_project_kpi_writable(actor, project_kpi)
    check_measured_on(project_kpi, data.get("measured_on"))
    measurement = record_create(actor=actor, model=Measurement, data={**data, "unit": project_kpi.unit})
    request_score_recompute(project_kpi.project.relationship_id)
    return measurement


@transaction.atomic
def measurement_update(
    *, actor, measurement: Measurement, data: dict[str, Any], expected_version: int | None = None
) -> Measurement:
    project_kpi = measurement.project_kpi
    _check_project_kpi_writable(actor, project_kpi)
    data = dict(data)
    if "project_kpi" in data:
        if getattr(data["project_kpi"], "pk", data["project_kpi"]) != measurement.project_kpi_id:
            raise ValidationError({"project_kpi": "A measurement cannot move to another KPI."})
        data.pop("project_kpi")
    check_measured_on(project_kpi, data.get("measured_on"))
    measurement = record_update(
        actor=actor, instance=measurement, data=data, expected_version=expected_version
    )
    request_score_recompute(project_kpi.project.relationship_id)
    return measurement


@transaction.atomic
def measurement_delete(
    *, actor, measurement: Measurement, expected_version: int | None = None
) -> Measurement:
    access.ensure_can_write(actor, measurement.project_kpi.project.relationship)
    measurement = record_soft_delete(actor=actor, instance=measurement, expected_version=expected_version)
    request_score_recompute(measurement.project_kpi.project.relationship_id)
    return measurement
