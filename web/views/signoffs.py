"""Client sign-off on the project page: the client approves or declines a request, the provider
withdraws one or asks for a realised benefit to be confirmed, an admin switches the requirement
on or off for a relationship. The rules live in projects.signoffs; these views parse and call."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from presentation import formatting
from projects import access, selectors, services, signoffs
from projects.models import Relationship, SignOff
from projects.records import VersionConflict, conflict_message
from web.forms.projects import BenefitSignOffForm, SignOffDecisionForm, VersionedForm, add_service_errors
from web.views.common import visible_project, writable_project
from web.views.project_page import project_page


def _signoff_of(request, project, signoff_pk: int) -> SignOff:
    try:
        return signoffs.signoff_list(user=request.user).get(pk=signoff_pk, project=project)
    except SignOff.DoesNotExist as missing:
        raise Http404("No such sign-off.") from missing


def _service_error_message(error: ValidationError) -> str:
    return " ".join(error.messages)


@require_POST
@login_required
def signoff_decide(request, pk: int, signoff_pk: int):
    """The client approves (with an optional note) or declines (with a reason)."""
    project = visible_project(request, pk)
    signoff = _signoff_of(request, project, signoff_pk)
    if not access.speaks_for_client(request.user, project.relationship):
        raise PermissionDenied(f"Only people at {project.relationship.client.name} may decide this request.")
    form = SignOffDecisionForm(request.POST)
    if not form.is_valid():
        return project_page(request, project, status=422, decision_form=form, decision_signoff_id=signoff.pk)
    decide = (
        signoffs.signoff_approve if form.cleaned_data["decision"] == "approve" else signoffs.signoff_decline
    )
    note_argument = "note" if decide is signoffs.signoff_approve else "reason"
    try:
        decided = decide(
            actor=request.user,
            signoff=signoff,
            expected_version=form.cleaned_data["version"],
            **{note_argument: form.cleaned_data["note"]},
        )
    except VersionConflict as conflict:
        messages.error(
            request,
            f"{conflict_message(conflict.current, reader=request.user)} Nothing was decided; check it again.",
        )
    except ValidationError as error:
        if form.cleaned_data["decision"] == "decline" and hasattr(error, "error_dict"):
            add_service_errors(form, error, {})
            return project_page(
                request, project, status=422, decision_form=form, decision_signoff_id=signoff.pk
            )
        messages.error(request, _service_error_message(error))
    else:
        messages.success(request, _decision_message(decided))
    return redirect("project-detail", pk=project.pk)


def _decision_message(signoff: SignOff) -> str:
    if signoff.status == SignOff.Status.DECLINED:
        return "Declined; the provider sees your reason."
    if signoff.kind == SignOff.Kind.APPROVAL:
        return "Approved: the project is now Approved."
    currency = signoff.project.relationship.currency
    return (
        f"Confirmed: the realised benefit is {formatting.money(signoff.realised_annual_benefit, currency)}."
    )


@require_POST
@login_required
def signoff_withdraw(request, pk: int, signoff_pk: int):
    project = writable_project(request, pk)
    signoff = _signoff_of(request, project, signoff_pk)
    form = VersionedForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError("The request's version is missing; reload the page.")
        signoffs.signoff_withdraw(
            actor=request.user, signoff=signoff, expected_version=form.cleaned_data["version"]
        )
    except VersionConflict as conflict:
        messages.error(
            request, f"{conflict_message(conflict.current, reader=request.user)} It was not withdrawn."
        )
    except ValidationError as error:
        messages.error(request, _service_error_message(error))
    else:
        messages.success(request, "Request withdrawn.")
    return redirect("project-detail", pk=project.pk)


@require_POST
@login_required
def signoff_request_benefit(request, pk: int):
    """The provider asks the client to confirm a delivered project's realised benefit."""
    project = writable_project(request, pk)
    form = BenefitSignOffForm(request.POST)
    if form.is_valid():
        try:
            signoff = signoffs.signoff_request(
                actor=request.user,
                project=project,
                kind=SignOff.Kind.BENEFIT,
                realised_annual_benefit=form.cleaned_data["realised_annual_benefit"],
                note=form.cleaned_data["note"],
                expected_version=form.cleaned_data["version"],
            )
        except VersionConflict as conflict:
            messages.error(
                request, f"{conflict_message(conflict.current, reader=request.user)} Nothing was requested."
            )
            return redirect("project-detail", pk=project.pk)
        except ValidationError as error:
            add_service_errors(form, error, {})
        else:
            amount = formatting.money(signoff.realised_annual_benefit, project.relationship.currency)
            messages.success(request, f"Asked {project.relationship.client.name} to confirm {amount}.")
            return redirect("project-detail", pk=project.pk)
    return project_page(request, project, status=422, benefit_form=form)


@require_POST
@login_required
def relationship_signoff_setting(request, pk: int):
    """An admin switches client sign-off on or off for a relationship."""
    try:
        relationship = selectors.relationship_get(user=request.user, pk=pk)
    except Relationship.DoesNotExist as missing:
        raise Http404("No such relationship.") from missing
    if not access.can_manage_portfolio(request.user):
        raise PermissionDenied("Only an admin may change whether the client signs off.")
    form = VersionedForm(request.POST)
    required = request.POST.get("client_signoff_required") == "on"
    try:
        if not form.is_valid():
            raise ValidationError("The relationship's version is missing; reload the page.")
        services.relationship_update(
            actor=request.user,
            relationship=relationship,
            changes=services.RelationshipFields(client_signoff_required=required),
            expected_version=form.cleaned_data["version"],
        )
    except VersionConflict as conflict:
        messages.error(request, f"{conflict_message(conflict.current, reader=request.user)} Nothing changed.")
    except ValidationError as error:
        messages.error(request, _service_error_message(error))
    else:
        client = relationship.client.name
        messages.success(
            request,
            f"{client} now signs off approvals and realised benefits."
            if required
            else f"{client} no longer signs off; the provider moves projects on its own.",
        )
    return redirect("relationship-detail", pk=relationship.pk)
