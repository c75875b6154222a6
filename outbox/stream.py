"""Reading the outbox in order: numbering committed events, feeding consumers, pruning old ones.

Events are appended with the change that caused them (outbox.services) but numbered only after
they commit, one batch at a time under the clock row's lock. So sequence order is commit order:
a reader that has seen sequence N will never later meet a newly committed event below N, however
the writing transactions interleave. (Numbering at insert time would not give that: a transaction
that appends early and commits late would slip a low number in behind a reader.)

Consumers — the webhook fan-out, notifications — each keep their own position, moved in the same
transaction as what they write, and are fed by the relay (outbox.tasks.relay_events) after each
numbering and by the periodic catch-up.
"""

import datetime as dt
import logging
from collections.abc import Callable, Iterable

from django.conf import settings
from django.db import transaction
from django.db.models import F, Min, QuerySet
from django.utils import timezone

from outbox.models import ConsumerPosition, Event, OutboxClock

logger = logging.getLogger(__name__)

Consumer = Callable[[list[Event]], None]
_consumers: dict[str, Consumer] = {}
_retention_holds: dict[str, Callable[[], QuerySet]] = {}


def options() -> dict:
    return settings.OUTBOX


# --- Numbering --------------------------------------------------------------------------------


def _lock_clock() -> OutboxClock:
    clock = OutboxClock.objects.select_for_update().filter(pk=1).first()
    if clock is None:
        OutboxClock.objects.get_or_create(pk=1)
        clock = OutboxClock.objects.select_for_update().get(pk=1)
    return clock


def assign_sequences(*, batch_size: int | None = None) -> int:
    """Number the committed events that have no sequence yet, in the order they were appended.

    Returns how many were numbered. Runs in its own transaction; concurrent callers queue on the
    clock row, and each statement after the lock sees every event committed before it.
    """
    batch_size = batch_size or options()["BATCH_SIZE"]
    numbered = 0
    while True:
        with transaction.atomic():
            clock = _lock_clock()
            pending = list(
                Event.objects.filter(sequence__isnull=True)
                .order_by("id")
                .values_list("id", flat=True)[:batch_size]
            )
            if not pending:
                return numbered
            # sequence = id shifted above the clock: one statement, increasing with the append order.
            offset = clock.value + 1 - pending[0]
            Event.objects.filter(id__in=pending).update(sequence=F("id") + offset)
            clock.value = pending[-1] + offset
            clock.save(update_fields=["value"])
            numbered += len(pending)
        if len(pending) < batch_size:
            return numbered


def high_water_mark() -> int:
    """The highest sequence handed out (every event at or below it is committed and readable)."""
    return OutboxClock.objects.filter(pk=1).values_list("value", flat=True).first() or 0


# --- Consumers --------------------------------------------------------------------------------


def register_consumer(name: str, handler: Consumer) -> None:
    """Feed `handler` every numbered event once, in sequence order, in batches.

    The handler runs inside the transaction that moves the consumer's position, so what it writes
    and the position commit together. It should not raise for one bad event (log and skip it): a
    raising handler is retried with the same batch on the next relay.
    """
    _consumers[name] = handler


def registered_consumers() -> tuple[str, ...]:
    return tuple(_consumers)


def run_consumer(name: str, *, batch_size: int | None = None) -> int:
    """Feed one consumer everything after its position; returns the number of events handled."""
    handler = _consumers[name]
    batch_size = batch_size or options()["BATCH_SIZE"]
    handled = 0
    while True:
        with transaction.atomic():
            ConsumerPosition.objects.get_or_create(name=name)
            position = ConsumerPosition.objects.select_for_update().get(name=name)
            events = list(
                Event.objects.filter(sequence__gt=position.position)
                .select_related("actor")
                .order_by("sequence")[:batch_size]
            )
            if not events:
                return handled
            handler(events)
            position.position = events[-1].sequence
            position.updated_at = timezone.now()
            position.save(update_fields=["position", "updated_at"])
            handled += len(events)
        if len(events) < batch_size:
            return handled


def run_consumers(names: Iterable[str] | None = None) -> dict[str, int]:
    """Run every registered consumer (one failing does not stop the others)."""
    results = {}
    for name in names or tuple(_consumers):
        try:
            results[name] = run_consumer(name)
        except Exception:
            logger.exception("Outbox consumer %s failed; it resumes from its position next time", name)
            results[name] = -1
    return results


# --- Retention --------------------------------------------------------------------------------


def register_retention_hold(name: str, event_ids: Callable[[], QuerySet]) -> None:
    """Keep events that a higher app still needs (undelivered webhooks) past the retention period.

    `event_ids()` returns a queryset of the ids to keep (`.values("event_id")`)."""
    _retention_holds[name] = event_ids


def prune_events(*, now=None, batch_size: int = 10_000) -> int:
    """Delete numbered events older than the retention period that nothing still needs: every
    consumer has passed them and no hold keeps them. Returns how many were deleted."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=options()["RETENTION_DAYS"])
    candidates = Event.objects.filter(sequence__isnull=False, occurred_at__lt=cutoff)
    if _consumers:
        slowest = ConsumerPosition.objects.filter(name__in=list(_consumers)).aggregate(low=Min("position"))
        known = ConsumerPosition.objects.filter(name__in=list(_consumers)).count()
        # A consumer that has never run has read nothing yet.
        floor = slowest["low"] if known == len(_consumers) else 0
        candidates = candidates.filter(sequence__lte=floor or 0)
    for hold in _retention_holds.values():
        candidates = candidates.exclude(id__in=hold())
    deleted = 0
    while True:
        ids = list(candidates.order_by("id").values_list("id", flat=True)[:batch_size])
        if not ids:
            return deleted
        deleted += Event.objects.filter(id__in=ids).delete()[1].get(Event._meta.label, 0)
