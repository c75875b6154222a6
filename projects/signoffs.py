"""Client sign-off: the provider asks, the client approves or declines.

When a relationship requires it (`Relationship.client_signoff_required`) and someone on the client
side uses the product (`access.client_side_has_person`), a project reaches *Approved*, and a
delivered project's realised benefit is recorded, only when a person of the client approves the
provider's request. The approval applies the change (the stage move or the benefit) in the
approver's name; a decline keeps its reason. Requests, decisions and the changes they apply are
versioned and audited like every write (projects.records). Without the setting, nothing here is
asked for: `projects.services.client_signoff_active` is the switch the services check.

Notifying people is the job of the layer that sends notifications: every request and decision is
announced with `projects.signals.signoff_changed`, and `signoff_recipients` says whom it concerns.
"""

import datetime as dt
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from projects import access, services
from projects.models import AuditEntry, InnovationProject, SignOff
from projects.records import UNSET, Unset, lock_for_write, record_create, record_update
from projects.signals import project_changed, signoff_changed

Stage = InnovationProject.Stage
Kind = SignOff.Kind
Status = SignOff.Status

# The stage a project must be in for a request of each kind to apply.
_STAGES_FOR_KIND = {Kind.APPROVAL: (Stage.IDEA, Stage.PROPOSED), Kind.BENEFIT: (Stage.DELIVERED,)}
_DECIDE_STAGE = {Kind.APPROVAL: Stage.PROPOSED, Kind.BENEFIT: Stage.DELIVERED}


class RequestClosed(ValidationError):
    """A decision on a request that is no longer pending (approved, declined or withdrawn)."""


# --- Reads --------------------------------------------------------------------------------------


def signoff_list(*, user, include_deleted: bool = False) -> QuerySet[SignOff]:
    """Sign-offs of the projects the user may see (those of deleted projects left out)."""
    signoffs = access.scope(user, SignOff.objects.all()).select_related(
        "project",
        "project__relationship",
        "project__relationship__client",
        "project__relationship__provider",
        "requested_by",
        "decided_by",
    )
    if include_deleted:
        return signoffs
    return signoffs.filter(deleted_at__isnull=True, project__deleted_at__isnull=True)


def project_signoffs(*, user, project: InnovationProject) -> list[SignOff]:
    """A project's sign-offs, newest first (the project page shows them with its stage)."""
    return list(signoff_list(user=user).filter(project=project).order_by("-requested_at", "-id"))


def awaiting_decision(*, user) -> QuerySet[SignOff]:
    """Requests waiting for this user's decision: pending, of live projects of relationships whose
    client the user speaks for."""
    if access.role_of(user) not in access.CLIENT_SIDE_ROLES or access.user_organization_id(user) is None:
        return SignOff.objects.none()
    return (
        signoff_list(user=user)
        .filter(
            status=Status.PENDING,
            project__relationship__client_id=access.user_organization_id(user),
            project__relationship__deleted_at__isnull=True,
        )
        .order_by("requested_at", "id")
    )


def awaiting_client(*, user) -> QuerySet[SignOff]:
    """Requests the provider side is waiting on: pending, in relationships the user may change."""
    return (
        signoff_list(user=user)
        .filter(
            status=Status.PENDING,
            project__relationship__in=access.writable_relationships(user),
            project__relationship__deleted_at__isnull=True,
        )
        .order_by("requested_at", "id")
    )


def signoff_recipients(signoff: SignOff) -> QuerySet:
    """The people a request or decision concerns: a pending request the client-side people, a
    decision the requester and the relationship's account managers."""
    from django.contrib.auth import get_user_model

    relationship = signoff.project.relationship
    if signoff.status == Status.PENDING:
        return access.client_side_people(relationship)
    return (
        get_user_model()
        .objects.filter(
            Q(pk=signoff.requested_by_id) | Q(managed_relationships=relationship),
            is_active=True,
        )
        .distinct()
    )


def pending_kinds(project: InnovationProject) -> set[str]:
    """The kinds of sign-off the project waits for."""
    return set(
        SignOff.objects.filter(project=project, status=Status.PENDING, deleted_at__isnull=True).values_list(
            "kind", flat=True
        )
    )


