"""Pages that show projects together with their KPIs and scores: relationship list and page, project
list (and its CSV export), the project page and its inline KPI and measurement editing.

Views parse input, call a selector or a service, and render. Inline edits post with htmx and get
the whole project page back; the form's `hx-select` picks the KPI section (and the history, out of
band), so the page and its fragments can never disagree. Without JavaScript the same forms post
normally and redirect back.
"""

import csv
import re
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from functools import partial

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Case, IntegerField, Value, When
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from kpis import scoring
from kpis import selectors as kpi_selectors
from kpis import services as kpi_services
from kpis.models import Measurement, ProjectKPI
from projects import access
from projects import selectors as project_selectors
from projects.filters import ProjectFilterSet, RelationshipFilterSet
from projects.models import InnovationProject, Relationship
from projects.records import VersionConflict, conflict_message
from web.forms.kpis import MeasurementEditForm, MeasurementForm, ProjectKPIAddForm, ProjectKPIEditForm
from web.forms.projects import DeleteForm, add_service_errors

PAGE_SIZE = 25
Stage = InnovationProject.Stage
STAGE_ORDER = InnovationProject.STAGE_ORDER

# Sortable columns of the project list: query parameter -> ordering (ties broken by id).
PROJECT_SORTS = {
    "title": ["title"],
    "relationship": ["relationship__name", "title"],
    "level": ["level_order", "title"],
    "stage": ["stage_order", "title"],
    "owner": ["owner__first_name", "owner__last_name", "title"],
    "delivered": ["delivered_on", "title"],
    "updated": ["updated_at"],
}
DEFAULT_PROJECT_SORT = "-updated"


def _stage_order():
    return Case(
        *(When(stage=stage, then=Value(index)) for index, stage in enumerate(STAGE_ORDER)),
        output_field=IntegerField(),
    )


def _level_order():
    return Case(
        *(When(level=level, then=Value(index)) for index, level in enumerate(InnovationProject.Level.values)),
        output_field=IntegerField(),
    )


def _query_without(request, *names: str) -> str:
    query = request.GET.copy()
    for name in names:
        query.pop(name, None)
    return query.urlencode()


# --- Relationships ----------------------------------------------------------------------------


@require_GET
@login_required
def relationship_list(request):
    filterset = RelationshipFilterSet(
        request.GET or None,
        queryset=project_selectors.relationship_list(user=request.user).order_by("name", "id"),
        user=request.user,
    )
    relationships = kpi_selectors.with_current_score(filterset.qs)
    page = Paginator(relationships, PAGE_SIZE).get_page(request.GET.get("page"))
    for relationship in page:
        relationship.current_score = kpi_selectors.current_score(relationship)
    filterset.form.fields["status"].widget = _checkboxes(filterset.form.fields["status"])
    context = {"page": page, "filter": filterset, "query": _query_without(request, "page")}
    return render(request, "web/relationship_list.html", context)


@require_GET
@login_required
def relationship_detail(request, pk: int):
    relationships = project_selectors.relationship_list(user=request.user).prefetch_related(
        "account_managers", "leadership_pairs"
    )
    try:
        relationship = kpi_selectors.with_current_score(relationships).get(pk=pk)
    except Relationship.DoesNotExist as missing:
        raise Http404("No such relationship.") from missing
    score = kpi_selectors.current_score(relationship)
    projects = kpi_selectors.with_kpi_stats(
        project_selectors.project_list(user=request.user)
        .filter(relationship=relationship)
        .order_by("title", "id")
    )
    by_stage = defaultdict(list)
    for project in projects:
        project.impact_pct = kpi_selectors.project_impact_pct(project)
        by_stage[project.stage].append(project)
    stages = [{"stage": stage, "label": stage.label, "projects": by_stage[stage]} for stage in STAGE_ORDER]
    context = {
        "relationship": relationship,
        "score": score,
        "score_components": _score_components(score),
        "stages": stages,
        "project_count": sum(len(group) for group in by_stage.values()),
        "can_write": access.can_write_relationship(request.user, relationship),
    }
    return render(request, "web/relationship_detail.html", context)


