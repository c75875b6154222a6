"""Managing webhook endpoints: register, change, rotate the secret, test, replay, remove.

Admins manage every endpoint; an account manager registers and manages their own, and receives
only what they may see (their relationships, checked again at every send). Every write is atomic
and validated; a refused write changes nothing.
"""

import dataclasses
import datetime as dt
from collections.abc import Iterable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from outbox.catalogue import SUBSCRIBABLE
from outbox.models import Event
from projects import access
from projects.events import scope_events
from projects.models import Relationship
from projects.records import UNSET, Unset
from webhooks import ssrf
from webhooks.models import Delivery, Endpoint
from webhooks.signing import new_secret

SECRET_OVERLAP = dt.timedelta(hours=24)
REPLAY_LIMIT = 10_000


class EndpointConflict(Exception):
    """The endpoint changed since the caller read it."""

    def __init__(self, current: Endpoint):
        super().__init__(
            f"This endpoint was changed since you read it: it is now at version {current.version}."
        )
        self.current = current


def can_manage_webhooks(user) -> bool:
    return access.role_of(user) in (access.Role.ADMIN, access.Role.ACCOUNT_MANAGER)


def endpoints_of(user) -> QuerySet[Endpoint]:
    """The endpoints a user may see and manage: all for admins, their own for account managers."""
    role = access.role_of(user)
    endpoints = Endpoint.objects.select_related("owner", "relationship")
    if role == access.Role.ADMIN:
        return endpoints
    if role == access.Role.ACCOUNT_MANAGER:
        return endpoints.filter(owner=user)
    return endpoints.none()


def _ensure_can_manage(actor) -> None:
    if not can_manage_webhooks(actor):
        raise PermissionDenied("Only admins and account managers manage webhooks.")


@dataclasses.dataclass(frozen=True, kw_only=True)
class EndpointFields:
    url: str | Unset = UNSET
    description: str | Unset = UNSET
    event_types: Iterable[str] | Unset = UNSET
    relationship: Relationship | Unset | None = UNSET
    is_active: bool | Unset = UNSET

    def given(self) -> dict:
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if getattr(self, f.name) is not UNSET
        }


def _validate(endpoint: Endpoint, *, owner) -> None:
    errors: dict[str, str] = {}
    try:
        ssrf.check_url(endpoint.url)
    except ssrf.UnsafeTarget as error:
        errors["url"] = str(error)
    unknown = sorted(set(endpoint.event_types) - set(SUBSCRIBABLE))
    if not isinstance(endpoint.event_types, list):
        errors["event_types"] = "Give a list of event types."
    elif unknown:
        errors["event_types"] = f"Unknown event types: {', '.join(unknown)}."
    relationship = endpoint.relationship
    if (
        relationship is not None
        and not access.visible_relationships(owner).filter(pk=relationship.pk).exists()
    ):
        errors["relationship"] = "The endpoint's owner cannot see this relationship."
    elif relationship is not None and relationship.deleted_at is not None:
        errors["relationship"] = "This relationship has been deleted."
    try:
        endpoint.full_clean(exclude=["owner", "relationship", "url", "event_types"])
    except ValidationError as error:
        for field, messages in error.message_dict.items():
            errors.setdefault(field, " ".join(messages))
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def endpoint_create(*, actor, fields: EndpointFields) -> Endpoint:
    """Register an endpoint owned by `actor`; its secret is on the returned object (`secret`) —
    callers show it once."""
    _ensure_can_manage(actor)
    data = fields.given()
    data["event_types"] = sorted(set(data.get("event_types") or []))
    endpoint = Endpoint(owner=actor, secret=new_secret(), **data)
    _validate(endpoint, owner=actor)
    endpoint.save()
    return endpoint


def _locked(endpoint: Endpoint, expected_version: int | None) -> Endpoint:
    current = Endpoint.objects.select_for_update().select_related("owner").get(pk=endpoint.pk)
    if expected_version is not None and current.version != expected_version:
        raise EndpointConflict(current)
    return current


@transaction.atomic
def endpoint_update(
    *, actor, endpoint: Endpoint, changes: EndpointFields, expected_version: int | None = None
) -> Endpoint:
    """Change an endpoint. Turning it back on clears the reason it was disabled for."""
    _ensure_can_manage(actor)
    current = _locked(endpoint, expected_version)
    data = changes.given()
    if "event_types" in data:
        data["event_types"] = sorted(set(data["event_types"] or []))
    before = {name: getattr(current, name) for name in data}
    for name, value in data.items():
        setattr(current, name, value)
    if all(before[name] == getattr(current, name) for name in data):
        return current
    _validate(current, owner=current.owner)
    if data.get("is_active") and not before.get("is_active", True):
        current.disabled_reason, current.disabled_at, current.failing_since = "", None, None
    if data.get("is_active") is False and before.get("is_active"):
        current.disabled_reason, current.disabled_at = "Turned off by its owner.", timezone.now()
        _cancel_pending(current)
    current.version += 1
    current.updated_at = timezone.now()
    current.save()
    if current.is_active:
        _deliver_after_commit(current.pk)
    return current


