"""Writes of the collaboration records: comments (with their mentions and replies), contests
(raise, answer, resolve, withdraw, escalate), pulse answers and the contributors named on projects.

Same contract as the other services: atomic, rights-checked, validated, versioned and audited
through projects.records. Who is told about a write is decided here, after the rules of who may
see it, and handed to the notification centre once the transaction commits
(collab.notifications.notify_people).
"""

import dataclasses
import datetime as dt
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from collab import markup, notifications, pulse
from collab.calendar import (
    add_business_days,
    business_days_between,
    quarter_end,
    quarter_label,
    quarter_start,
)
from collab.models import Comment, Contest, ProjectContributor, PulseResponse, Visibility
from collab.selectors import comment_visible_to, relationship_executives
from kpis import services as kpi_services
from kpis.models import Measurement, ProjectKPI, RelationshipScore
from kpis.rollup import rollup_scores
from projects import access
from projects import services as project_services
from projects.models import AuditEntry, InnovationProject, Relationship
from projects.records import (
    UNSET,
    Fields,
    RecordServices,
    Unset,
    lock_for_write,
    record_create,
    record_soft_delete,
    record_update,
)


def _options() -> dict:
    return settings.BPO_COLLAB


def side_or_refuse(actor, relationship: Relationship, *, to: str) -> str:
    """The actor's side of the relationship; a person of neither side may not `to` (403)."""
    side = access.side_of(actor, relationship)
    if side is None:
        raise PermissionDenied(
            f"Only the people of {relationship.client} and {relationship.provider} may {to} here."
        )
    return side


def _after_commit(notice: notifications.Notice | None) -> None:
    if notice is not None:
        # Looked up when it runs, so the notification centre (or a test) can fill it in.
        transaction.on_commit(lambda: notifications.notify_people(notice))


# --- Comments ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class CommentFields(Fields):
    external_id: str | Unset | None = UNSET
    relationship: Relationship | Unset = UNSET
    project: InnovationProject | Unset | None = UNSET
    period: dt.date | Unset | None = UNSET
    parent: Comment | Unset | None = UNSET
    visibility: str | Unset = UNSET
    body: str | Unset = UNSET


def edit_window() -> dt.timedelta:
    return dt.timedelta(minutes=_options()["COMMENT_EDIT_MINUTES"])


def comment_editable_until(comment: Comment) -> dt.datetime:
    return comment.created_at + edit_window()


def comment_can_edit(user, comment: Comment, *, now: dt.datetime | None = None) -> bool:
    """Its author may correct a comment's text within the edit window (15 minutes)."""
    return (
        comment.deleted_at is None
        and comment.author_id is not None
        and comment.author_id == getattr(user, "pk", None)
        and (now or timezone.now()) <= comment_editable_until(comment)
    )


def comment_can_delete(user, comment: Comment) -> bool:
    """Its author may delete a comment at any time; an admin may remove a shared one."""
    if comment.deleted_at is not None or getattr(user, "pk", None) is None:
        return False
    if comment.author_id == user.pk:
        return True
    return access.role_of(user) == access.Role.ADMIN and comment.visibility == Visibility.SHARED


def _target(data: dict) -> tuple[Relationship, InnovationProject | None, dt.date | None, Comment | None]:
    """The relationship, project or month, and thread a new comment belongs to (a reply takes its
    thread's), checked: live, consistent, and a month that has a score."""
    parent = data.get("parent")
    if parent is not None:
        if not isinstance(parent, Comment) or parent.deleted_at is not None:
            raise ValidationError({"parent": "This comment has been deleted; reply to another one."})
        parent = parent.parent or parent  # replies hang off the thread's first comment
        given = {name: data[name] for name in ("relationship", "project", "period") if data.get(name)}
        mismatched = [
            name
            for name, value in given.items()
            if getattr(value, "pk", value) != getattr(parent, f"{name}_id" if name != "period" else name)
        ]
        if mismatched:
            raise ValidationError(dict.fromkeys(mismatched, "A reply is on the same record as its thread."))
        return parent.relationship, parent.project, parent.period, parent
    project, period = data.get("project"), data.get("period")
    relationship = data.get("relationship")
    if project is not None and period is not None:
        raise ValidationError({"period": "A comment is on a project or on a month's score, not both."})
    if project is not None:
        if project.deleted_at is not None:
            raise ValidationError({"project": "This project has been deleted."})
        if relationship is not None and relationship.pk != project.relationship_id:
            raise ValidationError({"relationship": "The project belongs to another relationship."})
        relationship = project.relationship
    elif period is not None:
        if relationship is None:
            raise ValidationError({"relationship": "Name the relationship whose score is discussed."})
        period = period.replace(day=1)
        if not RelationshipScore.objects.filter(relationship=relationship, period=period).exists():
            raise ValidationError({"period": f"This relationship has no score for {period:%B %Y}."})
    else:
        raise ValidationError({"project": "Say what the comment is on: a project, or a month's score."})
    if relationship.deleted_at is not None:
        raise ValidationError({"relationship": "This relationship has been deleted."})
    return relationship, project, period, None