def _score_components(score) -> list[dict]:
    if score is None:
        return []
    weights = scoring.weights()
    labels = {
        "impact": "Impact — mean KPI improvement of delivered projects, weighted by level",
        "attainment": "Attainment — mean target achievement",
        "realisation": "Realisation — realised ÷ expected annual benefit",
        "continuity": "Continuity — quarters of the last four with a delivery",
    }
    return [
        {
            "name": name,
            "label": labels[name],
            "value": getattr(score, name),
            "weight": weights[name],
            "used": name in (score.basis or []),
        }
        for name in scoring.COMPONENTS
    ]


# --- Project list and export ------------------------------------------------------------------


def _filtered_projects(request):
    """The project list exactly as the list page shows it: filtered, searched, sorted."""
    filterset = ProjectFilterSet(
        request.GET or None, queryset=project_selectors.project_list(user=request.user), user=request.user
    )
    sort = request.GET.get("sort") or DEFAULT_PROJECT_SORT
    key = sort.removeprefix("-")
    if key not in PROJECT_SORTS:
        sort, key = DEFAULT_PROJECT_SORT, DEFAULT_PROJECT_SORT.removeprefix("-")
    descending = sort.startswith("-")
    ordering = [f"-{field}" if descending else field for field in PROJECT_SORTS[key]]
    ordering.append("-id" if descending else "id")
    invalid = filterset.is_bound and not filterset.is_valid()
    projects = filterset.queryset.none() if invalid else filterset.qs
    projects = projects.annotate(stage_order=_stage_order(), level_order=_level_order()).order_by(*ordering)
    return filterset, kpi_selectors.with_kpi_stats(projects), sort


def _with_impact(projects):
    for project in projects:
        project.impact_pct = kpi_selectors.project_impact_pct(project)
        yield project


@require_GET
@login_required
def project_list(request):
    filterset, projects, sort = _filtered_projects(request)
    page = Paginator(projects, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = list(_with_impact(page))
    columns = [
        ("title", "Project"),
        ("relationship", "Relationship"),
        ("level", "Level"),
        ("stage", "Stage"),
        ("owner", "Owner"),
        ("delivered", "Delivered"),
    ]
    base_query = _query_without(request, "page", "sort")
    headers = []
    for key, label in columns:
        current = sort.removeprefix("-") == key
        next_sort = key if not current or sort.startswith("-") else f"-{key}"
        headers.append(
            {
                "label": label,
                "query": "&".join(part for part in (base_query, f"sort={next_sort}") if part),
                "aria_sort": ("descending" if sort.startswith("-") else "ascending") if current else None,
            }
        )
    form = filterset.form
    for name in ("stage", "level"):
        form.fields[name].widget = _checkboxes(form.fields[name])
    for name in ("delivered_after", "delivered_before"):
        form.fields[name].widget.input_type = "date"
    form.fields["owner"].label_from_instance = lambda user: user.get_full_name() or user.get_username()
    for name in ("relationship", "owner", "client", "provider"):
        form.fields[name].empty_label = "Any"
    context = {
        "page": page,
        "rows": rows,
        "filter": filterset,
        "form": form,
        "headers": headers,
        "sort": sort,
        "query": _query_without(request, "page"),
        "export_query": _query_without(request, "page"),
        "filtered": bool(_query_without(request, "page", "sort")),
    }
    return render(request, "web/project_list.html", context)


def _checkboxes(field):
    from django import forms

    widget = forms.CheckboxSelectMultiple()
    widget.choices = field.choices
    return widget


class _Echo:
    def write(self, value):
        return value


def _csv_cell(value) -> str:
    """Text as a spreadsheet will take it, never as a formula (=, +, -, @ lead a formula)."""
    text = "" if value is None else str(value)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


CSV_HEADER = ["Project", "Relationship", "Level", "Stage", "Owner", "Delivered", "Impact (%)"]


def project_csv_row(project) -> list[str]:
    owner = project.owner.get_full_name() or project.owner.get_username() if project.owner else ""
    impact = project.impact_pct
    return [
        _csv_cell(project.title),
        _csv_cell(project.relationship.name),
        project.get_level_display(),
        project.get_stage_display(),
        _csv_cell(owner),
        project.delivered_on.isoformat() if project.delivered_on else "",
        "" if impact is None else str(impact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)),
    ]


