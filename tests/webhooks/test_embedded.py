"""The embedded default (no broker): deliveries and their retries happen in-process, on time,
without holding up the save that caused them."""

import time

import pytest

from tests.factories import ProjectFactory
from tests.webhooks.helpers import endpoint_for
from webhooks.models import Delivery

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.inprocess_deliveries]


def test_without_a_broker_a_failed_delivery_is_retried_after_its_delay(
    transactional_db, admin_user, receiver, settings
):
    settings.WEBHOOKS = {**settings.WEBHOOKS, "RETRY_SCALE": 0.1}  # the 5 s wait: 0.5 s (± 10 %)
    receiver.script = [500]
    endpoint = endpoint_for(admin_user, receiver.url, event_types=["project.created"])
    ProjectFactory()  # commits; the relay runs in-process and hands the delivery to the scheduler
    deadline = time.monotonic() + 20
    delivered = Delivery.objects.filter(endpoint=endpoint, status=Delivery.Status.DELIVERED)
    while not delivered.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(receiver.received) == 2, "the retry never came"
    delivery = Delivery.objects.get(endpoint=endpoint)
    attempts = list(delivery.attempt_log.order_by("number"))
    assert [a.status_code for a in attempts] == [500, 200]
    waited = (attempts[1].attempted_at - attempts[0].attempted_at).total_seconds()
    assert waited >= 0.45, f"retried after {waited:.3f} s, before its delay"
    assert delivery.status == Delivery.Status.DELIVERED
