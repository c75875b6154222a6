"""Writes for organisations, relationships and innovation projects.

Every function is atomic, checks the actor's rights, validates, bumps the version and audits
(through projects.records), and announces project changes with `project_changed` so that the kpis
app can follow up (cascade, score recompute) without this app knowing about it.
"""

import dataclasses
import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from projects import access
from projects.models import (
    AuditEntry,
    InnovationProject,
    LeadershipPair,
    Organization,
    ProcessArea,
    Relationship,
    SignOff,
)
from projects.records import (
    UNSET,
    Fields,
    RecordServices,
    Unset,
    lock_for_write,
    record_create,
    record_soft_delete,
    record_touch,
    record_update,
)
from projects.signals import project_changed, relationship_changed

Stage = InnovationProject.Stage

# Fields only an admin may change on a relationship; an assigned account manager may edit the rest.
# The client sign-off setting is the client's safeguard, so the provider's managers cannot lift it.
_RELATIONSHIP_ADMIN_FIELDS = {
    "client",
    "provider",
    "account_managers",
    "external_id",
    "client_signoff_required",
}


# --- Organisations ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class OrganizationFields(Fields):
    external_id: str | Unset | None = UNSET
    name: str | Unset = UNSET
    kind: str | Unset = UNSET
    industry: str | Unset = UNSET
    country: str | Unset = UNSET


def organization_create(*, actor, fields: OrganizationFields) -> Organization:
    access.ensure_can_manage(actor)
    return record_create(actor=actor, model=Organization, data=fields.given())


def organization_update(
    *,
    actor,
    organization: Organization,
    changes: OrganizationFields,
    expected_version: int | None = None,
) -> Organization:
    access.ensure_can_manage(actor)
    data = changes.given()
    if "kind" in data and data["kind"] != organization.kind and _organization_in_use(organization):
        raise ValidationError({"kind": "An organisation that is part of a relationship cannot change kind."})
    return record_update(actor=actor, instance=organization, data=data, expected_version=expected_version)


@transaction.atomic
def organization_delete(
    *, actor, organization: Organization, expected_version: int | None = None
) -> Organization:
    access.ensure_can_manage(actor)
    if _organization_in_use(organization):
        raise ValidationError("This organisation is part of a relationship; delete the relationship first.")
    return record_soft_delete(actor=actor, instance=organization, expected_version=expected_version)


def _organization_in_use(organization: Organization) -> bool:
    return (
        Relationship.objects.filter(deleted_at__isnull=True).filter(client=organization).exists()
        or Relationship.objects.filter(deleted_at__isnull=True, provider=organization).exists()
    )


# --- Relationships ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class RelationshipFields(Fields):
    external_id: str | Unset | None = UNSET
    name: str | Unset = UNSET
    client: Organization | Unset = UNSET
    provider: Organization | Unset = UNSET
    contract_start: dt.date | Unset = UNSET
    contract_end: dt.date | Unset | None = UNSET
    annual_contract_value: Decimal | Unset | None = UNSET
    currency: str | Unset = UNSET
    status: str | Unset = UNSET
    process_areas: Iterable[ProcessArea] | Unset = UNSET
    account_managers: Iterable[AbstractBaseUser] | Unset = UNSET
    client_signoff_required: bool | Unset = UNSET


def _check_parties_live(data: dict[str, Any]) -> None:
    errors = {
        field: "This organisation has been deleted."
        for field in ("client", "provider")
        if isinstance(data.get(field), Organization) and data[field].deleted_at is not None
    }
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def relationship_create(*, actor, fields: RelationshipFields) -> Relationship:
    access.ensure_can_manage(actor)
    data = fields.given()
    _check_parties_live(data)
    return record_create(actor=actor, model=Relationship, data=data)


@transaction.atomic
def relationship_update(
    *,
    actor,
    relationship: Relationship,
    changes: RelationshipFields,
    expected_version: int | None = None,
) -> Relationship:
    access.ensure_can_write(actor, relationship)
    data = changes.given()
    if actor is not None and not access.can_manage_portfolio(actor):
        restricted = sorted(_RELATIONSHIP_ADMIN_FIELDS & set(data))
        current = {name: _comparable(relationship, name) for name in restricted}
        changed = [name for name in restricted if _as_comparable(data[name]) != current[name]]
        if changed:
            raise ValidationError(dict.fromkeys(changed, "Only an admin may change this."))
    _check_parties_live(data)
    contract_start_before = relationship.contract_start
    relationship = record_update(
        actor=actor, instance=relationship, data=data, expected_version=expected_version
    )
    if relationship.contract_start != contract_start_before:
        # Whether a month's score is "new — not scored yet" rests on the contract start.
        relationship_changed.send(
            sender=Relationship,
            relationship=relationship,
            actor=actor,
            contract_start_before=contract_start_before,
        )
    return relationship