@require_GET
@login_required
def project_export(request):
    """The filtered, sorted project list (all its pages) as CSV, with the list's columns."""
    filterset, projects, _sort = _filtered_projects(request)
    if filterset.is_bound and not filterset.is_valid():
        return HttpResponse("The filters are not valid; fix them on the project list.", status=400)
    writer = csv.writer(_Echo())

    def rows():
        yield "\ufeff"  # so that spreadsheet programs read the file as UTF-8
        yield writer.writerow(CSV_HEADER)
        for project in _with_impact(projects.iterator(chunk_size=500)):
            yield writer.writerow(project_csv_row(project))

    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="projects-{stamp}.csv"'
    return response


# --- Project page -----------------------------------------------------------------------------


def _visible_project(request, pk: int) -> InnovationProject:
    try:
        return project_selectors.project_list(user=request.user).get(pk=pk)
    except InnovationProject.DoesNotExist as missing:
        raise Http404("No such project.") from missing


def _writable_project(request, pk: int) -> InnovationProject:
    project = _visible_project(request, pk)
    if not access.can_write_relationship(request.user, project.relationship):
        raise PermissionDenied("You may not change this project.")
    return project


def _chart_data(project_kpis, measurements_by_kpi) -> dict:
    data = {}
    for project_kpi in project_kpis:
        points = [
            {"x": m.measured_on.isoformat(), "y": float(m.value)}
            for m in sorted(measurements_by_kpi[project_kpi.pk], key=lambda m: m.measured_on)
        ]
        data[str(project_kpi.pk)] = {
            "label": project_kpi.kpi.name,
            "unit": project_kpi.kpi.get_unit_display(),
            "baseline": {"x": project_kpi.baseline_date.isoformat(), "y": float(project_kpi.baseline_value)},
            "target": None if project_kpi.target_value is None else float(project_kpi.target_value),
            "points": points,
        }
    return data


def _project_page(request, project: InnovationProject, *, status: int = 200, **overrides):
    """Render the project page; `overrides` carry bound forms with errors and conflict notices."""
    user = request.user
    can_write = access.can_write_relationship(user, project.relationship)
    project_kpis = list(
        kpi_selectors.project_kpi_list(user=user).filter(project=project).order_by("kpi__name", "id")
    )
    measurements_by_kpi = defaultdict(list)
    measurements = (
        kpi_selectors.measurement_list(user=user)
        .filter(project_kpi__project=project)
        .order_by("-measured_on", "-id")
    )
    for measurement in measurements:
        measurements_by_kpi[measurement.project_kpi_id].append(measurement)
    for project_kpi in project_kpis:
        project_kpi.history = measurements_by_kpi[project_kpi.pk]
    project.impact_pct = scoring.project_impact_pct(
        project_kpi.improvement_pct for project_kpi in project_kpis
    )

    edit_kpi_id = overrides.pop("edit_kpi_id", None) or _int(request.GET.get("edit_kpi"))
    edit_measurement_id = overrides.pop("edit_measurement_id", None) or _int(
        request.GET.get("edit_measurement")
    )
    context = {
        "project": project,
        "relationship": project.relationship,
        "can_write": can_write and project.deleted_at is None,
        "stage_steps": _stage_steps(project),
        "next_stages": [
            {
                "value": stage,
                "label": Stage(stage).label,
                "dated": stage in (Stage.IN_PROGRESS, Stage.DELIVERED),
            }
            for stage in InnovationProject.allowed_next_stages(project.stage)
        ],
        "today": timezone.localdate(),
        "project_kpis": project_kpis,
        "chart_data": _chart_data(project_kpis, measurements_by_kpi),
        "history": _history_rows(kpi_selectors.project_history(project=project), project),
        "edit_kpi_id": edit_kpi_id,
        "edit_measurement_id": edit_measurement_id,
    }
    if context["can_write"]:
        context["add_kpi_form"] = ProjectKPIAddForm(
            catalogue=kpi_selectors.kpi_catalogue().order_by("name"),
            tracked_kpi_ids=[project_kpi.kpi_id for project_kpi in project_kpis],
        )
        context["measurement_form"] = MeasurementForm(project_kpis=project_kpis)
        context["stage_version"] = project.version
        if edit_kpi_id:
            editing = next((pk for pk in project_kpis if pk.pk == edit_kpi_id), None)
            if editing is not None:
                context["kpi_edit_form"] = ProjectKPIEditForm(
                    project_kpi=editing, initial=ProjectKPIEditForm.initial_from(editing)
                )
        if edit_measurement_id:
            for project_kpi in project_kpis:
                editing = next((m for m in project_kpi.history if m.pk == edit_measurement_id), None)
                if editing is not None:
                    context["measurement_edit_form"] = MeasurementEditForm(
                        measurement=editing,
                        project_kpi=project_kpi,
                        initial=MeasurementEditForm.initial_from(editing),
                    )
    context.update(overrides)
    return render(request, "web/project_detail.html", context, status=status)


