"""The relay that moves committed events on, and the retention job.

A transaction that appended events asks for one relay after it commits (`request_relay`). With a
broker the relay is a Celery task, queued once for a burst of commits; without one (the embedded
default) it runs in-process right after the commit. The relay numbers what committed and feeds
the consumers. Whatever a lost message or a dead worker leaves behind is picked up by the periodic
relay (Celery beat), so a committed event is never stranded.
"""

import logging
import threading
from contextlib import contextmanager

from celery import shared_task
from django.core.cache import cache
from django.db import InterfaceError, OperationalError, transaction

from outbox import stream

logger = logging.getLogger(__name__)

_QUEUED_KEY = "outbox:relay-queued"
RETRY = {
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": 2,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 8,
}


class _RelayAfterCommit:
    """The one on-commit callback of a transaction that appended events (however many)."""

    def __call__(self) -> None:
        enqueue_relay()


def request_relay() -> None:
    """Relay this transaction's events once it commits (nothing happens if it rolls back)."""
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        transaction.on_commit(enqueue_relay, robust=True)
        return
    for _savepoints, callback, _robust in connection.run_on_commit:
        if isinstance(callback, _RelayAfterCommit):
            return
    transaction.on_commit(_RelayAfterCommit(), robust=True)


class _HeldRelays(threading.local):
    depth = 0
    asked = False


_held = _HeldRelays()


@contextmanager
def relays_held():
    """Within the block, commits that appended events queue no relay of their own; one relay is
    queued when the block ends, if any was asked for. Without a broker the relay runs in-process
    right after each commit: a job that times its own writes (the scoring benchmarks) holds it, so
    that what it times is what a worker does with a broker, where the relay is another task."""
    _held.depth += 1
    try:
        yield
    finally:
        _held.depth -= 1
        if _held.depth == 0 and _held.asked:
            _held.asked = False
            enqueue_relay()


def enqueue_relay() -> None:
    """Queue a relay (in-process without a broker). Never raises: a lost publish is caught up by
    the periodic relay."""
    if _held.depth:
        _held.asked = True
        return
    if relay_events.app.conf.task_always_eager:
        relay_events.delay()
        return
    ttl = stream.options()["RELAY_QUEUED_TTL_SECONDS"]
    try:
        if not cache.add(_QUEUED_KEY, 1, ttl):
            return  # a relay is queued and has not started yet: it will see these events
    except Exception:
        logger.warning("Outbox relay: cache unreachable, publishing without deduplication", exc_info=True)
    try:
        relay_events.apply_async()
    except Exception:
        logger.warning("Outbox relay not queued (broker unreachable); the periodic relay catches up")
        try:
            cache.delete(_QUEUED_KEY)
        except Exception:
            logger.debug("Outbox relay: could not clear the queued key", exc_info=True)


@shared_task(name="outbox.tasks.relay_events", **RETRY)
def relay_events() -> int:
    """Number the committed events and feed every consumer; returns how many were numbered."""
    try:
        cache.delete(_QUEUED_KEY)  # events committed from now on queue a relay of their own
    except Exception:
        logger.debug("Outbox relay: could not clear the queued key", exc_info=True)
    numbered = stream.assign_sequences()
    stream.run_consumers()
    return numbered


@shared_task(name="outbox.tasks.prune_events", **RETRY)
def prune_events() -> int:
    """Delete events past the retention period that every consumer and hold is done with."""
    deleted = stream.prune_events()
    if deleted:
        logger.info(
            "Outbox: pruned %d events older than %d days", deleted, stream.options()["RETENTION_DAYS"]
        )
    return deleted