def _mentions(body: str, *, probe: Comment) -> list:
    """The people `body` mentions, each of whom may see the comment; refused otherwise (never a
    mention silently dropped, never a hint whether an unseen person exists)."""
    names = markup.mentioned_usernames(body)
    if not names:
        return []
    users = {
        user.get_username(): user
        for user in get_user_model().objects.filter(username__in=names, is_active=True)
    }
    refused = [name for name in names if name not in users or not comment_visible_to(users[name], probe)]
    if refused:
        who = ", ".join(f"@{name}" for name in refused)
        where = "your side of the relationship" if probe.is_internal else "this relationship"
        raise ValidationError(
            {"body": f"{who} cannot be mentioned: only people of {where} who can read the comment can."}
        )
    return [users[name] for name in names]


def _clean_body(body) -> str:
    text = (body or "").strip() if isinstance(body, str) else ""
    if not text:
        raise ValidationError({"body": "Write something."})
    return text


@transaction.atomic
def comment_post(*, actor, fields: CommentFields) -> Comment:
    """Post a comment (or a reply) on a project or a month's score. Internal comments are read by
    the author's side only; a reply to an internal comment is internal too. Mentions and replies
    notify their people after commit."""
    data = fields.given()
    relationship, project, period, parent = _target(data)
    side = side_or_refuse(actor, relationship, to="comment")
    visibility = data.get("visibility") or Visibility.SHARED
    if parent is not None:
        if not comment_visible_to(actor, parent):
            raise ValidationError({"parent": "No such comment."})
        if parent.is_internal:
            if visibility != Visibility.INTERNAL and "visibility" in data:
                raise ValidationError({"visibility": "A reply to an internal comment stays internal."})
            visibility = Visibility.INTERNAL
    body = _clean_body(data.get("body"))
    probe = Comment(relationship=relationship, visibility=visibility, author_side=side)
    mentioned = _mentions(body, probe=probe)
    comment = record_create(
        actor=actor,
        model=Comment,
        data={
            "external_id": data.get("external_id"),
            "relationship": relationship,
            "project": project,
            "period": period,
            "parent": parent,
            "visibility": visibility,
            "body": body,
            "author": actor,
            "author_side": side,
            "mentions": mentioned,
        },
    )
    _notify_comment(comment, actor=actor, mentioned=mentioned, parent=parent)
    return comment


def _notify_comment(comment: Comment, *, actor, mentioned, parent: Comment | None) -> None:
    where = f"{comment.project}" if comment.project_id else f"the {comment.period:%B %Y} score"
    who = actor.get_full_name() or actor.get_username() if actor is not None else "Someone"
    _after_commit(
        notifications.notice(
            reason=notifications.Reason.MENTION,
            recipients=mentioned,
            record=comment,
            actor=actor,
            summary=f"{who} mentioned you in a comment on {where}.",
        )
    )
    # The thread's author hears of a reply only if they may read it (an internal reply to a shared
    # comment stays on its side).
    replied_to = parent.author if parent is not None else None
    if replied_to is not None and replied_to not in mentioned and comment_visible_to(replied_to, comment):
        _after_commit(
            notifications.notice(
                reason=notifications.Reason.REPLY,
                recipients=[replied_to],
                record=comment,
                actor=actor,
                summary=f"{who} replied to your comment on {where}.",
            )
        )