def _comparable(relationship: Relationship, name: str):
    if name == "account_managers":
        return sorted(relationship.account_managers.values_list("pk", flat=True))
    value = getattr(relationship, f"{name}_id" if name in ("client", "provider") else name)
    return value


def _as_comparable(value):
    if isinstance(value, (list, tuple, set)) or hasattr(value, "model"):
        return sorted(getattr(v, "pk", v) for v in value)
    return getattr(value, "pk", value)


@transaction.atomic
def relationship_delete(
    *, actor, relationship: Relationship, expected_version: int | None = None
) -> Relationship:
    """Soft-delete a relationship and, with it, its projects (and through them their KPIs)."""
    access.ensure_can_manage(actor)
    relationship = record_soft_delete(actor=actor, instance=relationship, expected_version=expected_version)
    project_changed.send(
        sender=Relationship,
        project=None,
        action=AuditEntry.Action.DELETE,
        actor=actor,
        relationship_id=relationship.pk,
    )
    return relationship


@transaction.atomic
def relationship_set_leadership(
    *, actor, relationship: Relationship, client_leader: str, provider_leader: str, started_on: dt.date
) -> LeadershipPair:
    """Hand the relationship to a new leadership pair; the current pair's term ends the day before."""
    access.ensure_can_write(actor, relationship)
    if started_on > timezone.localdate():
        raise ValidationError(
            {"started_on": "Record a handover once it has happened; this date is in the future."}
        )
    relationship = Relationship.objects.select_for_update().get(pk=relationship.pk)
    current = relationship.leadership_pairs.filter(ended_on__isnull=True).first()
    if current is not None:
        if started_on <= current.started_on:
            raise ValidationError({"started_on": "A new pair must start after the current pair started."})
        current.ended_on = started_on - dt.timedelta(days=1)
        current.full_clean()
        current.save(update_fields=["ended_on"])
    pair = LeadershipPair(
        relationship=relationship,
        client_leader=client_leader,
        provider_leader=provider_leader,
        started_on=started_on,
    )
    pair.full_clean()
    pair.save()
    record_touch(
        actor=actor,
        instance=relationship,
        changes={
            "leadership_pair": {
                "before": str(current) if current else None,
                "after": f"{pair} (from {pair.started_on.isoformat()})",
            }
        },
    )
    return pair


# --- Innovation projects ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProjectFields(Fields):
    external_id: str | Unset | None = UNSET
    relationship: Relationship | Unset = UNSET
    title: str | Unset = UNSET
    description: str | Unset = UNSET
    level: str | Unset = UNSET
    stage: str | Unset = UNSET
    originator: str | Unset = UNSET
    owner: AbstractBaseUser | Unset | None = UNSET
    proposed_on: dt.date | Unset | None = UNSET
    started_on: dt.date | Unset | None = UNSET
    delivered_on: dt.date | Unset | None = UNSET
    investment: Decimal | Unset = UNSET
    expected_annual_benefit: Decimal | Unset | None = UNSET
    realised_annual_benefit: Decimal | Unset | None = UNSET
    funding: str | Unset = UNSET
    gain_share_pct: Decimal | Unset | None = UNSET
    gain_share_baseline: Decimal | Unset | None = UNSET
    outcome: str | Unset = UNSET
    cancellation_reason: str | Unset = UNSET


def _stage_dates(project_data: dict[str, Any], stage: str, today: dt.date) -> dict[str, Any]:
    """Dates a stage implies, filled in (never later than the dates after them) when left empty."""
    filled: dict[str, Any] = {}
    delivered_on, started_on = project_data.get("delivered_on"), project_data.get("started_on")
    if stage == Stage.DELIVERED and not delivered_on:
        delivered_on = filled["delivered_on"] = today
    if stage in (Stage.IN_PROGRESS, Stage.DELIVERED) and not started_on:
        started_on = filled["started_on"] = min(today, delivered_on or today)
    if stage in (Stage.PROPOSED, Stage.APPROVED, Stage.IN_PROGRESS, Stage.DELIVERED) and not project_data.get(
        "proposed_on"
    ):
        filled["proposed_on"] = min(today, started_on or today)
    return filled


