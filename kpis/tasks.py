"""Score recompute scheduling and the Celery tasks that roll scores up.

A change that can move a relationship's score calls `request_score_recompute(relationship_id)`
inside its transaction. That does two things:

1. It marks the relationship stale (a `PendingScoreRecompute` row) in the same transaction, so the
   mark commits or rolls back with the change. The roll-up that brings the score up to date clears
   it; the periodic `catch_up_stale_scores` job recomputes whatever is still marked after a grace
   period — the broker was down, a message was lost. Nothing is lost.
2. It asks for a recompute after the commit (`transaction.on_commit`): one callback per transaction
   for all the relationships it touched. Across transactions a burst is collapsed too: a
   relationship already queued (a short-lived cache key, cleared when the task starts) is not
   queued again, and the task runs RECOMPUTE_DELAY_SECONDS after the first change, picking up the
   ones after it. Without a broker (the embedded default, or eager tests) the task runs in-process
   right after the commit, so the score is current as soon as the save returns.
"""

import datetime as dt
import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from celery import chord, group, shared_task
from celery.result import AsyncResult
from django.conf import settings
from django.core.cache import cache
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone

from kpis.models import PendingScorePeriod, PendingScoreRecompute
from kpis.rollup import rollup_scores
from kpis.scoring import month_start
from projects.models import Relationship

logger = logging.getLogger(__name__)

# Worth retrying: a dropped connection, a lock wait that timed out, a deadlock or serialisation
# failure. Anything else (a bug, bad data) fails at once and shows up in the worker log.
TRANSIENT_DATABASE_ERRORS = (OperationalError, InterfaceError)
RETRY = {
    "autoretry_for": TRANSIENT_DATABASE_ERRORS,
    "retry_backoff": 2,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 8,
}


NIGHTLY_REASON = "nightly roll-up"


def _options() -> dict:
    return settings.BPO_SCORE_ROLLUP


def _queued_key(relationship_id: int) -> str:
    return f"kpis:score-recompute-queued:{relationship_id}"


# --- Asking for a recompute -------------------------------------------------------------------


class _PendingRecomputes:
    """The relationships one transaction asked to recompute, flushed once after it commits."""

    def __init__(self) -> None:
        self.relationship_ids: set[int] = set()
        self.flushed = False


class _RecomputeAfterCommit:
    """An on-commit callback. Each request registers one (so that every savepoint and test
    capture of callbacks sees its own), but they share the transaction's pending set and the
    first to run flushes it all, in one task: a transaction touching 1,000 rows publishes once,
    and a broker that is down costs one failed attempt, not 1,000."""

    def __init__(self, pending: _PendingRecomputes) -> None:
        self.pending = pending

    def __call__(self) -> None:
        if self.pending.flushed:
            return
        self.pending.flushed = True
        enqueue_score_recompute(self.pending.relationship_ids)


def _pending_recomputes() -> _PendingRecomputes:
    """The current transaction's pending set (the newest of our callbacks holds it), or a new one."""
    for _savepoints, callback, _robust in reversed(transaction.get_connection().run_on_commit):
        if isinstance(callback, _RecomputeAfterCommit):
            if not callback.pending.flushed:
                return callback.pending
            break
    return _PendingRecomputes()


DEFAULT_REASON = "its projects or KPIs changed"


def request_score_recompute(
    relationship_id: int, *, periods: Iterable[dt.date] = (), reason: str = DEFAULT_REASON
) -> None:
    """Mark a relationship's scores stale and recompute them once the transaction commits.

    The current month is always recomputed; `periods` adds the past months the change falls in
    (kpis.scoring.periods_counting: a back-dated measurement, a corrected delivery date, a deleted
    project move the months whose window holds them, at most twelve). `reason` ("measurement 812
    changed") is stored on the score rows the recompute writes.

    The marks commit (or roll back) with the change that caused them, so a recompute that never runs
    — broker down, worker killed — is still known and caught up by the periodic job. A transaction
    that rolls back asks for nothing.
    """
    request_score_recomputes({relationship_id: periods}, reason=reason)


