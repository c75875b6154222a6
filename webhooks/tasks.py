"""Celery tasks of the webhooks: deliver one endpoint's queue, send a test, sweep for due work."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from webhooks import delivery, dispatch

RETRY = {
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": 2,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 8,
}


@shared_task(name="webhooks.tasks.deliver_endpoint", **RETRY)
def deliver_endpoint_task(endpoint_id: int) -> int:
    return delivery.deliver_endpoint(endpoint_id)


@shared_task(name="webhooks.tasks.send_test", **RETRY)
def send_test_task(delivery_id: int) -> None:
    delivery.send_test_delivery(delivery_id)


@shared_task(name="webhooks.tasks.sweep", **RETRY)
def sweep_task() -> int:
    return dispatch.sweep()