@transaction.atomic
def endpoint_delete(*, actor, endpoint: Endpoint, expected_version: int | None = None) -> None:
    _ensure_can_manage(actor)
    _locked(endpoint, expected_version).delete()


@transaction.atomic
def rotate_secret(*, actor, endpoint: Endpoint) -> Endpoint:
    """A new secret; the old one keeps signing beside it for 24 hours so receivers can switch."""
    _ensure_can_manage(actor)
    current = _locked(endpoint, None)
    current.previous_secret = current.secret
    current.previous_secret_expires_at = timezone.now() + SECRET_OVERLAP
    current.secret = new_secret()
    current.version += 1
    current.updated_at = timezone.now()
    current.save()
    return current


def disable(endpoint_id: int, *, reason: str) -> Endpoint | None:
    """Turn an endpoint off (410 Gone, five days of failures) and cancel what it still owed."""
    with transaction.atomic():
        endpoint = Endpoint.objects.select_for_update().filter(pk=endpoint_id).first()
        if endpoint is None or not endpoint.is_active:
            return None
        endpoint.is_active = False
        endpoint.disabled_reason = reason[:300]
        endpoint.disabled_at = timezone.now()
        endpoint.version = F("version") + 1
        endpoint.save(update_fields=["is_active", "disabled_reason", "disabled_at", "version"])
        _cancel_pending(endpoint)
    endpoint.refresh_from_db()
    return endpoint


def _cancel_pending(endpoint: Endpoint) -> None:
    endpoint.deliveries.filter(status=Delivery.Status.PENDING).update(
        status=Delivery.Status.CANCELLED, finished_at=timezone.now()
    )


def _deliver_after_commit(endpoint_id: int) -> None:
    from webhooks.dispatch import enqueue_endpoint

    transaction.on_commit(lambda: enqueue_endpoint(endpoint_id), robust=True)


@transaction.atomic
def send_test(*, actor, endpoint: Endpoint) -> Delivery:
    """Queue a `webhook.test` message to the endpoint, outside its ordered queue."""
    _ensure_can_manage(actor)
    if not endpoint.is_active:
        raise ValidationError("This endpoint is turned off; turn it on to test it.")
    delivery = Delivery.objects.create(
        endpoint=endpoint, event=None, event_type="webhook.test", kind=Delivery.Kind.TEST, sequence=0
    )
    from webhooks.dispatch import enqueue_test

    transaction.on_commit(lambda: enqueue_test(delivery.pk), robust=True)
    return delivery


@transaction.atomic
def replay(
    *, actor, endpoint: Endpoint, event_id: int | None = None, since: dt.datetime | None = None
) -> int:
    """Send one event again, or every event since a time, that the endpoint subscribes to and its
    owner may see. Replays carry the original `webhook-id`. Returns the number queued."""
    _ensure_can_manage(actor)
    if (event_id is None) == (since is None):
        raise ValidationError("Give either an event id or a time to replay from.")
    if not endpoint.is_active:
        raise ValidationError("This endpoint is turned off; turn it on to replay events to it.")
    events = scope_events(endpoint.owner, Event.objects.filter(sequence__isnull=False))
    if endpoint.relationship_id:
        events = events.filter(relationship_id=endpoint.relationship_id)
    if endpoint.event_types:
        events = events.filter(type__in=endpoint.event_types)
    if event_id is not None:
        events = events.filter(pk=event_id)
        if not events.exists():
            raise ValidationError(
                {"event_id": "No such event for this endpoint (or its owner cannot see it)."}
            )
    else:
        events = events.filter(occurred_at__gte=since)
    rows = list(events.order_by("sequence").values_list("pk", "type", "sequence")[: REPLAY_LIMIT + 1])
    if len(rows) > REPLAY_LIMIT:
        raise ValidationError({"since": f"Over {REPLAY_LIMIT:,} events; choose a later time."})
    Delivery.objects.bulk_create(
        Delivery(
            endpoint=endpoint, event_id=pk, event_type=kind, sequence=sequence, kind=Delivery.Kind.REPLAY
        )
        for pk, kind, sequence in rows
    )
    if rows:
        _deliver_after_commit(endpoint.pk)
    return len(rows)
