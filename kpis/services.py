"""Writes for the KPI catalogue, project KPIs and measurements.

Same contract as projects.services: atomic, rights-checked, validated, versioned, audited. A change
that can move a relationship's score asks for a recompute (kpis.tasks.request_score_recompute),
which runs after the transaction commits.
"""

import dataclasses
import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from kpis.models import KPI, Measurement, ProjectKPI
from kpis.scoring import periods_counting
from kpis.tasks import request_score_recompute
from projects import access
from projects.models import InnovationProject
from projects.records import (
    UNSET,
    Fields,
    RecordServices,
    Unset,
    record_create,
    record_soft_delete,
    record_update,
)

# --- KPI catalogue ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class KPIFields(Fields):
    external_id: str | Unset | None = UNSET
    code: str | Unset = UNSET
    name: str | Unset = UNSET
    unit: str | Unset = UNSET
    direction: str | Unset = UNSET
    description: str | Unset = UNSET


def kpi_create(*, actor, fields: KPIFields) -> KPI:
    access.ensure_can_manage(actor)
    return record_create(actor=actor, model=KPI, data=fields.given())


@transaction.atomic
def kpi_update(*, actor, kpi: KPI, changes: KPIFields, expected_version: int | None = None) -> KPI:
    access.ensure_can_manage(actor)
    data = changes.given()
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
    """Every month that counts a project tracking this KPI, per relationship."""
    today = timezone.localdate()
    periods: dict[int, set[dt.date]] = {}
    for relationship_id, delivered_on in (
        ProjectKPI.objects.filter(kpi=kpi, deleted_at__isnull=True)
        .values_list("project__relationship_id", "project__delivered_on")
        .distinct()
    ):
        periods.setdefault(relationship_id, set()).update(periods_counting(delivered_on, through=today))
    for relationship_id, months in periods.items():
        request_score_recompute(relationship_id, periods=months, reason=f"KPI {kpi.pk} changed")


def _request_recompute_for_project(
    project: InnovationProject, *, reason: str, since: dt.date | None = None
) -> None:
    """The months whose score counts `project` (from the month of `since` on), and the current one."""
    request_score_recompute(
        project.relationship_id,
        periods=periods_counting(project.delivered_on, since=since, through=timezone.localdate()),
        reason=reason,
    )


# --- Project KPIs -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProjectKPIFields(Fields):
    external_id: str | Unset | None = UNSET
    project: InnovationProject | Unset = UNSET
    kpi: KPI | Unset = UNSET
    baseline_value: Decimal | Unset = UNSET
    baseline_date: dt.date | Unset = UNSET
    target_value: Decimal | Unset | None = UNSET


def _check_project_writable(actor, project: InnovationProject) -> None:
    if project.deleted_at is not None:
        raise ValidationError({"project": "This project has been deleted."})
    access.ensure_can_write(actor, project.relationship)


@transaction.atomic
def project_kpi_add(*, actor, fields: ProjectKPIFields) -> ProjectKPI:
    """Track a catalogue KPI on a project, with its baseline and optional target."""
    data = fields.given()
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
    _request_recompute_for_project(project, reason=f"project KPI {project_kpi.pk} added")
    return project_kpi


@transaction.atomic
def project_kpi_update(
    *, actor, project_kpi: ProjectKPI, changes: ProjectKPIFields, expected_version: int | None = None
) -> ProjectKPI:
    _check_project_writable(actor, project_kpi.project)
    data = changes.given()
    for parent in ("project", "kpi"):
        if parent in data and getattr(data[parent], "pk", data[parent]) != getattr(
            project_kpi, f"{parent}_id"
        ):
            raise ValidationError({parent: "A tracked KPI cannot move; remove it and add a new one."})
        data.pop(parent, None)
    project_kpi = record_update(
        actor=actor, instance=project_kpi, data=data, expected_version=expected_version
    )
    _request_recompute_for_project(project_kpi.project, reason=f"project KPI {project_kpi.pk} changed")
    return project_kpi


@transaction.atomic
def project_kpi_delete(*, actor, project_kpi: ProjectKPI, expected_version: int | None = None) -> ProjectKPI:
    """Stop tracking a KPI: its measurements are deleted with it (projects.records cascades)."""
    access.ensure_can_write(actor, project_kpi.project.relationship)
    project_kpi = record_soft_delete(actor=actor, instance=project_kpi, expected_version=expected_version)
    _request_recompute_for_project(project_kpi.project, reason=f"project KPI {project_kpi.pk} deleted")
    return project_kpi


