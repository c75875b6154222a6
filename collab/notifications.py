"""The seam to the notification centre: who is told about what happened in a relationship.

Collaboration writes call `notify_people` once their transaction has committed, with the recipients
already narrowed to people who may see the record (an internal comment's mentions and replies never
reach the other side) and without the person who acted. The notification centre (in-app
notifications, e-mail digests) fills `notify_people` in; until it exists a notice is only logged,
so nothing is sent anywhere.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass

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
    )


def notify_people(notice: Notice) -> None:
    """HOOK for the notification centre: deliver `notice` to each of its recipients.

    Called after commit, at most once per notice. Recipients may all see the record the notice is
    about; the summary names no content of an internal comment beyond what its recipients may read.
    """
    logger.info(
        "Notice %s about %s #%s for users %s",
        notice.reason,
        notice.record_label,
        notice.record_id,
        list(notice.recipient_ids),
    )