_DECIMAL_TEXT = re.compile(r"^-?\d+\.\d+$")
# Fields an audit entry records that say nothing to a reader of the page.
_HISTORY_NOISE = {"id", "created_at", "deleted_at", "external_id", "project", "project_kpi", "unit", "kpi"}
_HISTORY_CHOICES = {
    "stage": dict(Stage.choices),
    "level": dict(InnovationProject.Level.choices),
    "originator": dict(InnovationProject.Originator.choices),
    "funding": dict(InnovationProject.Funding.choices),
}
_HISTORY_SUBJECTS = {"innovationproject": "Project", "projectkpi": "KPI", "measurement": "measurement"}


def _history_rows(entries, project: InnovationProject) -> list[dict]:
    """Audit entries as a reader wants them: labels for choices, names for people, no noise."""
    entries = list(entries)
    owner_ids = {
        value
        for entry in entries
        for value in (entry.changes.get("owner") or {}).values()
        if isinstance(value, int)
    }
    names = {}
    if owner_ids:
        names = {
            user.pk: user.get_full_name() or user.get_username()
            for user in get_user_model().objects.filter(pk__in=owner_ids)
        }

    def shown(field, value):
        if value is None or value == "":
            return None
        if field in _HISTORY_CHOICES:
            return _HISTORY_CHOICES[field].get(value, value)
        if field == "owner":
            return names.get(value, f"user #{value}")
        if field == "relationship":
            return project.relationship.name if value == project.relationship_id else f"relationship #{value}"
        if isinstance(value, list):
            return ", ".join(str(v) for v in value)
        if isinstance(value, str) and _DECIMAL_TEXT.match(value):
            return f"{Decimal(value).normalize():f}"  # audit keeps the column's scale: 85.0000 → 85
        return value

    rows = []
    for entry in entries:
        changes = []
        if entry.action != "delete":
            for field, change in sorted(entry.changes.items()):
                if field in _HISTORY_NOISE:
                    continue
                before, after = shown(field, change.get("before")), shown(field, change.get("after"))
                if entry.action == "create" and after is None:
                    continue
                changes.append({"field": field.replace("_", " "), "before": before, "after": after})
        rows.append(
            {
                "at": entry.at,
                "actor": entry.actor.get_full_name() or entry.actor.get_username()
                if entry.actor
                else "system",
                "action": entry.get_action_display(),
                "action_code": entry.action,
                "subject": _HISTORY_SUBJECTS.get(entry.content_type.model, entry.content_type.model),
                "object": entry.object_repr,
                "version": entry.version,
                "changes": changes,
            }
        )
    return rows


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _stage_steps(project: InnovationProject) -> list[dict]:
    path = InnovationProject.PIPELINE
    if project.stage == Stage.CANCELLED:
        return [{"label": Stage.CANCELLED.label, "state": "current"}]
    reached = path.index(project.stage)
    return [
        {
            "label": stage.label,
            "state": "done" if index < reached else "current" if index == reached else "todo",
        }
        for index, stage in enumerate(path)
    ]


@require_GET
@login_required
def project_detail(request, pk: int):
    return _project_page(request, _visible_project(request, pk))


def _after_kpi_write(request, project, notice: str):
    """Success: htmx gets the page (it swaps the KPI section); a plain post is redirected."""
    if request.htmx:
        return _project_page(request, project, kpi_notice=notice)
    messages.success(request, notice)
    return redirect(reverse("project-detail", args=[project.pk]) + "#kpis")


def _conflict_notice(current) -> str:
    return (
        f"{conflict_message(current)} Your changes were not saved; the current values are shown. "
        "Re-enter your change if it is still needed."
    )