def request_score_recomputes(
    periods_by_relationship: Mapping[int, Iterable[dt.date]], *, reason: str = DEFAULT_REASON
) -> None:
    """`request_score_recompute` for many relationships at once (bulk writes and imports): two
    statements and one after-commit request whatever the number of relationships and months."""
    if not periods_by_relationship:
        return
    now = timezone.now()
    this_month = month_start(timezone.localdate())
    # One statement each (INSERT … ON CONFLICT DO UPDATE): concurrent writers in the same
    # relationship queue on the rows instead of racing to insert them (update_or_create raised
    # IntegrityError). Of several changes asking for the same month, the latest one's reason stays.
    relationship_ids = sorted(periods_by_relationship)
    PendingScoreRecompute.objects.bulk_create(
        [PendingScoreRecompute(relationship_id=rid, requested_at=now) for rid in relationship_ids],
        update_conflicts=True,
        unique_fields=["relationship"],
        update_fields=["requested_at"],
    )
    PendingScorePeriod.objects.bulk_create(
        [
            PendingScorePeriod(relationship_id=rid, period=period, reason=reason[:200], requested_at=now)
            for rid in relationship_ids
            for period in sorted(
                {month_start(period) for period in periods_by_relationship[rid]} | {this_month}
            )
            if period <= this_month
        ],
        update_conflicts=True,
        unique_fields=["relationship", "period"],
        update_fields=["reason", "requested_at"],
    )
    pending = _pending_recomputes()
    pending.relationship_ids.update(relationship_ids)
    # robust: a failing recompute is logged, never turned into an error of a save that committed.
    transaction.on_commit(_RecomputeAfterCommit(pending), robust=True)


def enqueue_score_recompute(relationship_ids: Iterable[int]) -> None:
    """Queue one recompute of these relationships' current scores, skipping those already queued.

    Never raises for a broker or cache that is down: the stale marks stay, and the periodic job
    catches the scores up.
    """
    relationship_ids = sorted(set(relationship_ids))
    if not relationship_ids:
        return
    if recompute_relationship_scores.app.conf.task_always_eager:
        recompute_relationship_scores.delay(relationship_ids)
        return
    options = _options()
    try:
        fresh = [
            rid for rid in relationship_ids if cache.add(_queued_key(rid), 1, options["QUEUED_TTL_SECONDS"])
        ]
    except Exception:  # The cache is the same Redis as the broker: try to publish all the same.
        logger.warning("Score recompute: cache unreachable, not deduplicating", exc_info=True)
        fresh = relationship_ids
    if not fresh:
        return
    try:
        recompute_relationship_scores.apply_async(args=(fresh,), countdown=options["RECOMPUTE_DELAY_SECONDS"])
    except Exception:  # Whatever the transport raises: the stale marks make a lost publish safe.
        logger.warning(
            "Score recompute of relationships %s not queued (broker unreachable); "
            "they stay marked stale for the periodic catch-up.",
            fresh,
            exc_info=True,
        )
        try:
            cache.delete_many([_queued_key(rid) for rid in fresh])
        except Exception:
            logger.debug("Score recompute: could not clear queued keys", exc_info=True)


# --- Tasks ------------------------------------------------------------------------------------


@shared_task(name="kpis.tasks.recompute_relationship_scores", **RETRY)
def recompute_relationship_scores(relationship_ids: list[int]) -> int:
    """Recompute these relationships' current-month scores; gone relationships are skipped quietly."""
    try:
        # Forget "queued" before reading anything: a change committed from now on queues a new
        # recompute, and one committed before is read by this one.
        cache.delete_many([_queued_key(rid) for rid in relationship_ids])
    except Exception:
        logger.warning("Score recompute: could not clear queued keys", exc_info=True)
    return recompute_requested_months(relationship_ids)


def recompute_requested_months(relationship_ids: Iterable[int]) -> int:
    """Recompute the past months these relationships' changes asked for, oldest first, one roll-up
    per month for all of them, then their current month; return the rows written."""
    relationship_ids = sorted(set(relationship_ids))
    today = timezone.localdate()
    by_period: dict[dt.date, list[int]] = defaultdict(list)
    for relationship_id, period in (
        PendingScorePeriod.objects.filter(relationship_id__in=relationship_ids, period__lt=month_start(today))
        .order_by("period", "relationship_id")
        .values_list("relationship_id", "period")
    ):
        by_period[period].append(relationship_id)
    written = 0
    for period, ids in by_period.items():
        written += rollup_scores(period=period, relationship_ids=ids, reason=DEFAULT_REASON)
    return written + rollup_scores(period=today, relationship_ids=relationship_ids, reason=DEFAULT_REASON)


@shared_task(name="kpis.tasks.rollup_current_month", **RETRY)
def rollup_current_month() -> int:
    """Every live relationship's score for the current month (the nightly snapshot), fanned out over
    the workers in batches (`rollup_month_fanned_out`); returns the number of batches queued.

    On the first day of a month, the month that just ended is rolled up once more too, so changes
    made on its last day reach its final snapshot.
    """
    today = timezone.localdate()
    yesterday = today - dt.timedelta(days=1)
    batches = 0
    if month_start(yesterday) != month_start(today):
        batches += rollup_month_fanned_out(period=yesterday).batches
    return batches + rollup_month_fanned_out(period=today).batches