def _check_relationship_writable(actor, relationship: Relationship) -> None:
    if relationship.deleted_at is not None:
        raise ValidationError({"relationship": "This relationship has been deleted."})
    access.ensure_can_write(actor, relationship)


@transaction.atomic
def project_create(*, actor, fields: ProjectFields) -> InnovationProject:
    """Create a project. It may start in any stage (historic imports arrive delivered); the dates a
    stage implies are filled in when missing."""
    data = fields.given()
    relationship = data.get("relationship")
    if not isinstance(relationship, Relationship):
        raise ValidationError({"relationship": "This field is required."})
    _check_relationship_writable(actor, relationship)
    stage = data.get("stage") or Stage.IDEA
    if stage == Stage.DELIVERED and not data.get("delivered_on"):
        # A delivered project's date cannot be invented as "today" on import; ask for it.
        raise ValidationError({"delivered_on": "A delivered project needs a delivered date."})
    if stage != Stage.CANCELLED:
        data.update(_stage_dates(data, stage, timezone.localdate()))
    if actor is not None and client_signoff_active(relationship):
        errors = {}
        if stage in _SIGNED_OFF_STAGES:
            errors["stage"] = _approval_needed_message(relationship)
        if data.get("realised_annual_benefit") is not None:
            errors["realised_annual_benefit"] = _benefit_needed_message(relationship)
        if errors:
            raise ValidationError(errors)
    project = record_create(actor=actor, model=InnovationProject, data=data)
    _announce(project, AuditEntry.Action.CREATE, actor)
    return project


@transaction.atomic
def project_update(
    *,
    actor,
    project: InnovationProject,
    changes: ProjectFields,
    expected_version: int | None = None,
) -> InnovationProject:
    """Change a project's fields; a changed `stage` must be an allowed transition.

    A project never moves to another relationship: its history (scores, audit, what sync clients
    of either relationship hold) belongs to the one it was created in.
    """
    _check_relationship_writable(actor, project.relationship)
    data = changes.given()
    new_relationship = data.get("relationship")
    if (
        new_relationship is not None
        and getattr(new_relationship, "pk", new_relationship) != project.relationship_id
    ):
        message = "A project cannot move to another relationship; create it there and delete this one."
        raise ValidationError({"relationship": message})
    action = AuditEntry.Action.UPDATE
    _check_signoff_rules(actor, project, data)
    if "stage" in data and data["stage"] != project.stage:
        _check_transition(project.stage, data["stage"])
        action = AuditEntry.Action.TRANSITION
        merged = {
            "proposed_on": data.get("proposed_on", project.proposed_on),
            "started_on": data.get("started_on", project.started_on),
            "delivered_on": data.get("delivered_on", project.delivered_on),
        }
        if data["stage"] != Stage.CANCELLED:
            data.update(_stage_dates(merged, data["stage"], timezone.localdate()))
    delivered_on_before = project.delivered_on
    before_stage, before_benefit = project.stage, project.realised_annual_benefit
    project = record_update(
        actor=actor, instance=project, data=data, expected_version=expected_version, action=action
    )
    _lapse_signoffs(actor, project, before_stage=before_stage, before_benefit=before_benefit)
    _announce(project, action, actor, delivered_on_before=delivered_on_before)
    return project


# --- Client sign-off rules (the requests and decisions themselves: projects.signoffs) ----------

# The stages a project reaches only after the client approved it, when sign-off is required.
_SIGNED_OFF_STAGES = (Stage.APPROVED, Stage.IN_PROGRESS, Stage.DELIVERED)


def client_signoff_active(relationship: Relationship) -> bool:
    """Whether the client signs off this relationship's approvals and realised benefits: the
    setting is on and someone on the client side uses the product (else nobody could sign off, and
    work goes on as without the setting)."""
    return relationship.client_signoff_required and access.client_side_has_person(relationship)


def _approval_needed_message(relationship: Relationship) -> str:
    return (
        f"{relationship.client.name} signs off approvals on this relationship: request their approval; "
        "the project moves to Approved when they approve."
    )


def _benefit_needed_message(relationship: Relationship) -> str:
    return (
        f"{relationship.client.name} confirms realised benefits on this relationship: request their "
        "confirmation; the benefit is recorded when they approve."
    )


