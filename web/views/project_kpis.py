"""The project page's inline edits of KPIs and measurements (htmx).

Inline edits post with htmx and get the whole project page back; the form's `hx-select` picks the
KPI section (and the history, out of band), so the page and its fragments can never disagree.
Without JavaScript the same forms post normally and redirect back."""

from functools import partial

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from kpis import selectors as kpi_selectors
from kpis import services as kpi_services
from kpis.models import Measurement, ProjectKPI
from kpis.services import MeasurementFields, ProjectKPIFields
from projects.records import VersionConflict, conflict_message
from web.forms.kpis import MeasurementEditForm, MeasurementForm, ProjectKPIAddForm, ProjectKPIEditForm
from web.forms.projects import DeleteForm, add_service_errors
from web.views.common import writable_project
from web.views.project_page import project_page


def _after_kpi_write(request, project, notice: str):
    """Success: htmx gets the page (it swaps the KPI section); a plain post is redirected."""
    if request.htmx:
        return project_page(request, project, kpi_notice=notice)
    messages.success(request, notice)
    return redirect(reverse("project-detail", args=[project.pk]) + "#kpis")


def _conflict_notice(current, reader) -> str:
    return (
        f"{conflict_message(current, reader=reader)} Your changes were not saved; the current values are "
        "shown. Re-enter your change if it is still needed."
    )


@require_POST
@login_required
def project_kpi_add(request, pk: int):
    project = writable_project(request, pk)
    tracked = list(_live_project_kpis(request, project).values_list("kpi_id", flat=True))
    form = ProjectKPIAddForm(request.POST, catalogue=kpi_selectors.kpi_catalogue(), tracked_kpi_ids=tracked)
    if form.is_valid():
        try:
            project_kpi = kpi_services.project_kpi_add(
                actor=request.user, fields=ProjectKPIFields(project=project, **form.cleaned_data)
            )
        except ValidationError as error:
            add_service_errors(form, error, form.message_fields)
        else:
            return _after_kpi_write(request, project, f"Now tracking {project_kpi.kpi.name}.")
    return project_page(request, project, status=422, add_kpi_form=form)


def _live_project_kpis(request, project):
    return kpi_selectors.project_kpi_list(user=request.user).filter(project=project)


def _project_kpi(request, project, kpi_pk: int) -> ProjectKPI:
    try:
        return _live_project_kpis(request, project).select_related("project__relationship").get(pk=kpi_pk)
    except ProjectKPI.DoesNotExist as missing:
        raise Http404("This KPI is not tracked on this project.") from missing


@require_POST
@login_required
def project_kpi_edit(request, pk: int, kpi_pk: int):
    project = writable_project(request, pk)
    project_kpi = _project_kpi(request, project, kpi_pk)
    form = ProjectKPIEditForm(request.POST, project_kpi=project_kpi)
    if form.is_valid():
        try:
            kpi_services.project_kpi_update(
                actor=request.user,
                project_kpi=project_kpi,
                changes=form.service_fields(),
                expected_version=form.cleaned_data["version"],
            )
        except VersionConflict as conflict:
            current = conflict.current
            return project_page(
                request,
                project,
                status=409,
                edit_kpi_id=project_kpi.pk,
                kpi_edit_form=ProjectKPIEditForm(
                    project_kpi=current, initial=ProjectKPIEditForm.initial_from(current)
                ),
                kpi_conflict=_conflict_notice(current, request.user),
                kpi_conflict_differences=form.conflict_differences(current),
            )
        except ValidationError as error:
            add_service_errors(form, error, form.message_fields)
        else:
            return _after_kpi_write(request, project, f"Saved {project_kpi.kpi.name}.")
    return project_page(request, project, status=422, edit_kpi_id=project_kpi.pk, kpi_edit_form=form)