@transaction.atomic
def comment_edit(
    *, actor, comment: Comment, changes: CommentFields, expected_version: int | None = None
) -> Comment:
    """Correct a comment's text (its author, within the edit window). Its record, thread and
    visibility stay; people newly mentioned are told."""
    data = changes.given()
    fixed = {"relationship", "project", "period", "parent", "visibility"}
    moved = sorted(
        name
        for name in fixed & set(data)
        if getattr(data[name], "pk", data[name])
        != getattr(comment, f"{name}_id" if name in ("relationship", "project", "parent") else name)
    )
    if moved:
        raise ValidationError(
            dict.fromkeys(moved, "This cannot change once posted; delete the comment and post a new one.")
        )
    if comment.deleted_at is not None:
        raise ValidationError("This comment has been deleted.")
    if comment.author_id != getattr(actor, "pk", None):
        raise PermissionDenied("Only its author may edit a comment.")
    if not comment_can_edit(actor, comment):
        minutes = _options()["COMMENT_EDIT_MINUTES"]
        raise ValidationError(
            {"body": f"A comment can be edited for {minutes} minutes after posting; reply instead."}
        )
    update = {}
    if "external_id" in data:
        update["external_id"] = data["external_id"]
    mentioned = None
    if "body" in data:
        body = _clean_body(data["body"])
        if body != comment.body:
            before = set(comment.mentions.values_list("pk", flat=True))
            mentioned = _mentions(body, probe=comment)
            update.update({"body": body, "mentions": mentioned, "edited_at": timezone.now()})
    comment = record_update(actor=actor, instance=comment, data=update, expected_version=expected_version)
    if mentioned:
        fresh = [user for user in mentioned if user.pk not in before]
        _notify_comment(comment, actor=actor, mentioned=fresh, parent=None)
    return comment


@transaction.atomic
def comment_delete(*, actor, comment: Comment, expected_version: int | None = None) -> Comment:
    """Delete a comment (soft: its thread keeps its place; its text is no longer shown)."""
    if actor is not None and not comment_can_delete(actor, comment) and comment.deleted_at is None:
        raise PermissionDenied("Only its author (or an admin, for a shared comment) may delete a comment.")
    return record_soft_delete(actor=actor, instance=comment, expected_version=expected_version)


COMMENT = RecordServices(
    fields=CommentFields, instance="comment", create=comment_post, update=comment_edit, delete=comment_delete
)


# --- Contests ---------------------------------------------------------------------------------

# Who may contest a figure (on a side of its relationship): staff who take part, not read-only roles.
CONTEST_ROLES = (access.Role.ADMIN, access.Role.ACCOUNT_MANAGER, access.Role.CONTRIBUTOR)
Kind, Status, Outcome = Contest.Kind, Contest.Status, Contest.Outcome


@dataclasses.dataclass(frozen=True, kw_only=True)
class ContestFields(Fields):
    external_id: str | Unset | None = UNSET
    kind: str | Unset = UNSET
    relationship: Relationship | Unset | None = UNSET
    project: InnovationProject | Unset | None = UNSET
    project_kpi: ProjectKPI | Unset | None = UNSET
    measurement: Measurement | Unset | None = UNSET
    period: dt.date | Unset | None = UNSET
    reason: str | Unset = UNSET
    proposed_value: str | Unset = UNSET


def contest_can_raise(user, relationship: Relationship) -> bool:
    return access.side_of(user, relationship) is not None and access.role_of(user) in CONTEST_ROLES


def contest_can_answer(user, contest: Contest) -> bool:
    """The other side answers a contest (its staff who may contest), or whoever keeps the
    relationship's figures (its account managers, an admin) if they did not raise it."""
    if not contest.is_unresolved or contest.status != Status.OPEN:
        return False
    relationship = contest.relationship
    if contest.raised_by_id == getattr(user, "pk", None):
        return False
    other_side = access.side_of(user, relationship) not in (None, contest.raised_side)
    return (other_side and access.role_of(user) in CONTEST_ROLES) or access.can_write_relationship(
        user, relationship
    )