def reachable_stages(project: InnovationProject, *, signoff_active: bool) -> tuple[str, ...]:
    """The stages the stage dialog offers: those of the stage machine, but with client sign-off
    not past Approved before the client approved (Approved itself is then a request)."""
    stages = services.reachable_stages(project.stage)
    if not signoff_active or project.stage not in _STAGES_FOR_KIND[Kind.APPROVAL]:
        return stages
    return tuple(stage for stage in stages if stage not in (Stage.IN_PROGRESS, Stage.DELIVERED))


# --- Writes -------------------------------------------------------------------------------------


def _announce(signoff: SignOff, action: str, actor) -> None:
    signoff_changed.send(sender=SignOff, signoff=signoff, action=action, actor=actor)


def _announce_project(project: InnovationProject, action: str, actor) -> None:
    project_changed.send(
        sender=InnovationProject,
        project=project,
        action=action,
        actor=actor,
        relationship_id=project.relationship_id,
    )


@transaction.atomic
def signoff_request(
    *,
    actor,
    project: InnovationProject,
    kind: str,
    realised_annual_benefit: Decimal | None = None,
    note: str = "",
    proposed_on: dt.date | None = None,
    expected_version: int | None = None,
) -> SignOff:
    """Ask the client to approve the project (it must be an idea or proposed; an idea is first
    moved to Proposed, dated `proposed_on`) or to confirm a delivered project's realised benefit."""
    relationship = project.relationship
    if relationship.deleted_at is not None:
        raise ValidationError({"project": "This project's relationship has been deleted."})
    access.ensure_can_write(actor, relationship)
    if kind not in Kind.values:
        raise ValidationError({"kind": f"Unknown kind '{kind}'; use approval or benefit."})
    project = lock_for_write(project, expected_version=expected_version)
    if project.deleted_at is not None:
        raise ValidationError({"project": "This project has been deleted."})
    if not services.client_signoff_active(relationship):
        raise ValidationError(
            {
                "project": f"{relationship.client.name} does not sign off this relationship's projects: "
                + (
                    "no one at the client uses the product yet."
                    if relationship.client_signoff_required
                    else "client sign-off is not required."
                )
            }
        )
    if project.stage not in _STAGES_FOR_KIND[kind]:
        needed = "an idea or proposed" if kind == Kind.APPROVAL else "delivered"
        raise ValidationError(
            {"kind": f"The project is {project.get_stage_display()}; this sign-off needs it {needed}."}
        )
    if SignOff.objects.filter(
        project=project, kind=kind, status=Status.PENDING, deleted_at__isnull=True
    ).exists():
        raise ValidationError({"kind": f"{relationship.client.name} already has this request to decide."})
    data: dict[str, Any] = {
        "project": project,
        "kind": kind,
        "request_note": (note or "").strip(),
        "requested_by": actor if actor is not None and actor.is_authenticated else None,
        "requested_at": timezone.now(),
    }
    if kind == Kind.BENEFIT:
        if realised_annual_benefit is None:
            raise ValidationError({"realised_annual_benefit": "Give the realised annual benefit to confirm."})
        if project.realised_annual_benefit is not None and Decimal(realised_annual_benefit) == (
            project.realised_annual_benefit
        ):
            raise ValidationError({"realised_annual_benefit": "This benefit is already recorded."})
        data["realised_annual_benefit"] = realised_annual_benefit
    elif realised_annual_benefit is not None:
        raise ValidationError({"realised_annual_benefit": "An approval request carries no benefit."})
    if kind == Kind.APPROVAL and project.stage == Stage.IDEA:
        # Proposing is the provider's own step; the client then approves the proposal.
        project = services.project_advance(
            actor=actor, project=project, to_stage=Stage.PROPOSED, dates={"proposed_on": proposed_on}
        )
    signoff = record_create(actor=actor, model=SignOff, data=data)
    _announce(signoff, "requested", actor)
    return signoff


def _decision_target(signoff: SignOff, expected_version: int | None) -> SignOff:
    """The request, re-read under a lock, still pending."""
    current = lock_for_write(signoff, expected_version=expected_version)
    if current.deleted_at is not None:
        raise ValidationError("This request has been deleted with its project.")
    if current.status != Status.PENDING:
        raise RequestClosed(f"This request is already closed ({current.get_status_display().lower()}).")
    return current


def _ensure_speaks_for_client(actor, signoff: SignOff) -> None:
    relationship = signoff.project.relationship
    if not access.speaks_for_client(actor, relationship):
        raise PermissionDenied(f"Only people at {relationship.client.name} may decide this request.")


