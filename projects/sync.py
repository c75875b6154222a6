"""Incremental sync cursors: a client that keeps passing the cursor back sees every change once.

Every synced row carries a `change_stamp` (see projects.records.current_change_stamp): on
PostgreSQL the id of the transaction that last wrote it, on SQLite a counter bumped inside the
serialised write transaction. Transaction ids are handed out when a transaction first writes, not
when it commits, so "everything stamped above the highest stamp I have seen" would miss a
transaction that started early and committed late. The cursor therefore never moves past a
transaction that may still commit:

* A *pass* covers the stamps in ``[since, upper)``. ``upper`` is taken once, before the pass reads
  anything: on PostgreSQL the oldest transaction id still running in this database (the snapshot's
  ``xmin``, see `_PG_STABLE_UPPER`), on SQLite the committed clock value + 1. Every transaction
  stamped below ``upper`` has finished, so the rows of the range are fixed: no writer can add a
  row to it any more, and a row that is written again gets a stamp ≥ ``upper`` and leaves the
  range for the next pass.
* Within a pass, pages are read in ``(change_stamp, id)`` order after the last key delivered. As
  the range can only lose rows (to the next pass), keyset paging over it skips nothing, however
  long the pass takes.
* When a pass is exhausted the next one starts at ``since = upper``. Each version of a row is
  delivered exactly once (a row written again before it was delivered is delivered in its newest
  version); a change appears as soon as every transaction that started before it has finished.

What a user may see can change too (an account manager is assigned another relationship). Rows
that become visible keep their old stamps, so a cursor also records a fingerprint of the caller's
scope; when it no longer matches, the pass restarts from the beginning and says so (`reset`), and
the client replaces its copy.

Derived rows without a change stamp (monthly scores) are synced by the time they were computed,
with an overlap longer than any writer may hold its transaction (see `TimeSyncSource`).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
from dataclasses import dataclass, replace

from django.conf import settings
from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone

from projects import access
from projects.models import SyncClock

MAX_STAMP = 2**63 - 1
_TOKEN_VERSION = 1


class InvalidCursor(ValueError):
    """The cursor text is not one this server issued."""


@dataclass(frozen=True)
class SyncCursor:
    """Where a client stands: rows stamped in ``[since, upper)`` after ``after`` are still due."""

    since: int = 0
    upper: int | None = None  # fixed for one pass; None: the next request starts a pass
    after: tuple[int, int] | None = None  # (stamp, id) of the last row delivered in this pass
    scope: str = ""  # fingerprint of what the caller could see when the cursor was issued

    def encode(self) -> str:
        after = list(self.after) if self.after else None
        payload = json.dumps(
            [_TOKEN_VERSION, self.since, self.upper, after, self.scope], separators=(",", ":")
        )
        return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> SyncCursor:
        """Parse a cursor; "0" (or an empty value) starts a full sync from the beginning."""
        token = (token or "").strip()
        if token in ("", "0"):
            return cls()
        if len(token) > 500:
            raise InvalidCursor("Not a sync cursor issued by this server.")
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            version, since, upper, after, scope = json.loads(raw)
        except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as error:
            raise InvalidCursor("Not a sync cursor issued by this server.") from error
        if version != _TOKEN_VERSION or not isinstance(scope, str) or len(scope) > 64:
            raise InvalidCursor("Not a sync cursor issued by this server.")
        numbers = [since] + ([upper] if upper is not None else []) + (list(after) if after else [])
        if after is not None and (not isinstance(after, list) or len(after) != 2):
            raise InvalidCursor("Not a sync cursor issued by this server.")
        if not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= MAX_STAMP for n in numbers):
            raise InvalidCursor("Not a sync cursor issued by this server.")
        if upper is not None and upper < since:
            raise InvalidCursor("Not a sync cursor issued by this server.")
        return cls(since=since, upper=upper, after=tuple(after) if after else None, scope=scope)


@dataclass
class SyncPage:
    rows: list
    next_cursor: SyncCursor
    has_more: bool
    reset: bool


# The snapshot's xmin, less the transactions known to run in *other* databases of the cluster
# (they never write our rows): every id below the result is finished, or belongs elsewhere. A
# transaction whose database cannot be told (it just ended, or pg_stat_activity hides it) still
# counts, so the bound only ever errs low: a change arrives a little later, never gets lost.
# Without this refinement one long transaction in a neighbouring database would stall every sync.
_PG_STABLE_UPPER = """
WITH snapshot AS (SELECT pg_current_snapshot() AS snap)
SELECT LEAST(
    pg_snapshot_xmax(snap),
    (
        SELECT min(running)
        FROM pg_snapshot_xip(snap) AS running
        WHERE NOT EXISTS (
            SELECT 1 FROM pg_stat_activity AS activity
            WHERE activity.backend_xid = xid(running)
              AND activity.datname IS DISTINCT FROM current_database()
              AND activity.datid IS NOT NULL
        )
    )
)::text::bigint
FROM snapshot
"""


class StampSyncSource:
    """Rows ordered by `change_stamp` (every SyncedModel)."""

    field = "change_stamp"

    def stable_upper(self) -> int:
        """A stamp below which every write transaction has finished (committed or rolled back)."""
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(_PG_STABLE_UPPER)
                return cursor.fetchone()[0]
            # SQLite serialises writers and we only see committed data: every stamp up to the
            # committed clock value is final.
            cursor.execute(f"SELECT value FROM {SyncClock._meta.db_table} WHERE id = 1")
            row = cursor.fetchone()
            return (row[0] if row else 0) + 1

    def next_since(self, upper: int) -> int:
        return upper

    def to_db(self, stamp: int):
        return stamp

    def stamp_of(self, row) -> int:
        return row.change_stamp


class TimeSyncSource:
    """Rows ordered by a timestamp their writer sets (RelationshipScore.computed_at).

    A writer stamps the time before it commits, so a row can appear with a time earlier than rows
    already delivered. Each pass therefore starts `overlap` before the previous pass ended: longer
    than any writer holds its transaction (Celery's hard time limit ends a task that runs longer).
    Rows of the overlap may be delivered twice; none is missed.
    """

    def __init__(self, field: str = "computed_at"):
        self.field = field

    @property
    def overlap(self) -> dt.timedelta:
        seconds = getattr(settings, "API_TIME_SYNC_OVERLAP_SECONDS", None)
        if seconds is None:
            seconds = int(getattr(settings, "CELERY_TASK_TIME_LIMIT", 600) or 600) + 60
        return dt.timedelta(seconds=seconds)

    def stable_upper(self) -> int:
        return _micros(timezone.now())

    def next_since(self, upper: int) -> int:
        return max(0, upper - int(self.overlap.total_seconds() * 1_000_000))

    def to_db(self, stamp: int):
        return _EPOCH + dt.timedelta(microseconds=stamp)

    def stamp_of(self, row) -> int:
        return _micros(getattr(row, self.field))


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _micros(value: dt.datetime) -> int:
    delta = value - _EPOCH
    return max(0, (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds)


def scope_fingerprint(user, *, scoped: bool = True) -> str:
    """What `user` may see, as a short hash; it changes when their scope changes.

    `scoped=False` is for reference data (the KPI catalogue), the same for everyone."""
    role = access.role_of(user)
    if not scoped:
        return "all"
    if role is None:
        return "none"
    if access.sees_everything(user):
        return "all"
    ids = list(access.visible_relationships(user).order_by("pk").values_list("pk", flat=True))
    # Whoever sees through an organisation also sees that organisation, relationships or not, and
    # sits on its side of each relationship (which decides the internal comments they receive).
    organization_id = access.user_organization_id(user)
    text = f"{role}:{organization_id}:{','.join(map(str, ids))}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def start_cursor(source, *, scope: str) -> SyncCursor:
    """A cursor for "everything that changes from now on", taken before the caller reads."""
    return SyncCursor(since=source.stable_upper(), scope=scope)


def sync_page(queryset: QuerySet, cursor: SyncCursor, *, page_size: int, scope: str, source=None) -> SyncPage:
    """The next page of changes for `cursor`: rows of the queryset (deleted ones included)."""
    source = source or StampSyncSource()
    reset = bool(cursor.scope) and cursor.scope != scope
    if reset:
        cursor = SyncCursor(scope=scope)
    if cursor.upper is None:
        cursor = replace(cursor, upper=source.stable_upper(), after=None, scope=scope)
    field = source.field
    rows_qs = queryset.filter(
        **{f"{field}__gte": source.to_db(cursor.since), f"{field}__lt": source.to_db(cursor.upper)}
    )
    if cursor.after is not None:
        stamp, pk = cursor.after
        rows_qs = rows_qs.filter(
            Q(**{f"{field}__gt": source.to_db(stamp)}) | Q(**{field: source.to_db(stamp), "pk__gt": pk})
        )
    rows = list(rows_qs.order_by(field, "pk")[: page_size + 1])
    has_more = len(rows) > page_size
    rows = rows[:page_size]
    if has_more:
        last = rows[-1]
        next_cursor = replace(cursor, after=(source.stamp_of(last), last.pk), scope=scope)
    else:
        next_cursor = SyncCursor(since=source.next_since(cursor.upper), scope=scope)
    return SyncPage(rows=rows, next_cursor=next_cursor, has_more=has_more, reset=reset)