def contest_can_resolve(user, contest: Contest) -> bool:
    """Whoever keeps the relationship's figures settles a contest: accepting it corrects the figure
    through the services, which only they may call."""
    return contest.is_unresolved and access.can_write_relationship(user, contest.relationship)


def contest_can_withdraw(user, contest: Contest) -> bool:
    return contest.is_unresolved and contest.raised_by_id is not None and contest.raised_by_id == user.pk


def _plain(value) -> str:
    """A figure as text, as typed (no trailing zeros of the column): 85.0000 → "85"."""
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def figure_of(data: dict) -> tuple[str, Relationship, dict, str]:
    """(kind, relationship, the contest's target fields, the figure now) of the figure `data` names."""
    kind = data.get("kind")
    if kind not in Kind.values:
        raise ValidationError({"kind": f"Choose one of: {', '.join(Kind.values)}."})
    required = {
        Kind.MEASUREMENT: "measurement",
        Kind.BASELINE: "project_kpi",
        Kind.DELIVERY_DATE: "project",
        Kind.REALISED_BENEFIT: "project",
        Kind.SCORE: "period",
    }[kind]
    if data.get(required) is None:
        raise ValidationError({required: f"Name the {Kind(kind).label.lower()} contested."})
    if kind == Kind.MEASUREMENT:
        measurement = data["measurement"]
        if measurement.deleted_at is not None:
            raise ValidationError({"measurement": "This measurement has been deleted."})
        project_kpi = measurement.project_kpi
        target = {"measurement": measurement, "project_kpi": project_kpi, "project": project_kpi.project}
        value = measurement.value
    elif kind == Kind.BASELINE:
        project_kpi = data["project_kpi"]
        if project_kpi.deleted_at is not None:
            raise ValidationError({"project_kpi": "This KPI is no longer tracked."})
        target = {"project_kpi": project_kpi, "project": project_kpi.project}
        value = project_kpi.baseline_value
    elif kind == Kind.SCORE:
        relationship, period = data.get("relationship"), data["period"].replace(day=1)
        if relationship is None:
            raise ValidationError({"relationship": "Name the relationship whose score is contested."})
        score = RelationshipScore.objects.filter(relationship=relationship, period=period).first()
        if score is None:
            raise ValidationError({"period": f"This relationship has no score for {period:%B %Y}."})
        return kind, relationship, {"period": period}, _plain(score.score)
    else:
        project = data["project"]
        value = project.delivered_on if kind == Kind.DELIVERY_DATE else project.realised_annual_benefit
        if value is None:
            what = "delivered" if kind == Kind.DELIVERY_DATE else "given a realised benefit"
            raise ValidationError({"project": f"This project has not been {what} yet; nothing to contest."})
        target = {"project": project}
    project = target["project"]
    if project.deleted_at is not None:
        raise ValidationError({"project": "This project has been deleted."})
    given = {
        name: data[name] for name in ("relationship", "project", "project_kpi") if data.get(name) is not None
    }
    wrong = sorted(
        name
        for name, record in given.items()
        if getattr(record, "pk", None)
        != (project.relationship_id if name == "relationship" else target[name].pk)
    )
    if wrong:
        raise ValidationError(dict.fromkeys(wrong, "This does not match the figure contested."))
    return kind, project.relationship, target, _plain(value)