def _closing(actor, status: str, note: str) -> dict[str, Any]:
    return {
        "status": status,
        "decided_by": actor if actor is not None and actor.is_authenticated else None,
        "decided_at": timezone.now(),
        "decision_note": (note or "").strip(),
    }


@transaction.atomic
def signoff_approve(
    *, actor, signoff: SignOff, note: str = "", expected_version: int | None = None
) -> SignOff:
    """The client approves: the project moves to Approved, or its realised benefit is recorded, in
    the approver's name; then the request is closed as approved."""
    _ensure_speaks_for_client(actor, signoff)
    signoff = _decision_target(signoff, expected_version)
    project = lock_for_write(signoff.project)
    if project.deleted_at is not None:
        raise ValidationError("The project has been deleted.")
    if project.stage != _DECIDE_STAGE[signoff.kind]:
        raise ValidationError(
            f"The project is now {project.get_stage_display()}; this request no longer applies. "
            "Ask the provider to withdraw it."
        )
    if signoff.kind == Kind.APPROVAL:
        project = record_update(
            actor=actor, instance=project, data={"stage": Stage.APPROVED}, action=AuditEntry.Action.TRANSITION
        )
        _announce_project(project, AuditEntry.Action.TRANSITION, actor)
    else:
        project = record_update(
            actor=actor, instance=project, data={"realised_annual_benefit": signoff.realised_annual_benefit}
        )
        _announce_project(project, AuditEntry.Action.UPDATE, actor)
    signoff = record_update(actor=actor, instance=signoff, data=_closing(actor, Status.APPROVED, note))
    _announce(signoff, "approved", actor)
    return signoff


@transaction.atomic
def signoff_decline(*, actor, signoff: SignOff, reason: str, expected_version: int | None = None) -> SignOff:
    """The client declines, saying why; the project stays as it is."""
    _ensure_speaks_for_client(actor, signoff)
    if not (reason or "").strip():
        raise ValidationError({"reason": "Say why it is declined; the reason is kept and shown."})
    signoff = _decision_target(signoff, expected_version)
    signoff = record_update(actor=actor, instance=signoff, data=_closing(actor, Status.DECLINED, reason))
    _announce(signoff, "declined", actor)
    return signoff


@transaction.atomic
def signoff_withdraw(*, actor, signoff: SignOff, expected_version: int | None = None) -> SignOff:
    """The provider takes a request back before the client decided."""
    access.ensure_can_write(actor, signoff.project.relationship)
    signoff = _decision_target(signoff, expected_version)
    signoff = record_update(actor=actor, instance=signoff, data=_closing(actor, Status.WITHDRAWN, ""))
    _announce(signoff, "withdrawn", actor)
    return signoff


@transaction.atomic
def project_move(
    *,
    actor,
    project: InnovationProject,
    to_stage: str,
    dates: dict[str, dt.date | None] | None = None,
    realised_annual_benefit: Decimal | Unset | None = UNSET,
    outcome: str | Unset = UNSET,
    cancellation_reason: str | Unset = UNSET,
    note: str = "",
    expected_version: int | None = None,
) -> tuple[InnovationProject, SignOff | None]:
    """The stage dialog's move, with client sign-off where it applies: the move to Approved becomes
    a request for the client's approval, and a delivery's realised benefit a request for their
    confirmation (the delivery itself goes ahead). Returns the project and the request made."""
    dates = dates or {}
    active = services.client_signoff_active(project.relationship)
    if active and to_stage == Stage.APPROVED and project.stage in _STAGES_FOR_KIND[Kind.APPROVAL]:
        signoff = signoff_request(
            actor=actor,
            project=project,
            kind=Kind.APPROVAL,
            note=note,
            proposed_on=dates.get("proposed_on"),
            expected_version=expected_version,
        )
        return signoff.project, signoff
    benefit = realised_annual_benefit
    ask_for_benefit = (
        active and to_stage == Stage.DELIVERED and not isinstance(benefit, Unset) and benefit is not None
    )
    moved = services.project_advance(
        actor=actor,
        project=project,
        to_stage=to_stage,
        dates=dates,
        realised_annual_benefit=UNSET if ask_for_benefit else benefit,
        outcome=outcome,
        cancellation_reason=cancellation_reason,
        expected_version=expected_version,
    )
    if not ask_for_benefit:
        return moved, None
    signoff = signoff_request(
        actor=actor, project=moved, kind=Kind.BENEFIT, realised_annual_benefit=benefit, note=note
    )
    return moved, signoff
