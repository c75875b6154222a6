"""The project page: stage steps, KPIs with their measurements and chart, history, and the forms
of its inline edits (bound, with errors, when an edit failed)."""

from collections import defaultdict

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from collab import selectors as collab_selectors
from collab import services as collab_services
from kpis import scoring
from kpis import selectors as kpi_selectors
from presentation import formatting
from projects import access, signoffs
from projects.models import InnovationProject, SignOff
from web.forms.kpis import MeasurementEditForm, MeasurementForm, ProjectKPIAddForm, ProjectKPIEditForm
from web.forms.projects import BenefitSignOffForm
from web.history import HISTORY_KINDS, filter_history, history_rows
from web.views.collab import contributors_context, discussion_context
from web.views.common import int_or_none, visible_project

Stage = InnovationProject.Stage


def _chart_data(project_kpis, measurements_by_kpi, *, currency: str) -> dict:
    data = {}
    for project_kpi in project_kpis:
        points = [
            {"x": m.measured_on.isoformat(), "y": float(m.value)}
            for m in sorted(measurements_by_kpi[project_kpi.pk], key=lambda m: m.measured_on)
        ]
        data[str(project_kpi.pk)] = {
            "label": project_kpi.kpi.name,
            "unit": formatting.unit_symbol(project_kpi.unit, currency),
            "baseline": {"x": project_kpi.baseline_date.isoformat(), "y": float(project_kpi.baseline_value)},
            "target": None if project_kpi.target_value is None else float(project_kpi.target_value),
            "points": points,
        }
    return data


def project_page(request, project: InnovationProject, *, status: int = 200, **overrides):
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
    # Figures one side has contested (and not yet settled) carry a marker linking to the contest.
    markers = collab_selectors.project_contest_markers(project=project)
    for project_kpi in project_kpis:
        project_kpi.baseline_contest = markers.baseline(project_kpi.pk)
        for measurement in project_kpi.history:
            measurement.contest = markers.measurement(measurement.pk)
        project_kpi.latest_measurement = project_kpi.history[0] if project_kpi.history else None

    edit_kpi_id = overrides.pop("edit_kpi_id", None) or int_or_none(request.GET.get("edit_kpi"))
    edit_measurement_id = overrides.pop("edit_measurement_id", None) or int_or_none(
        request.GET.get("edit_measurement")
    )
    discussion = discussion_context(request, relationship=project.relationship, project=project)
    history_kind = request.GET.get("history") if request.GET.get("history") in HISTORY_KINDS else None
    history = filter_history(
        history_rows(kpi_selectors.project_history(project=project), project), history_kind
    )
    signoff = _signoff_context(user, project, can_write=can_write and project.deleted_at is None)
    context = {
        "project": project,
        "relationship": project.relationship,
        "gain_share": kpi_selectors.project_gain_share(project),
        "can_write": can_write and project.deleted_at is None,
        "stage_steps": _stage_steps(project),
        "next_stages": next_stages(
            project, signoff_active=signoff["signoff_active"], pending=signoff["pending_kinds"]
        ),
        **signoff,
        "project_kpis": project_kpis,
        "chart_data": _chart_data(project_kpis, measurements_by_kpi, currency=project.relationship.currency),
        "history": history,
        "history_corrections": collab_selectors.corrections_of(row["id"] for row in history),
        "history_kind": history_kind,
        "history_kinds": [(kind, label) for kind, (label, _) in HISTORY_KINDS.items()],
        "edit_kpi_id": edit_kpi_id,
        "edit_measurement_id": edit_measurement_id,
        "discussion": discussion,
        "can_contest": project.deleted_at is None
        and collab_services.contest_can_raise(user, project.relationship),
        "recognition": contributors_context(
            request,
            project=project,
            can_write=can_write and project.deleted_at is None,
            people=discussion.get("people"),
        ),
        "delivery_contest": markers.delivery_date(project.pk),
        "benefit_contest": markers.realised_benefit(project.pk),
    }
    if context["can_write"]:
        context["add_kpi_form"] = ProjectKPIAddForm(
            catalogue=kpi_selectors.kpi_catalogue().order_by("name"),
            tracked_kpi_ids=[project_kpi.kpi_id for project_kpi in project_kpis],
        )
        context["measurement_form"] = MeasurementForm(project_kpis=project_kpis)
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


def next_stages(project: InnovationProject, *, signoff_active: bool, pending: set[str]) -> list[dict]:
    """The stage buttons of a project (its page and its board card): each stage the dialog may move
    it to, with client sign-off the approval as a request (none while one waits)."""
    stages = []
    for stage in signoffs.reachable_stages(project, signoff_active=signoff_active):
        request = signoff_active and stage == Stage.APPROVED
        if request and SignOff.Kind.APPROVAL in pending:
            continue
        stages.append(
            {
                "value": stage,
                "label": Stage(stage).label,
                "is_next": stage in InnovationProject.allowed_next_stages(project.stage) or request,
                "is_request": request,
            }
        )
    return stages


def _signoff_context(user, project: InnovationProject, *, can_write: bool) -> dict:
    """What the project page shows of client sign-off: whether it applies, the requests (pending
    first), who may decide, and the form to ask for a realised benefit's confirmation."""
    relationship = project.relationship
    required = relationship.client_signoff_required
    active = required and access.client_side_has_person(relationship)
    requests = signoffs.project_signoffs(user=user, project=project)
    pending = [request for request in requests if request.status == SignOff.Status.PENDING]
    pending_kinds = {request.kind for request in pending}
    context = {
        "signoff_required": required,
        "signoff_active": active,
        "signoffs": requests,
        "pending_signoffs": pending,
        "decided_signoffs": [request for request in requests if request.status != SignOff.Status.PENDING],
        "pending_kinds": pending_kinds,
        "can_decide": access.speaks_for_client(user, relationship) and project.deleted_at is None,
    }
    if (
        can_write
        and active
        and project.stage == Stage.DELIVERED
        and SignOff.Kind.BENEFIT not in pending_kinds
    ):
        context["benefit_form"] = BenefitSignOffForm(
            initial={"version": project.version, "realised_annual_benefit": project.realised_annual_benefit}
        )
    return context


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
    return project_page(request, visible_project(request, pk))