# --- Measurements -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class MeasurementFields(Fields):
    external_id: str | Unset | None = UNSET
    project_kpi: ProjectKPI | Unset = UNSET
    measured_on: dt.date | Unset = UNSET
    value: Decimal | Unset = UNSET


def _check_project_kpi_writable(actor, project_kpi: ProjectKPI) -> None:
    if project_kpi.deleted_at is not None:
        raise ValidationError({"project_kpi": "This KPI is no longer tracked on the project."})
    _check_project_writable(actor, project_kpi.project)


def check_measured_on(project_kpi: ProjectKPI | None, measured_on, *, today: dt.date | None = None) -> None:
    """A measurement is a fact: it happened, and after the baseline it is compared with.

    Forms call it too, to report it beside their other field errors before calling a service. A
    caller checking many measurements gives `today` once."""
    if measured_on is not None and measured_on > (today or timezone.localdate()):
        raise ValidationError({"measured_on": "A measurement cannot be dated in the future."})
    if project_kpi is not None and measured_on is not None and measured_on < project_kpi.baseline_date:
        baseline = f"{project_kpi.baseline_date:%Y-%m-%d}"
        raise ValidationError({"measured_on": f"A measurement cannot predate the baseline ({baseline})."})


@transaction.atomic
def measurement_record(*, actor, fields: MeasurementFields) -> Measurement:
    """Record a dated value of a project KPI (one per date)."""
    data = fields.given()
    project_kpi = data.get("project_kpi")
    if not isinstance(project_kpi, ProjectKPI):
        raise ValidationError({"project_kpi": "This field is required."})
    _check_project_kpi_writable(actor, project_kpi)
    check_measured_on(project_kpi, data.get("measured_on"))
    measurement = record_create(actor=actor, model=Measurement, data={**data, "unit": project_kpi.unit})
    _request_recompute_for_project(
        project_kpi.project, since=measurement.measured_on, reason=f"measurement {measurement.pk} recorded"
    )
    return measurement


@transaction.atomic
def measurement_update(
    *, actor, measurement: Measurement, changes: MeasurementFields, expected_version: int | None = None
) -> Measurement:
    project_kpi = measurement.project_kpi
    _check_project_kpi_writable(actor, project_kpi)
    data = changes.given()
    if "project_kpi" in data:
        if getattr(data["project_kpi"], "pk", data["project_kpi"]) != measurement.project_kpi_id:
            raise ValidationError({"project_kpi": "A measurement cannot move to another KPI."})
        data.pop("project_kpi")
    check_measured_on(project_kpi, data.get("measured_on"))
    measured_on_before = measurement.measured_on
    measurement = record_update(
        actor=actor, instance=measurement, data=data, expected_version=expected_version
    )
    # A measurement moved to another date changes the months from the earlier of its two dates on.
    _request_recompute_for_project(
        project_kpi.project,
        since=min(filter(None, (measured_on_before, measurement.measured_on))),
        reason=f"measurement {measurement.pk} changed",
    )
    return measurement


@transaction.atomic
def measurement_delete(
    *, actor, measurement: Measurement, expected_version: int | None = None
) -> Measurement:
    access.ensure_can_write(actor, measurement.project_kpi.project.relationship)
    measurement = record_soft_delete(actor=actor, instance=measurement, expected_version=expected_version)
    _request_recompute_for_project(
        measurement.project_kpi.project,
        since=measurement.measured_on,
        reason=f"measurement {measurement.pk} deleted",
    )
    return measurement


# The three writes of each record type, for the interfaces that write every type alike.
KPI_CATALOGUE = RecordServices(
    fields=KPIFields, instance="kpi", create=kpi_create, update=kpi_update, delete=kpi_delete
)
PROJECT_KPI = RecordServices(
    fields=ProjectKPIFields,
    instance="project_kpi",
    create=project_kpi_add,
    update=project_kpi_update,
    delete=project_kpi_delete,
)
MEASUREMENT = RecordServices(
    fields=MeasurementFields,
    instance="measurement",
    create=measurement_record,
    update=measurement_update,
    delete=measurement_delete,
)