def _check_signoff_rules(actor, project: InnovationProject, data: dict[str, Any]) -> None:
    """With client sign-off, a person cannot approve a project or set its realised benefit
    directly: the client's decision does it (projects.signoffs). The system (actor None) can."""
    if actor is None:
        return
    moves_to_approved = data.get("stage") == Stage.APPROVED and project.stage != Stage.APPROVED
    benefit = data.get("realised_annual_benefit", project.realised_annual_benefit)
    changes_benefit = "realised_annual_benefit" in data and _as_decimal(benefit) != _as_decimal(
        project.realised_annual_benefit
    )
    if not (moves_to_approved or changes_benefit) or not client_signoff_active(project.relationship):
        return
    errors = {}
    if moves_to_approved:
        errors["stage"] = _approval_needed_message(project.relationship)
    if changes_benefit:
        errors["realised_annual_benefit"] = _benefit_needed_message(project.relationship)
    raise ValidationError(errors)


def _as_decimal(value) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(Decimal("0.01"))


def _lapse_signoffs(actor, project: InnovationProject, *, before_stage: str, before_benefit) -> None:
    """Close the sign-off requests a change made moot: an approval request once the project left
    the stages before approval (cancelled, or moved on while sign-off was not required), a benefit
    request once the benefit was set otherwise. Each is closed as withdrawn, saying why."""
    lapsed: list[tuple[str, str]] = []
    if project.stage != before_stage and project.stage not in (Stage.IDEA, Stage.PROPOSED):
        lapsed.append(
            (SignOff.Kind.APPROVAL, f"The project moved to {Stage(project.stage).label} without it.")
        )
    if project.stage == Stage.CANCELLED:
        lapsed.append((SignOff.Kind.BENEFIT, "The project was cancelled."))
    elif _as_decimal(project.realised_annual_benefit) != _as_decimal(before_benefit):
        lapsed.append((SignOff.Kind.BENEFIT, "The realised benefit was recorded without it."))
    for kind, reason in lapsed:
        pending = SignOff.objects.filter(
            project=project, kind=kind, status=SignOff.Status.PENDING, deleted_at__isnull=True
        )
        for signoff in pending:
            record_update(
                actor=actor,
                instance=signoff,
                data={
                    "status": SignOff.Status.WITHDRAWN,
                    "decided_by": actor if actor is not None and actor.is_authenticated else None,
                    "decided_at": timezone.now(),
                    "decision_note": reason,
                },
            )


def _check_transition(current: str, target: str) -> None:
    if target not in Stage.values:
        raise ValidationError({"stage": f"Unknown stage '{target}'."})
    allowed = InnovationProject.allowed_next_stages(current)
    if target not in allowed:
        allowed_text = ", ".join(Stage(s).label for s in allowed) or "none (the project is closed)"
        raise ValidationError(
            {
                "stage": f"A project cannot move from {Stage(current).label} to {Stage(target).label}. "
                f"Allowed next stages: {allowed_text}."
            }
        )


def project_transition(
    *,
    actor,
    project: InnovationProject,
    to_stage: str,
    on: dt.date | None = None,
    expected_version: int | None = None,
) -> InnovationProject:
    """Move a project one step, to its next stage (or cancel it); `on` dates the step (default today)."""
    _check_transition(project.stage, to_stage)
    date_field = InnovationProject.STAGE_DATE_FIELDS.get(to_stage)
    return project_advance(
        actor=actor,
        project=project,
        to_stage=to_stage,
        dates={date_field: on} if date_field else None,
        expected_version=expected_version,
    )


def stage_path(current: str, target: str) -> tuple[str, ...]:
    """The steps a move from `current` to `target` takes: each pipeline stage after the current one
    up to the target (a skip walks through the stages it skips), or cancelling. Empty when the
    target is not ahead of the current stage."""
    if target == Stage.CANCELLED:
        return (Stage.CANCELLED,) if Stage.CANCELLED in InnovationProject.allowed_next_stages(current) else ()
    pipeline = InnovationProject.PIPELINE
    if current not in pipeline or target not in pipeline:
        return ()
    return tuple(pipeline[pipeline.index(current) + 1 : pipeline.index(target) + 1])


def reachable_stages(current: str) -> tuple[str, ...]:
    """Every stage a project can be moved to from `current`: later pipeline stages, or cancelled."""
    return tuple(stage for stage in InnovationProject.STAGE_ORDER if stage_path(current, stage))


def dated_steps(current: str, target: str) -> tuple[str, ...]:
    """The date fields a move asks for, in step order (approval carries no date of its own)."""
    dates = InnovationProject.STAGE_DATE_FIELDS
    return tuple(dates[step] for step in stage_path(current, target) if step in dates)


