"""Sending deliveries: one endpoint at a time, in sequence order, retried on the schedule.

`deliver_endpoint` takes the endpoint's lease (a row stamp with an expiry, so a killed worker's
lease runs out by itself and never needs a transaction held open across an HTTP call), then sends
its pending deliveries oldest sequence first. A failing delivery holds the ones behind it until it
succeeds or runs out of retries: a receiver never sees event N+1 before event N. Each attempt is
logged. Nothing is marked delivered before the receiver answered 2xx, so a worker that dies
mid-request leaves the delivery pending and it is sent again (at least once; receivers
deduplicate on `webhook-id`).
"""

import datetime as dt
import json
import logging
import random
import uuid

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from outbox.models import Event
from projects.events import scope_events
from webhooks import payloads, services, ssrf, transport
from webhooks.models import Delivery, DeliveryAttempt, Endpoint
from webhooks.signing import signature_headers

logger = logging.getLogger(__name__)

# Standard Webhooks' schedule (seconds after the failure before): immediately, 5 s, 5 min, 30 min,
# 2 h, 5 h, 10 h, 10 h; then every 10 h until about three days have passed since the first try.
RETRY_SCHEDULE = (0, 5, 300, 1800, 7200, 18000, 36000, 36000, 36000, 36000, 36000, 36000)
JITTER = 0.1  # ± 10 % of each wait, so endpoints that failed together do not retry together
FAILING_DISABLES_AFTER = dt.timedelta(days=5)


def options() -> dict:
    return settings.WEBHOOKS


def retry_delay(attempts_made: int) -> dt.timedelta | None:
    """How long to wait after the `attempts_made`-th failed attempt; None once retries are spent."""
    if attempts_made >= len(RETRY_SCHEDULE):
        return None
    seconds = RETRY_SCHEDULE[attempts_made] * options()["RETRY_SCALE"]
    seconds *= 1 + random.uniform(-JITTER, JITTER)
    return dt.timedelta(seconds=max(0.0, seconds))


# --- The lease --------------------------------------------------------------------------------


def _acquire(endpoint_id: int) -> str | None:
    token, now = uuid.uuid4().hex, timezone.now()
    taken = Endpoint.objects.filter(
        Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now), pk=endpoint_id, is_active=True
    ).update(lease_token=token, lease_expires_at=now + dt.timedelta(seconds=options()["LEASE_SECONDS"]))
    return token if taken else None


def _renew(endpoint_id: int, token: str) -> bool:
    """Extend the lease; False when it was lost or the endpoint was turned off meanwhile."""
    expires = timezone.now() + dt.timedelta(seconds=options()["LEASE_SECONDS"])
    return bool(
        Endpoint.objects.filter(pk=endpoint_id, lease_token=token, is_active=True).update(
            lease_expires_at=expires
        )
    )


def _release(endpoint_id: int, token: str) -> None:
    Endpoint.objects.filter(pk=endpoint_id, lease_token=token).update(lease_token="", lease_expires_at=None)


def _queue(endpoint_id: int):
    return Delivery.objects.filter(
        endpoint_id=endpoint_id,
        status=Delivery.Status.PENDING,
        kind__in=[Delivery.Kind.EVENT, Delivery.Kind.REPLAY],
    ).order_by("sequence", "id")


def has_due(endpoint_id: int) -> bool:
    return _queue(endpoint_id).filter(next_attempt_at__lte=timezone.now(), endpoint__is_active=True).exists()


# --- Sending ----------------------------------------------------------------------------------


def deliver_endpoint(endpoint_id: int) -> int:
    """Send the endpoint's due deliveries in order; returns how many attempts were made.

    Returns at once when another worker holds the lease (it delivers what is due) or nothing is due.
    When the head of the queue waits for a retry, asks to be run again at that time.
    """
    from webhooks.dispatch import enqueue_endpoint

    token = _acquire(endpoint_id)
    if token is None:
        return 0
    attempts = 0
    retry_at = None
    try:
        # Read once for the whole run: a change of URL or secret, or turning it off, bumps the
        # version, and the loop re-reads the endpoint when the version moved.
        endpoint = Endpoint.objects.select_related("owner").filter(pk=endpoint_id, is_active=True).first()
        while endpoint is not None:
            head = _queue(endpoint_id).select_related("event", "event__actor").first()
            if head is None:
                break
            if head.next_attempt_at > timezone.now():
                retry_at = head.next_attempt_at
                break
            if not _renew(endpoint_id, token):
                logger.info("Webhook endpoint %s: lease lost or endpoint turned off; stopping", endpoint_id)
                return attempts
            current = Endpoint.objects.filter(pk=endpoint_id).values_list("version", "failing_since").first()
            if current is None:
                break
            if current[0] != endpoint.version:
                endpoint = Endpoint.objects.select_related("owner").get(pk=endpoint_id)
            endpoint.failing_since = current[1]
            attempt(endpoint, head)
            attempts += 1
    finally:
        _release(endpoint_id, token)
    if retry_at is not None:
        enqueue_endpoint(endpoint_id, countdown=(retry_at - timezone.now()).total_seconds())
    elif has_due(endpoint_id):
        # Arrived while the lease was held, and its own run found the lease taken.
        enqueue_endpoint(endpoint_id)
    return attempts