@transaction.atomic
def contest_raise(*, actor, fields: ContestFields) -> Contest:
    """Contest a figure, with a reason (and, if known, the value it should have). One contest per
    figure is open at a time; the other side is told."""
    data = fields.given()
    kind, relationship, target, value = figure_of(data)
    if relationship.deleted_at is not None:
        raise ValidationError({"relationship": "This relationship has been deleted."})
    side = side_or_refuse(actor, relationship, to="contest figures")
    if access.role_of(actor) not in CONTEST_ROLES:
        raise PermissionDenied(
            "Your role may comment and answer the pulse; contesting a figure needs a contributor."
        )
    reason = (data.get("reason") or "").strip() if isinstance(data.get("reason"), str) else ""
    if not reason:
        raise ValidationError({"reason": "Say why the figure is wrong."})
    proposed = data.get("proposed_value")
    contest = record_create(
        actor=actor,
        model=Contest,
        data={
            "external_id": data.get("external_id"),
            "relationship": relationship,
            "kind": kind,
            **target,
            "contested_value": value,
            "proposed_value": proposed.strip() if isinstance(proposed, str) else "",
            "reason": reason,
            "raised_by": actor,
            "raised_side": side,
        },
    )
    seated = access.seated_people(relationship)
    other_side = [person for person in seated[_other(side)] if access.role_of(person) in CONTEST_ROLES]
    keepers = [
        person
        for person in seated[access.Side.PROVIDER]
        if access.can_write_relationship(person, relationship)
    ]
    _after_commit(
        notifications.notice(
            reason=notifications.Reason.CONTEST_OPENED,
            recipients=other_side + keepers,
            record=contest,
            actor=actor,
            summary=f"{_name(actor)} contested {describe(contest)} of {relationship}.",
        )
    )
    return contest


def _other(side: str) -> str:
    return access.Side.PROVIDER if side == access.Side.CLIENT else access.Side.CLIENT


def _name(user) -> str:
    return (user.get_full_name() or user.get_username()) if user is not None else "The system"


def describe(contest: Contest) -> str:
    """The figure a contest names, in words: "the measurement of Fill rate on 2024-06-01"."""
    if contest.kind == Kind.MEASUREMENT:
        return f"the measurement of {contest.project_kpi.kpi} on {contest.measurement.measured_on:%Y-%m-%d}"
    if contest.kind == Kind.BASELINE:
        return f"the baseline of {contest.project_kpi.kpi} on {contest.project}"
    if contest.kind == Kind.DELIVERY_DATE:
        return f"the delivery date of {contest.project}"
    if contest.kind == Kind.REALISED_BENEFIT:
        return f"the realised benefit of {contest.project}"
    return f"the {contest.period:%B %Y} score"


def _transition(*, actor, contest: Contest, data: dict) -> Contest:
    return record_update(actor=actor, instance=contest, data=data, action=AuditEntry.Action.TRANSITION)


def _text(value, field: str, missing: str) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise ValidationError({field: missing})
    return text


@transaction.atomic
def contest_answer(*, actor, contest: Contest, answer: str, expected_version: int | None = None) -> Contest:
    """The other side (or the figures' keepers) answer an open contest."""
    contest = lock_for_write(contest, expected_version=expected_version)
    if contest.status != Status.OPEN:
        raise ValidationError({"status": f"This contest is {contest.get_status_display().lower()} already."})
    if not contest_can_answer(actor, contest):
        raise PermissionDenied(
            "The other side of the relationship, or its account managers, answer a contest."
        )
    text = _text(answer, "answer", "Write the answer.")
    contest = _transition(
        actor=actor,
        contest=contest,
        data={"status": Status.ANSWERED, "answer": text, "answered_by": actor, "answered_at": timezone.now()},
    )
    _after_commit(
        notifications.notice(
            reason=notifications.Reason.CONTEST_ANSWERED,
            recipients=_still_at_table(contest, [contest.raised_by]),
            record=contest,
            actor=actor,
            summary=f"{_name(actor)} answered your contest of {describe(contest)}.",
        )
    )
    return contest


def _still_at_table(contest: Contest, people) -> list:
    return [
        person
        for person in people
        if person is not None and access.can_see_relationship(person, contest.relationship)
    ]


def _decimal(text: str) -> Decimal:
    try:
        value = Decimal(text.replace(",", "").strip())
    except InvalidOperation as error:
        raise ValidationError({"corrected_value": "Enter a number."}) from error
    if not value.is_finite():
        raise ValidationError({"corrected_value": "Enter a number."})
    return value