# --- The monthly roll-up, fanned out ----------------------------------------------------------
#
# One roll-up of 10,000 relationships is ten sequential transactions in one process. Split into
# batches of relationships, each an independent task (its own transaction or few, idempotent: an
# upsert that recomputes from source rows), it runs on as many worker processes as there are, and
# a chord adds the batches up once the last one is done. A batch that fails on a transient database
# error is retried; one whose worker dies is redelivered (late acknowledgement) and recomputes the
# same rows. Batches touch disjoint relationships, so they never wait for each other's locks.


@dataclass(frozen=True)
class FannedOutRollup:
    """What `rollup_month_fanned_out` queued: the batches and the chord's result (None for none)."""

    period: dt.date
    relationships: int
    batches: int
    result: AsyncResult | None

    def wait(self, timeout: float | None = None) -> int:
        """Block until every batch is done; the rows written (needs a result backend, or eager)."""
        if self.result is None:
            return 0
        return self.result.get(timeout=timeout)


def relationship_batches(relationship_ids: list[int], batch_size: int) -> list[list[int]]:
    """Ids in consecutive batches of at most `batch_size`, in id order."""
    ordered = sorted(set(relationship_ids))
    return [ordered[start : start + batch_size] for start in range(0, len(ordered), batch_size)]


def rollup_month_fanned_out(
    *,
    period: dt.date,
    relationship_ids: Iterable[int] | None = None,
    batch_size: int | None = None,
    reason: str = NIGHTLY_REASON,
) -> FannedOutRollup:
    """Queue the roll-up of the month containing `period` as a chord of batch tasks.

    `relationship_ids=None` means every live relationship. Each batch holds at most `batch_size`
    relationships (FANOUT_BATCH_SIZE by default); the chord's callback logs the total and returns the
    rows written. Without a broker (the embedded default) the batches run in-process, one after the
    other, before this returns.
    """
    live = Relationship.objects.filter(deleted_at__isnull=True)
    if relationship_ids is not None:
        live = live.filter(pk__in=list(relationship_ids))
    ids = list(live.order_by("pk").values_list("pk", flat=True))
    batches = relationship_batches(ids, batch_size or _options()["FANOUT_BATCH_SIZE"])
    if not batches:
        return FannedOutRollup(period=period, relationships=0, batches=0, result=None)
    month = month_start(period).isoformat()
    header = group(rollup_score_batch.si(month, batch, reason) for batch in batches)
    app = rollup_score_batch.app
    if not app.conf.task_always_eager and not app.conf.result_backend:
        # A chord counts its batches in the result backend; without one the batches still run,
        # nobody adds them up.
        header.apply_async()
        return FannedOutRollup(period=period, relationships=len(ids), batches=len(batches), result=None)
    result = chord(header)(rollup_fanned_out_done.s(month, len(ids), len(batches), time.time()))
    return FannedOutRollup(period=period, relationships=len(ids), batches=len(batches), result=result)


# Results are kept (unlike the other tasks'): the chord counts them to know when the last batch is
# done, and the callback adds them up.
@shared_task(name="kpis.tasks.rollup_score_batch", ignore_result=False, **RETRY)
def rollup_score_batch(month: str, relationship_ids: list[int], reason: str = NIGHTLY_REASON) -> int:
    """One batch of a fanned-out roll-up: these relationships' scores for `month` (ISO date)."""
    return rollup_scores(
        period=dt.date.fromisoformat(month), relationship_ids=relationship_ids, reason=reason
    )


@shared_task(name="kpis.tasks.rollup_fanned_out_done", ignore_result=False)
def rollup_fanned_out_done(
    written: list[int], month: str, relationships: int, batches: int, queued_at: float
) -> int:
    """The chord's callback: every batch is done. Logs the whole roll-up; returns the rows written."""
    total = sum(written)
    logger.info(
        "Roll-up of %s: %d relationships in %d batches, %d rows written, %.1f s after it was queued",
        month[:7],
        relationships,
        batches,
        total,
        time.time() - queued_at,
    )
    return total


@shared_task(name="kpis.tasks.catch_up_stale_scores", **RETRY)
def catch_up_stale_scores(older_than_seconds: float | None = None) -> int:
    """Recompute relationships still marked stale after the grace period (lost or unsent recomputes)."""
    if older_than_seconds is None:
        older_than_seconds = _options()["STALE_GRACE_SECONDS"]
    cutoff = timezone.now() - dt.timedelta(seconds=older_than_seconds)
    stale = set(
        PendingScoreRecompute.objects.filter(requested_at__lte=cutoff).values_list(
            "relationship_id", flat=True
        )
    ) | set(
        PendingScorePeriod.objects.filter(requested_at__lte=cutoff).values_list("relationship_id", flat=True)
    )
    if not stale:
        return 0
    logger.info("Catching up the scores of %d stale relationships", len(stale))
    return recompute_requested_months(stale)