@require_POST
@login_required
def project_kpi_delete(request, pk: int, kpi_pk: int):
    project = writable_project(request, pk)
    project_kpi = _project_kpi(request, project, kpi_pk)
    return _inline_delete(
        request,
        project,
        delete=partial(kpi_services.project_kpi_delete, actor=request.user, project_kpi=project_kpi),
        conflict_outcome=f"{project_kpi.kpi.name} was not removed. Check the current values and try again.",
        done=f"Stopped tracking {project_kpi.kpi.name}.",
    )


def _inline_delete(request, project, *, delete, conflict_outcome: str, done: str):
    """Soft-delete a KPI or measurement from the project page, at the version the page showed."""
    form = DeleteForm(request.POST)
    if not form.is_valid():
        return HttpResponse("Missing version.", status=400)
    try:
        delete(expected_version=form.cleaned_data["version"])
    except VersionConflict as conflict:
        notice = f"{conflict_message(conflict.current, reader=request.user)} {conflict_outcome}"
        return project_page(request, project, status=409, kpi_error=notice)
    return _after_kpi_write(request, project, done)


@require_POST
@login_required
def measurement_record(request, pk: int):
    project = writable_project(request, pk)
    project_kpis = list(_live_project_kpis(request, project).select_related("project__relationship"))
    form = MeasurementForm(request.POST, project_kpis=project_kpis)
    if form.is_valid():
        try:
            measurement = kpi_services.measurement_record(
                actor=request.user, fields=MeasurementFields(**form.cleaned_data)
            )
        except ValidationError as error:
            add_service_errors(form, error, form.message_fields)
        else:
            notice = (
                f"Recorded {measurement.project_kpi.kpi.name}: {measurement.value.normalize():f} "
                f"on {measurement.measured_on:%d %b %Y}."
            )
            return _after_kpi_write(request, project, notice)
    return project_page(request, project, status=422, measurement_form=form)


def _measurement(request, project, measurement_pk: int) -> Measurement:
    try:
        return (
            kpi_selectors.measurement_list(user=request.user)
            .select_related("project_kpi__kpi", "project_kpi__project__relationship")
            .get(pk=measurement_pk, project_kpi__project=project)
        )
    except Measurement.DoesNotExist as missing:
        raise Http404("No such measurement on this project.") from missing


@require_POST
@login_required
def measurement_edit(request, pk: int, measurement_pk: int):
    project = writable_project(request, pk)
    measurement = _measurement(request, project, measurement_pk)
    form = MeasurementEditForm(request.POST, measurement=measurement, project_kpi=measurement.project_kpi)
    if form.is_valid():
        try:
            kpi_services.measurement_update(
                actor=request.user,
                measurement=measurement,
                changes=form.service_fields(),
                expected_version=form.cleaned_data["version"],
            )
        except VersionConflict as conflict:
            current = conflict.current
            return project_page(
                request,
                project,
                status=409,
                edit_measurement_id=measurement.pk,
                measurement_edit_form=MeasurementEditForm(
                    measurement=current,
                    project_kpi=measurement.project_kpi,
                    initial=MeasurementEditForm.initial_from(current),
                ),
                measurement_conflict=_conflict_notice(current, request.user),
                measurement_conflict_differences=form.conflict_differences(current),
            )
        except ValidationError as error:
            add_service_errors(form, error, form.message_fields)
        else:
            return _after_kpi_write(request, project, "Measurement saved.")
    return project_page(
        request, project, status=422, edit_measurement_id=measurement.pk, measurement_edit_form=form
    )


@require_POST
@login_required
def measurement_delete(request, pk: int, measurement_pk: int):
    project = writable_project(request, pk)
    measurement = _measurement(request, project, measurement_pk)
    return _inline_delete(
        request,
        project,
        delete=partial(kpi_services.measurement_delete, actor=request.user, measurement=measurement),
        conflict_outcome="The measurement was not deleted. Check the current value and try again.",
        done=f"Deleted the measurement of {measurement.measured_on:%d %b %Y}.",
    )
