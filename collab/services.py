"""Writes of the collaboration records: comments (and, with them, mentions and replies).

Same contract as the other services: atomic, rights-checked, validated, versioned and audited
through projects.records. Who is told about a write is decided here, after the rules of who may
see it, and handed to the notification centre once the transaction commits
(collab.notifications.notify_people).
"""

import dataclasses
import datetime as dt

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from collab import markup, notifications
from collab.models import Comment, Visibility
from collab.selectors import comment_visible_to
from kpis.models import RelationshipScore
from projects import access
from projects.models import InnovationProject, Relationship
from projects.records import (
    UNSET,
    Fields,
    RecordServices,
    Unset,
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