_DATE_ORDER = ("proposed_on", "started_on", "delivered_on")
_DATE_LABELS = {"proposed_on": "proposed", "started_on": "started", "delivered_on": "delivered"}


@transaction.atomic
def project_advance(
    *,
    actor,
    project: InnovationProject,
    to_stage: str,
    dates: dict[str, dt.date | None] | None = None,
    realised_annual_benefit: Decimal | Unset | None = UNSET,
    outcome: str | Unset = UNSET,
    cancellation_reason: str | Unset = UNSET,
    expected_version: int | None = None,
) -> InnovationProject:
    """Move a project forward to `to_stage` (skipping stages walks through each one, so the history
    and the stage rules see every step) or cancel it.

    Each step's date comes from `dates` (default today): never in the future, never before the
    step before it. Delivery may record the realised benefit and an outcome; cancelling a reason.
    Every date is checked before anything is written, so a refused move writes nothing.
    """
    _check_relationship_writable(actor, project.relationship)
    # Everything below reads the row as it is now, under the lock the steps will write through.
    project = lock_for_write(project, expected_version=expected_version)
    if project.deleted_at is not None:
        raise ValidationError("This record has been deleted.")
    steps = stage_path(project.stage, to_stage)
    if not steps:
        _check_transition(project.stage, to_stage)  # raises the one message for a refused move
        raise ValidationError({"stage": f"The project is already {Stage(project.stage).label}."})
    today = timezone.localdate()
    given = dates or {}
    chosen: dict[str, dt.date] = {}
    errors: dict[str, str] = {}
    known = {field: getattr(project, field) for field in _DATE_ORDER}
    for field in dated_steps(project.stage, to_stage):
        on = given.get(field) or today
        earlier = [(f, known[f]) for f in _DATE_ORDER[: _DATE_ORDER.index(field)] if known[f]]
        if on > today:
            errors[field] = "A stage change cannot be dated in the future."
        elif earlier and on < earlier[-1][1]:
            previous, previous_on = earlier[-1]
            errors[field] = (
                f"A project cannot be {_DATE_LABELS[field]} before it was {_DATE_LABELS[previous]} "
                f"({previous_on:%-d %b %Y})."
            )
        known[field] = chosen[field] = on
    if errors:
        raise ValidationError(errors)
    closing: dict[str, Any] = {}
    if not isinstance(realised_annual_benefit, Unset):
        closing["realised_annual_benefit"] = realised_annual_benefit
    if not isinstance(outcome, Unset):
        closing["outcome"] = outcome
    if not isinstance(cancellation_reason, Unset):
        closing["cancellation_reason"] = cancellation_reason
    for step in steps:
        fields = {"stage": step}
        date_field = InnovationProject.STAGE_DATE_FIELDS.get(step)
        if date_field in chosen:
            fields[date_field] = chosen[date_field]
        if step == steps[-1]:
            fields.update(closing)
        project = project_update(actor=actor, project=project, changes=ProjectFields(**fields))
    return project


@transaction.atomic
def project_delete(
    *, actor, project: InnovationProject, expected_version: int | None = None
) -> InnovationProject:
    access.ensure_can_write(actor, project.relationship)
    project = record_soft_delete(actor=actor, instance=project, expected_version=expected_version)
    _announce(project, AuditEntry.Action.DELETE, actor)
    return project


def _announce(
    project: InnovationProject,
    action: str,
    actor,
    relationship_id: int | None = None,
    delivered_on_before: dt.date | None = None,
) -> None:
    """Tell listeners (the kpis app) inside the transaction; they defer their own work to commit.

    `delivered_on_before` is the delivered date the project had before the change (a corrected
    date moves the months that counted it as well as those that now do)."""
    project_changed.send(
        sender=InnovationProject,
        project=project,
        action=action,
        actor=actor,
        relationship_id=relationship_id or project.relationship_id,
        delivered_on_before=delivered_on_before,
    )


# The three writes of each record type, for the interfaces that write every type alike.
ORGANIZATION = RecordServices(
    fields=OrganizationFields,
    instance="organization",
    create=organization_create,
    update=organization_update,
    delete=organization_delete,
)
RELATIONSHIP = RecordServices(
    fields=RelationshipFields,
    instance="relationship",
    create=relationship_create,
    update=relationship_update,
    delete=relationship_delete,
)
PROJECT = RecordServices(
    fields=ProjectFields,
    instance="project",
    create=project_create,
    update=project_update,
    delete=project_delete,
)