@require_POST
@login_required
def project_kpi_add(request, pk: int):
    project = _writable_project(request, pk)
    tracked = list(_live_project_kpis(request, project).values_list("kpi_id", flat=True))
    form = ProjectKPIAddForm(request.POST, catalogue=kpi_selectors.kpi_catalogue(), tracked_kpi_ids=tracked)
    if form.is_valid():
        try:
            project_kpi = kpi_services.project_kpi_add(
                actor=request.user, data={"project": project, **form.cleaned_data}
            )
        except ValidationError as error:
            add_service_errors(form, error, form.message_fields)
        else:
            return _after_kpi_write(request, project, f"Now tracking {project_kpi.kpi.name}.")
    return _project_page(request, project, status=422, add_kpi_form=form)


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
    project = _writable_project(request, pk)
    project_kpi = _project_kpi(request, project, kpi_pk)
    form = ProjectKPIEditForm(request.POST, project_kpi=project_kpi)
    if form.is_valid():
        try:
            kpi_services.project_kpi_update(
                actor=request.user,
                project_kpi=project_kpi,
                data=form.service_data(),
                expected_version=form.cleaned_data["version"],
            )
        except VersionConflict as conflict:
            current = conflict.current
            return _project_page(
                request,
                project,
                status=409,
                edit_kpi_id=project_kpi.pk,
                kpi_edit_form=ProjectKPIEditForm(
                    project_kpi=current, initial=ProjectKPIEditForm.initial_from(current)
                ),
                kpi_conflict=_conflict_notice(current),
                kpi_conflict_differences=form.conflict_differences(current),
            )
        except ValidationError as error:
            add_service_errors(form, error, form.message_fields)
        else:
            return _after_kpi_write(request, project, f"Saved {project_kpi.kpi.name}.")
    return _project_page(request, project, status=422, edit_kpi_id=project_kpi.pk, kpi_edit_form=form)


@require_POST
@login_required
def project_kpi_delete(request, pk: int, kpi_pk: int):
    project = _writable_project(request, pk)
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
        notice = f"{conflict_message(conflict.current)} {conflict_outcome}"
        return _project_page(request, project, status=409, kpi_error=notice)
    return _after_kpi_write(request, project, done)


@require_POST
@login_required
def measurement_record(request, pk: int):
    project = _writable_project(request, pk)
    project_kpis = list(_live_project_kpis(request, project).select_related("project__relationship"))
    form = MeasurementForm(request.POST, project_kpis=project_kpis)
    if form.is_valid():
        try:
            measurement = kpi_services.measurement_record(actor=request.user, data=form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error, form.message_fields)
        else:
            notice = (
                f"Recorded {measurement.project_kpi.kpi.name}: {measurement.value.normalize():f} "
                f"on {measurement.measured_on:%d %b %Y}."
            )
            return _after_kpi_write(request, project, notice)
    return _project_page(request, project, status=422, measurement_form=form)


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
    project = _writable_project(request, pk)
    measurement = _measurement(request, project, measurement_pk)
    form = MeasurementEditForm(request.POST, measurement=measurement, project_kpi=measurement.project_kpi)
    if form.is_valid():
        try:
            kpi_services.measurement_update(
                actor=request.user,
                measurement=measurement,
                data=form.service_data(),
                expected_version=form.cleaned_data["version"],
            )
        except VersionConflict as conflict:
            current = conflict.current
            return _project_page(
                request,
                project,
                status=409,
                edit_measurement_id=measurement.pk,
                measurement_edit_form=MeasurementEditForm(
                    measurement=current,
                    project_kpi=measurement.project_kpi,
                    initial=MeasurementEditForm.initial_from(current),
                ),
                measurement_conflict=_conflict_notice(current),
                measurement_conflict_differences=form.conflict_differences(current),
            )
        except ValidationError as error:
            add_service_errors(form, error, form.message_fields)
        else:
            return _after_kpi_write(request, project, "Measurement saved.")
    return _project_page(
        request, project, status=422, edit_measurement_id=measurement.pk, measurement_edit_form=form
    )


@require_POST
@login_required
def measurement_delete(request, pk: int, measurement_pk: int):
    project = _writable_project(request, pk)
    measurement = _measurement(request, project, measurement_pk)
    return _inline_delete(
        request,
        project,
        delete=partial(kpi_services.measurement_delete, actor=request.user, measurement=measurement),
        conflict_outcome="The measurement was not deleted. Check the current value and try again.",
        done=f"Deleted the measurement of {measurement.measured_on:%d %b %Y}.",
    )