def _correct(*, actor, contest: Contest, text: str):
    """Correct the contested figure through its own service; the record written (at its new version)."""
    if contest.kind == Kind.MEASUREMENT:
        return kpi_services.measurement_update(
            actor=actor,
            measurement=Measurement.objects.get(pk=contest.measurement_id),
            changes=kpi_services.MeasurementFields(value=_decimal(text)),
        )
    if contest.kind == Kind.BASELINE:
        return kpi_services.project_kpi_update(
            actor=actor,
            project_kpi=ProjectKPI.objects.get(pk=contest.project_kpi_id),
            changes=kpi_services.ProjectKPIFields(baseline_value=_decimal(text)),
        )
    project = InnovationProject.objects.get(pk=contest.project_id)
    if contest.kind == Kind.DELIVERY_DATE:
        try:
            delivered_on = dt.date.fromisoformat(text.strip())
        except ValueError as error:
            raise ValidationError({"corrected_value": "Enter a date as YYYY-MM-DD."}) from error
        changes = project_services.ProjectFields(delivered_on=delivered_on)
    else:
        changes = project_services.ProjectFields(realised_annual_benefit=_decimal(text))
    return project_services.project_update(actor=actor, project=project, changes=changes)


@transaction.atomic
def contest_resolve(
    *,
    actor,
    contest: Contest,
    outcome: str,
    resolution: str = "",
    corrected_value: str | None = None,
    expected_version: int | None = None,
) -> Contest:
    """Settle a contest: accepted — the figure is corrected through its service (the correction's
    audit entry is linked to the contest) or, for a month's score, the month is rolled up again;
    rejected — with the reason. Only the figures' keepers (account managers, an admin) settle."""
    contest = lock_for_write(contest, expected_version=expected_version)
    if not contest.is_unresolved:
        raise ValidationError({"status": "This contest is resolved already."})
    if not contest_can_resolve(actor, contest):
        raise PermissionDenied("The relationship's account managers settle contests: they keep its figures.")
    if outcome not in (Outcome.ACCEPTED, Outcome.REJECTED):
        raise ValidationError({"outcome": "Accept or reject the contest."})
    note = resolution.strip() if isinstance(resolution, str) else ""
    data = {
        "status": Status.RESOLVED,
        "outcome": outcome,
        "resolved_by": actor,
        "resolved_at": timezone.now(),
    }
    if outcome == Outcome.REJECTED:
        data["resolution"] = _text(note, "resolution", "Say why the figure stands.")
    else:
        data["resolution"] = note
        if contest.kind == Kind.SCORE:
            # The score is computed: its inputs are corrected where they live; the month is rolled up
            # again from them, forced, since a stored figure that disagrees with its unchanged
            # inputs is exactly what the fingerprint check would leave alone.
            rollup_scores(
                period=contest.period,
                relationship_ids=[contest.relationship_id],
                reason=f"contest {contest.pk} accepted",
                force=True,
            )
        else:
            text = _text(corrected_value, "corrected_value", "Give the corrected figure.")
            try:
                record = _correct(actor=actor, contest=contest, text=text)
            except ValidationError as error:
                raise ValidationError({"corrected_value": _messages(error)}) from error
            entry = (
                AuditEntry.objects.filter(
                    content_type=ContentType.objects.get_for_model(type(record)),
                    object_id=record.pk,
                    version=record.version,
                    at__gte=data["resolved_at"],
                )
                .order_by("-id")
                .first()
            )
            if entry is None:
                same = "This is the figure's value already: give the corrected one, or reject."
                raise ValidationError({"corrected_value": same})
            data.update({"corrected_value": text, "correction": entry})
    contest = _transition(actor=actor, contest=contest, data=data)
    _after_commit(
        notifications.notice(
            reason=notifications.Reason.CONTEST_RESOLVED,
            recipients=_still_at_table(contest, [contest.raised_by, contest.answered_by]),
            record=contest,
            actor=actor,
            summary=f"{_name(actor)} {contest.get_outcome_display().lower()} the contest of "
            f"{describe(contest)}.",
        )
    )
    return contest


def _messages(error: ValidationError) -> list[str]:
    return [
        message
        for messages in getattr(error, "message_dict", {"": error.messages}).values()
        for message in messages
    ]


