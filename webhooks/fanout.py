"""The outbox consumer that turns events into deliveries: one per subscribed endpoint whose owner
may see the event. Runs in the transaction that moves the consumer's position, so a crash between
the two cannot lose or duplicate a delivery (and the unique constraint guards a replayed batch)."""

from django.db import transaction

from outbox.models import Event
from projects.events import scope_events
from webhooks.models import Delivery, Endpoint


def fan_out(events: list[Event]) -> None:
    endpoints = [
        e for e in Endpoint.objects.filter(is_active=True).select_related("owner") if e.owner.is_active
    ]
    if not endpoints:
        return
    rows = []
    for endpoint in endpoints:
        wanted = [
            event
            for event in events
            if endpoint.wants(event.type)
            and (endpoint.relationship_id is None or event.relationship_id == endpoint.relationship_id)
        ]
        if not wanted:
            continue
        # Scope now, and again at send time (access can change in between).
        visible = set(
            scope_events(endpoint.owner, Event.objects.filter(pk__in=[e.pk for e in wanted])).values_list(
                "pk", flat=True
            )
        )
        rows.extend(
            Delivery(endpoint=endpoint, event=event, event_type=event.type, sequence=event.sequence)
            for event in wanted
            if event.pk in visible
        )
    if not rows:
        return
    Delivery.objects.bulk_create(rows, ignore_conflicts=True)
    endpoint_ids = sorted({row.endpoint_id for row in rows})

    def deliver():
        from webhooks.dispatch import enqueue_endpoint

        for endpoint_id in endpoint_ids:
            enqueue_endpoint(endpoint_id)

    transaction.on_commit(deliver, robust=True)
