"""What a webhook carries: the event, the record's identity and URL, and the record as the API
shows it to the endpoint's owner at send time.

Rendering a record is the API layer's business; it registers one renderer per record type at
start-up (api.webhook_payloads), so this app never imports it. A record the owner can no longer
see is never rendered: the delivery is skipped instead (see webhooks.delivery).
"""

from collections.abc import Callable
from typing import Any

from django.conf import settings

from outbox.models import Event

RecordRenderer = Callable[[Any, int], dict | None]  # (owner, record id) → the API's representation
_renderers: dict[str, tuple[RecordRenderer, str]] = {}


def register_renderer(record_type: str, renderer: RecordRenderer, *, resource: str) -> None:
    """Render records of `record_type` for webhooks; `resource` is their API path (`projects`)."""
    _renderers[record_type] = (renderer, resource)


def record_url(record_type: str, record_id: int | None) -> str | None:
    entry = _renderers.get(record_type)
    if entry is None or record_id is None:
        return None
    return f"{settings.SITE_URL.rstrip('/')}/api/v1/{entry[1]}/{record_id}/"


def render_record(owner, event: Event) -> dict | None:
    entry = _renderers.get(event.record_type)
    if entry is None or event.record_id is None:
        return None
    return entry[0](owner, event.record_id)


def event_payload(event: Event, *, owner) -> dict:
    """The body of an event's webhook (the Standard Webhooks shape: type, timestamp, data)."""
    return {
        "type": event.type,
        "timestamp": event.occurred_at.isoformat(),
        "data": {
            "event": {
                "id": f"evt_{event.pk}",
                "sequence": event.sequence,
                "type": event.type,
                "occurred_at": event.occurred_at.isoformat(),
                "actor": event.actor.get_username() if event.actor_id else None,
                "relationship_id": event.relationship_id,
                "sync_stamp": event.sync_stamp,
                "details": event.data,
            },
            "record": {
                "type": event.record_type,
                "id": event.record_id,
                "external_id": event.external_id,
                "version": event.version,
                "url": record_url(event.record_type, event.record_id),
            },
            "object": render_record(owner, event),
        },
    }


def probe_payload(*, message_id: str, endpoint_id: int, sent_at) -> dict:
    return {
        "type": "webhook.test",
        "timestamp": sent_at.isoformat(),
        "data": {
            "event": {"id": message_id, "type": "webhook.test", "occurred_at": sent_at.isoformat()},
            "endpoint_id": endpoint_id,
            "message": "A test message from BPO Innovation Portfolio: your endpoint is reachable.",
        },
    }