def send_test_delivery(delivery_id: int) -> None:
    """Send a test message once (it is not retried: the page shows the answer)."""
    delivery = (
        Delivery.objects.select_related("endpoint", "endpoint__owner")
        .filter(pk=delivery_id, status=Delivery.Status.PENDING, kind=Delivery.Kind.TEST)
        .first()
    )
    if delivery is not None:
        attempt(delivery.endpoint, delivery, retry=False)


def _visible(endpoint: Endpoint, event: Event) -> bool:
    if not endpoint.owner.is_active:
        return False
    if endpoint.relationship_id and event.relationship_id != endpoint.relationship_id:
        return False
    return scope_events(endpoint.owner, Event.objects.filter(pk=event.pk)).exists()


def _secrets(endpoint: Endpoint, now) -> list[str]:
    secrets = [endpoint.secret]
    if (
        endpoint.previous_secret
        and endpoint.previous_secret_expires_at
        and endpoint.previous_secret_expires_at > now
    ):
        secrets.append(endpoint.previous_secret)
    return secrets


def attempt(endpoint: Endpoint, delivery: Delivery, *, retry: bool = True) -> None:
    """One HTTP attempt of a delivery, logged, with the delivery and endpoint brought up to date."""
    now = timezone.now()
    if delivery.event_id is not None and not _visible(endpoint, delivery.event):
        # The owner lost access (or left): nothing of that relationship is sent, not even its id.
        Delivery.objects.filter(pk=delivery.pk).update(
            status=Delivery.Status.SKIPPED,
            finished_at=now,
            last_error="The owner can no longer see this record.",
        )
        return
    if delivery.event_id is not None:
        payload = payloads.event_payload(delivery.event, owner=endpoint.owner)
    else:
        payload = payloads.probe_payload(message_id=delivery.message_id, endpoint_id=endpoint.pk, sent_at=now)
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, default=str)
    number = delivery.attempts + 1
    try:
        target = ssrf.check_url(endpoint.url)  # again at send: DNS may have changed since the save
    except ssrf.UnsafeTarget as error:
        result = transport.Response(status_code=None, latency_ms=0, error=f"Refused: {error}"[:300])
    else:
        headers = signature_headers(
            message_id=delivery.message_id, timestamp=now, body=body, secrets_in_use=_secrets(endpoint, now)
        )
        result = transport.post(
            target, body=body.encode(), headers=headers, timeout=options()["TIMEOUT_SECONDS"]
        )
    succeeded = result.status_code is not None and 200 <= result.status_code < 300
    error = result.error or ("" if succeeded else _status_error(result.status_code))
    _record(endpoint, delivery, number=number, result=result, succeeded=succeeded, error=error, retry=retry)


def _status_error(status_code: int | None) -> str:
    if status_code is not None and 300 <= status_code < 400:
        return f"Answered {status_code}: redirects are not followed; register the final URL."
    return f"Answered {status_code}."


def _record(endpoint, delivery, *, number, result, succeeded, error, retry) -> None:
    now = timezone.now()
    gone = result.status_code == 410
    with transaction.atomic():
        DeliveryAttempt.objects.create(
            delivery=delivery,
            number=number,
            attempted_at=now,
            status_code=result.status_code,
            latency_ms=result.latency_ms,
            succeeded=succeeded,
            error=error[:300],
            response_excerpt=result.excerpt[:500],
        )
        changes = {"attempts": number, "last_status_code": result.status_code, "last_error": error[:300]}
        if succeeded:
            changes.update(status=Delivery.Status.DELIVERED, finished_at=now)
        else:
            delay = retry_delay(number) if retry and not gone else None
            if delay is None:
                changes.update(status=Delivery.Status.FAILED, finished_at=now)
            else:
                changes.update(next_attempt_at=now + delay)
        Delivery.objects.filter(pk=delivery.pk).update(**changes)
        if delivery.kind == Delivery.Kind.TEST:
            return
        if succeeded:
            if endpoint.failing_since is not None:
                Endpoint.objects.filter(pk=endpoint.pk).update(failing_since=None)
                endpoint.failing_since = None
            return
        Endpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(failing_since=now)
    if gone:
        _disable(endpoint, "The receiver answered 410 Gone: it no longer wants these events.")
        return
    failing_since = Endpoint.objects.filter(pk=endpoint.pk).values_list("failing_since", flat=True).first()
    if failing_since is not None and now - failing_since >= FAILING_DISABLES_AFTER * options()["RETRY_SCALE"]:
        _disable(endpoint, f"Every delivery failed for {FAILING_DISABLES_AFTER.days} days.")


def _disable(endpoint: Endpoint, reason: str) -> None:
    disabled = services.disable(endpoint.pk, reason=reason)
    if disabled is None:
        return
    logger.warning("Webhook endpoint %s disabled: %s", endpoint.pk, reason)
    from notifications.kinds import Kind
    from notifications.services import notify

    notify(
        recipients=[endpoint.owner],
        kind=Kind.WEBHOOK_DISABLED,
        title=f"Webhook endpoint turned off: {endpoint}",
        body=reason,
        url=f"/webhooks/{endpoint.pk}/",
    )


def endpoints_due() -> list[int]:
    """Active endpoints with a delivery due and no live lease (the sweep's work list)."""
    now = timezone.now()
    return list(
        Endpoint.objects.filter(is_active=True)
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
        .filter(
            deliveries__status=Delivery.Status.PENDING,
            deliveries__next_attempt_at__lte=now,
            deliveries__kind__in=[Delivery.Kind.EVENT, Delivery.Kind.REPLAY],
        )
        .values_list("pk", flat=True)
        .distinct()
    )