@transaction.atomic
def contest_withdraw(*, actor, contest: Contest, expected_version: int | None = None) -> Contest:
    """Whoever raised a contest may withdraw it while it is unresolved."""
    contest = lock_for_write(contest, expected_version=expected_version)
    if not contest.is_unresolved:
        raise ValidationError({"status": "This contest is resolved already."})
    if not contest_can_withdraw(actor, contest):
        raise PermissionDenied("Only the person who raised a contest may withdraw it.")
    return _transition(
        actor=actor,
        contest=contest,
        data={
            "status": Status.RESOLVED,
            "outcome": Outcome.WITHDRAWN,
            "resolved_by": actor,
            "resolved_at": timezone.now(),
        },
    )


def contest_due(contest: Contest) -> dt.date:
    """The day an unresolved contest goes to the executives."""
    days = _options()["CONTEST_ESCALATION_BUSINESS_DAYS"]
    return add_business_days(timezone.localdate(contest.created_at), days)


def contests_escalate_overdue(*, now: dt.datetime | None = None) -> int:
    """Escalate every contest left unresolved for the escalation period (10 business days) to the
    relationship's executives; each once (safe to run again). Returns how many were escalated."""
    now = now or timezone.now()
    days = _options()["CONTEST_ESCALATION_BUSINESS_DAYS"]
    today = timezone.localdate(now)
    candidates = Contest.objects.filter(
        status__in=Contest.UNRESOLVED,
        escalated_at__isnull=True,
        deleted_at__isnull=True,
        relationship__deleted_at__isnull=True,
        # Ten business days take at least ten calendar days: only those can be due.
        created_at__lte=now - dt.timedelta(days=days),
    ).select_related(
        "relationship__client", "relationship__provider", "project", "project_kpi__kpi", "measurement"
    )
    escalated = 0
    for contest in candidates.order_by("created_at", "id"):
        if business_days_between(timezone.localdate(contest.created_at), today) < days:
            continue
        with transaction.atomic():
            current = lock_for_write(contest)
            if current.escalated_at is not None or not current.is_unresolved:
                continue  # escalated or settled by another run meanwhile
            contest = _transition(actor=None, contest=current, data={"escalated_at": now})
            executives = relationship_executives(contest.relationship)
            _after_commit(
                notifications.notice(
                    reason=notifications.Reason.CONTEST_ESCALATED,
                    recipients=executives,
                    record=contest,
                    actor=None,
                    summary=f"The contest of {describe(contest)} of {contest.relationship} has been open "
                    f"{days} business days without being resolved.",
                )
            )
        escalated += 1
    return escalated


# --- The relationship pulse -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class PulseFields(Fields):
    external_id: str | Unset | None = UNSET
    relationship: Relationship | Unset = UNSET
    quarter: dt.date | Unset = UNSET
    ideas: int | Unset = UNSET
    openness: int | Unset = UNSET
    sponsorship: int | Unset = UNSET
    trust: int | Unset = UNSET
    comment: str | Unset = UNSET


def _check_answers(data: dict, *, required: bool) -> dict:
    errors, answers = {}, {}
    low, high = pulse.SCALE
    for name in PulseResponse.ANSWERS:
        if name not in data:
            if required:
                errors[name] = "Answer from 1 (disagree) to 5 (agree)."
            continue
        value = data[name]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            errors[name] = "Answer from 1 (disagree) to 5 (agree)."
        else:
            answers[name] = value
    if "comment" in data:
        comment = data["comment"]
        answers["comment"] = comment.strip() if isinstance(comment, str) else ""
    if errors:
        raise ValidationError(errors)
    return answers


def _check_quarter_open(data: dict, quarter: dt.date) -> None:
    given = data.get("quarter")
    if given is not None and quarter_start(given) != quarter:
        raise ValidationError({"quarter": f"Only this quarter's pulse ({quarter_label(quarter)}) is open."})


@transaction.atomic
def pulse_answer(*, actor, fields: PulseFields, today: dt.date | None = None) -> PulseResponse:
    """Answer a relationship's pulse for the current quarter: once per person per quarter (a
    unique constraint), from either side of the relationship."""
    data = fields.given()
    relationship = data.get("relationship")
    if not isinstance(relationship, Relationship):
        raise ValidationError({"relationship": "This field is required."})
    if relationship.deleted_at is not None:
        raise ValidationError({"relationship": "This relationship has been deleted."})
    side = side_or_refuse(actor, relationship, to="answer the pulse")
    quarter = quarter_start(today or timezone.localdate())
    _check_quarter_open(data, quarter)
    answers = _check_answers(data, required=True)
    return record_create(
        actor=actor,
        model=PulseResponse,
        data={
            "external_id": data.get("external_id"),
            "relationship": relationship,
            "quarter": quarter,
            "respondent": actor,
            "side": side,
            **answers,
        },
    )


