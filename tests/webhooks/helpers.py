import json

from outbox.tasks import relay_events
from webhooks import services
from webhooks.delivery import deliver_endpoint
from webhooks.models import Endpoint


def endpoint_for(user, url, **fields) -> Endpoint:
    return services.endpoint_create(actor=user, fields=services.EndpointFields(url=url, **fields))


def relay_and_deliver(endpoint) -> int:
    """What the relay and the worker do after a commit, in this thread."""
    relay_events()
    return deliver_endpoint(endpoint.pk)


def bodies(receiver) -> list[dict]:
    return [json.loads(r.body) for r in receiver.received]
