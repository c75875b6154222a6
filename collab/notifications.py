"""Who is told about what happened in a relationship, through the notification centre.

Collaboration writes call `notify_people` once their transaction has committed, with the recipients
already narrowed to people who may see the record (an internal comment's mentions and replies never
reach the other side) and without the person who acted. `notify_people` hands each notice to
`notifications.services.notify`, which applies each person's preferences (in the app, the e-mail
digest).
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth import get_user_model

from collab.links import record_url
from notifications.kinds import Kind
from notifications.services import notify

logger = logging.getLogger(__name__)


class Reason:
    MENTION = "mention"  # someone mentioned you in a comment
    REPLY = "reply"  # someone replied to your comment
    CONTEST_OPENED = "contest_opened"  # a figure of your relationship was contested
    CONTEST_ANSWERED = "contest_answered"  # your contest was answered
    CONTEST_RESOLVED = "contest_resolved"  # a contest you raised or answered was resolved
    CONTEST_ESCALATED = "contest_escalated"  # a contest was left unresolved for too long


@dataclass(frozen=True)
class Notice:
    reason: str
    recipient_ids: tuple[int, ...]
    record_label: str  # the record's model, e.g. "collab.comment"
    record_id: int
    relationship_id: int
    actor_id: int | None
    summary: str  # one line, safe to show to every recipient
    url: str = ""  # the page of the record


def notice(*, reason: str, recipients: Iterable, record, actor, summary: str) -> Notice | None:
    """A notice for `recipients` (users), without the actor; None when nobody is left to tell."""
    actor_id = getattr(actor, "pk", None)
    ids = tuple(sorted({user.pk for user in recipients if user.pk != actor_id}))
    if not ids:
        return None
    return Notice(
        reason=reason,
        recipient_ids=ids,
        record_label=record._meta.label_lower,
        record_id=record.pk,
        relationship_id=record.relationship_id,
        actor_id=actor_id,
        summary=summary,
        url=record_url(record),
    )


# The kind of notification (and so the preference it obeys) of each reason.
KIND_OF_REASON = {
    Reason.MENTION: Kind.MENTION,
    Reason.REPLY: Kind.REPLY,
    Reason.CONTEST_OPENED: Kind.CONTESTED,
    Reason.CONTEST_ANSWERED: Kind.CONTESTED,
    Reason.CONTEST_RESOLVED: Kind.CONTESTED,
    Reason.CONTEST_ESCALATED: Kind.CONTESTED,
}


def notify_people(notice: Notice) -> None:
    """Deliver `notice` to each of its recipients who is still active, as their preferences say.

    Called after commit, at most once per notice. Recipients may all see the record the notice is
    about; the summary names no content of an internal comment beyond what its recipients may read.
    """
    recipients = get_user_model().objects.filter(pk__in=notice.recipient_ids, is_active=True)
    written = notify(
        recipients=recipients,
        kind=KIND_OF_REASON.get(notice.reason, Kind.OTHER),
        title=notice.summary,
        url=notice.url,
        relationship_id=notice.relationship_id,
    )
    logger.info(
        "Notice %s about %s #%s: %s of %s recipients notified",
        notice.reason,
        notice.record_label,
        notice.record_id,
        written,
        len(notice.recipient_ids),
    )