@transaction.atomic
def pulse_change(
    *,
    actor,
    response: PulseResponse,
    changes: PulseFields,
    expected_version: int | None = None,
    today: dt.date | None = None,
) -> PulseResponse:
    """Change one's own answers until the quarter closes."""
    if response.respondent_id != getattr(actor, "pk", None):
        raise PermissionDenied("Only its author may change a pulse answer.")
    data = changes.given()
    if "relationship" in data and getattr(data["relationship"], "pk", None) != response.relationship_id:
        raise ValidationError({"relationship": "An answer stays with its relationship."})
    if "quarter" in data and quarter_start(data["quarter"]) != response.quarter:
        raise ValidationError({"quarter": "An answer stays with its quarter."})
    if quarter_end(response.quarter) < (today or timezone.localdate()):
        raise ValidationError(
            f"The pulse of {quarter_label(response.quarter)} has closed; its answers are final."
        )
    update = _check_answers(data, required=False)
    if "external_id" in data:
        update["external_id"] = data["external_id"]
    return record_update(actor=actor, instance=response, data=update, expected_version=expected_version)


# --- Recognition: the people named on a project ---------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class ContributorFields(Fields):
    external_id: str | Unset | None = UNSET
    project: InnovationProject | Unset = UNSET
    person: object | Unset = UNSET
    contribution: str | Unset = UNSET


@transaction.atomic
def contributor_add(*, actor, fields: ContributorFields) -> ProjectContributor:
    """Name a person of either side for their part in a project (the project's writers name them)."""
    data = fields.given()
    project, person = data.get("project"), data.get("person")
    if not isinstance(project, InnovationProject):
        raise ValidationError({"project": "This field is required."})
    if project.deleted_at is not None:
        raise ValidationError({"project": "This project has been deleted."})
    access.ensure_can_write(actor, project.relationship)
    relationship = project.relationship
    side = access.side_of(person, relationship) if person is not None else None
    if side is None:
        raise ValidationError(
            {"person": f"Name a person of {relationship.client} or {relationship.provider} who works on it."}
        )
    contribution = data.get("contribution")
    return record_create(
        actor=actor,
        model=ProjectContributor,
        data={
            "external_id": data.get("external_id"),
            "project": project,
            "person": person,
            "side": side,
            "organization": relationship.client if side == access.Side.CLIENT else relationship.provider,
            "contribution": contribution.strip() if isinstance(contribution, str) else "",
        },
    )


@transaction.atomic
def contributor_update(
    *, actor, contributor: ProjectContributor, changes: ContributorFields, expected_version: int | None = None
) -> ProjectContributor:
    """Change what a contributor is named for (the project and the person stay)."""
    access.ensure_can_write(actor, contributor.project.relationship)
    data = changes.given()
    for name in ("project", "person"):
        if name in data and getattr(data[name], "pk", None) != getattr(contributor, f"{name}_id"):
            raise ValidationError({name: "This cannot change; remove the contributor and name another."})
        data.pop(name, None)
    if "contribution" in data:
        data["contribution"] = data["contribution"].strip() if isinstance(data["contribution"], str) else ""
    return record_update(actor=actor, instance=contributor, data=data, expected_version=expected_version)


@transaction.atomic
def contributor_remove(
    *, actor, contributor: ProjectContributor, expected_version: int | None = None
) -> ProjectContributor:
    access.ensure_can_write(actor, contributor.project.relationship)
    return record_soft_delete(actor=actor, instance=contributor, expected_version=expected_version)


CONTRIBUTOR = RecordServices(
    fields=ContributorFields,
    instance="contributor",
    create=contributor_add,
    update=contributor_update,
    delete=contributor_remove,
)
