"""Appending events. Every domain write calls these inside its transaction, so an event exists
exactly when its change committed; a rollback takes the event with it.

`append_events` writes any number of events in one INSERT. Record-aware helpers (which record
type, which relationship, which version) live with the records, in projects.events.
"""

import dataclasses
import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.utils import timezone

from outbox.catalogue import is_known
from outbox.models import Event
from outbox.rows import insert_values
from outbox.tasks import request_relay


@dataclasses.dataclass(frozen=True, kw_only=True)
class NewEvent:
    """One event to append: what happened, to which record, within which relationship."""

    type: str
    record_type: str
    record_id: int | None = None
    external_id: str | None = None
    version: int | None = None
    relationship_id: int | None = None
    sync_stamp: int | None = None
    data: dict[str, Any] = dataclasses.field(default_factory=dict)


EVENT_COLUMNS = [
    "type",
    "occurred_at",
    "record_type",
    "record_id",
    "external_id",
    "version",
    "relationship_id",
    "actor",
    "sync_stamp",
    "data",
]


def _actor_id(actor) -> int | None:
    if actor is None or not getattr(actor, "is_authenticated", False):
        return None
    return actor.pk


def append_events(events: Iterable[NewEvent], *, actor=None, occurred_at: dt.datetime | None = None) -> int:
    """Append events in the caller's transaction (one INSERT) and have them relayed after commit.

    Returns the number appended. An unknown event type is a programming error and raises.
    """
    occurred_at = occurred_at or timezone.now()
    actor_id = _actor_id(actor)
    rows, known = [], set()
    for event in events:
        if event.type not in known:  # each type checked once per call, not once per event
            if not is_known(event.type):
                raise ValueError(f"Unknown event type {event.type!r}; add it to outbox.catalogue.")
            known.add(event.type)
        rows.append(
            (
                event.type,
                occurred_at,
                event.record_type,
                event.record_id,
                event.external_id,
                event.version,
                event.relationship_id,
                actor_id,
                event.sync_stamp,
                event.data,
            )
        )
    if not rows:
        return 0
    insert_values(Event, EVENT_COLUMNS, rows)
    request_relay()
    return len(rows)


def append_event(event: NewEvent, *, actor=None) -> None:
    append_events([event], actor=actor)
