"""Pages that write projects: create, edit, move through the stages, delete. Views parse input with
the forms of web.forms.projects and call the services; the pages that show projects with their KPIs
and scores are in web.views.project_page."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from presentation import formatting
from projects import access, selectors, services, signoffs
from projects.models import InnovationProject, Relationship
from projects.records import VersionConflict, conflict_message
from web.forms.projects import DeleteForm, LeadershipForm, ProjectForm, StageForm, add_service_errors
from web.views.common import writable_project

Stage = InnovationProject.Stage


def _project_url(project: InnovationProject) -> str:
    return reverse("project-detail", args=[project.pk])


@require_http_methods(["GET", "POST"])
@login_required
def project_create(request):
    if not access.can_edit_projects(request.user):
        raise PermissionDenied("Your role does not create projects.")
    initial = {"owner": request.user.pk, "relationship": request.GET.get("relationship")}
    form = ProjectForm(request.POST or None, user=request.user, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            project = services.project_create(actor=request.user, fields=form.service_fields())
        except ValidationError as error:
            add_service_errors(form, error, form.message_fields)
        except PermissionDenied as denied:
            form.add_error("relationship", str(denied))
        else:
            messages.success(request, f"Created “{project.title}”.")
            return redirect(_project_url(project))
    status = 422 if form.errors else 200
    return render(request, "web/project_form.html", {"form": form, "project": None}, status=status)


@require_http_methods(["GET", "POST"])
@login_required
def project_edit(request, pk: int):
    project = writable_project(request, pk)
    context = {"project": project}
    if request.method == "GET":
        form = ProjectForm(user=request.user, project=project, initial=ProjectForm.initial_from(project))
        return render(request, "web/project_form.html", {**context, "form": form})
    form = ProjectForm(request.POST, user=request.user, project=project)
    if form.is_valid():
        try:
            project = services.project_update(
                actor=request.user,
                project=project,
                changes=form.service_fields(),
                expected_version=form.cleaned_data["version"],
            )
        except VersionConflict as conflict:
            current = conflict.current
            differences = form.conflict_differences(current)
            fresh = ProjectForm(user=request.user, project=current, initial=ProjectForm.initial_from(current))
            context.update(
                project=current,
                form=fresh,
                conflict=_conflict_message(current, request.user),
                conflict_differences=differences,
            )
            return render(request, "web/project_form.html", context, status=409)
        except ValidationError as error:
            add_service_errors(form, error, form.message_fields)
        else:
            messages.success(request, "Saved.")
            return redirect(_project_url(project))
    return render(request, "web/project_form.html", {**context, "form": form}, status=422)


def _conflict_message(current: InnovationProject, reader) -> str:
    return (
        f"{conflict_message(current, reader=reader)} Nothing you entered was saved. "
        "The form shows the current values; re-enter your changes if they are still needed."
    )


@require_http_methods(["GET", "POST"])
@login_required
def project_transition(request, pk: int):
    """The stage dialog: GET asks what the move to `?to=<stage>` means (the dates of its steps; on
    delivery the benefit and outcome; on cancelling the reason), POST makes it. Inside the project
    page it is an htmx dialog; without JavaScript the same form is a page of its own."""
    project = writable_project(request, pk)
    to_stage = request.POST.get("to_stage") if request.method == "POST" else request.GET.get("to")
    back = _safe_next(request)
    if to_stage == project.stage:
        # The same answer as the API gives to a PATCH of the current stage: nothing to do.
        messages.info(request, f"The project is already {project.get_stage_display()}; nothing changed.")
        return _back_to_project(request, project, back)
    signoff_active = services.client_signoff_active(project.relationship)
    reachable = signoffs.reachable_stages(project, signoff_active=signoff_active)
    if to_stage not in reachable:
        allowed = ", ".join(Stage(s).label for s in reachable)
        messages.error(
            request,
            f"A project cannot move from {project.get_stage_display()} to "
            f"{_stage_label(to_stage)}. Allowed: {allowed or 'none (the project is closed)'}."
            + (
                f" {project.relationship.client.name} signs off approvals first."
                if signoff_active and to_stage in services.reachable_stages(project.stage)
                else ""
            ),
        )
        return _back_to_project(request, project, back)
    if signoff_active and to_stage == Stage.APPROVED and "approval" in signoffs.pending_kinds(project):
        messages.info(request, f"{project.relationship.client.name} has not decided the approval yet.")
        return _back_to_project(request, project, back)
    dialog = {"signoff_active": signoff_active}
    if request.method == "GET":
        return _stage_dialog(request, StageForm(project=project, to_stage=to_stage, **dialog), back=back)
    form = StageForm(request.POST, project=project, to_stage=to_stage, **dialog)
    if not form.is_valid():
        return _stage_dialog(request, form, status=422, back=back)
    try:
        moved, signoff = signoffs.project_move(
            actor=request.user, project=project, **form.advance_arguments()
        )
    except VersionConflict as conflict:
        current = conflict.current
        if to_stage not in signoffs.reachable_stages(current, signoff_active=signoff_active):
            messages.error(
                request,
                f"{conflict_message(current, reader=request.user)} It is now "
                f"{current.get_stage_display()}; the stage was not changed.",
            )
            return _back_to_project(request, current, back)
        fresh = StageForm(project=current, to_stage=to_stage, **dialog)
        notice = (
            f"{conflict_message(current, reader=request.user)} It is now {current.get_stage_display()}; "
            "the stage was not changed. Check the dates below and confirm again."
        )
        return _stage_dialog(request, fresh, status=409, conflict=notice, back=back)
    except ValidationError as error:
        add_service_errors(form, error, StageForm.message_fields)
        return _stage_dialog(request, form, status=422, back=back)
    client = project.relationship.client.name
    if signoff is not None and signoff.kind == signoff.Kind.APPROVAL:
        messages.success(request, f"Asked {client} to approve “{moved.title}”.")
    elif signoff is not None:
        messages.success(
            request,
            f"Moved to {moved.get_stage_display()}. {client} is asked to confirm the realised benefit of "
            f"{formatting.money(signoff.realised_annual_benefit, project.relationship.currency)}.",
        )
    else:
        messages.success(request, f"Moved to {moved.get_stage_display()}.")
    return _back_to_project(request, moved, back)


def _safe_next(request) -> str | None:
    """Where the stage dialog returns to when it was opened from another page (the board)."""
    target = request.POST.get("next") if request.method == "POST" else request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return None


def _stage_label(stage: str | None) -> str:
    return Stage(stage).label if stage in Stage.values else f"“{stage or ''}”"


def _stage_dialog(
    request, form: StageForm, *, status: int = 200, conflict: str = "", back: str | None = None
):
    context = {
        "project": form.project,
        "form": form,
        "next": back,
        "target": Stage(form.to_stage),
        "skipped": [
            Stage(step).label for step in services.stage_path(form.project.stage, form.to_stage)[:-1]
        ],
        "conflict": conflict,
    }
    template = "web/_stage_dialog.html" if request.htmx else "web/stage_change.html"
    return render(request, template, context, status=status)


def _back_to_project(request, project: InnovationProject, back: str | None = None):
    target = back or _project_url(project)
    if request.htmx:
        # The page behind the dialog is out of date: load it again, with the message.
        return HttpResponseClientRedirect(target)
    return redirect(target)


@require_http_methods(["GET", "POST"])
@login_required
def project_delete(request, pk: int):
    """Confirm, then soft-delete: the project leaves lists and scores (its KPIs go with it)."""
    project = writable_project(request, pk)
    form = DeleteForm(request.POST or None, initial={"version": project.version})
    context = {"project": project, "form": form}
    if request.method == "POST" and form.is_valid():
        try:
            services.project_delete(
                actor=request.user, project=project, expected_version=form.cleaned_data["version"]
            )
        except VersionConflict as conflict:
            context.update(
                project=conflict.current,
                form=DeleteForm(initial={"version": conflict.current.version}),
                conflict=(
                    f"{conflict_message(conflict.current, reader=request.user)} "
                    "It was not deleted. Check it, then confirm again."
                ),
            )
            return render(request, "web/project_confirm_delete.html", context, status=409)
        messages.success(request, f"Deleted “{project.title}”.")
        return redirect("project-list")
    return render(request, "web/project_confirm_delete.html", context)


@require_http_methods(["GET", "POST"])
@login_required
def relationship_leadership(request, pk: int):
    """Record a new leadership pair for a relationship the user may change."""
    try:
        relationship = selectors.relationship_get(user=request.user, pk=pk)
    except Relationship.DoesNotExist as missing:
        raise Http404("No such relationship.") from missing
    if not access.can_write_relationship(request.user, relationship):
        raise PermissionDenied("You may not change this relationship.")
    form = LeadershipForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            pair = services.relationship_set_leadership(
                actor=request.user, relationship=relationship, **form.cleaned_data
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(
                request, f"{pair.client_leader} and {pair.provider_leader} now lead the relationship."
            )
            return redirect("relationship-detail", pk=relationship.pk)
    status = 422 if form.errors else 200
    context = {"relationship": relationship, "form": form, "current": relationship.leadership_pairs.all()[:1]}
    return render(request, "web/leadership_form.html", context, status=status)
