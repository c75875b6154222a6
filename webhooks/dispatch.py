"""Getting deliveries going: a Celery task with a broker, the in-process scheduler without one."""

import logging

from django.conf import settings

from webhooks import delivery
from webhooks.scheduler import scheduler

logger = logging.getLogger(__name__)


def _eager() -> bool:
    from webhooks.tasks import deliver_endpoint_task

    return bool(deliver_endpoint_task.app.conf.task_always_eager)


def enqueue_endpoint(endpoint_id: int, *, countdown: float = 0.0) -> None:
    """Have the endpoint's queue worked on after `countdown` seconds. Never raises: the periodic
    sweep finds whatever a lost message leaves due."""
    from webhooks.tasks import deliver_endpoint_task

    countdown = max(0.0, countdown)
    if _eager():
        scheduler.call_later(countdown, delivery.deliver_endpoint, endpoint_id)
        return
    if countdown > settings.WEBHOOKS["LONGEST_COUNTDOWN_SECONDS"]:
        return  # a long wait is the sweep's: Redis would redeliver a message held that long
    try:
        deliver_endpoint_task.apply_async((endpoint_id,), countdown=countdown)
    except Exception:
        logger.warning(
            "Webhook delivery of endpoint %s not queued (broker unreachable); the sweep catches up",
            endpoint_id,
        )


def enqueue_test(delivery_id: int) -> None:
    from webhooks.tasks import send_test_task

    if _eager():
        scheduler.call_later(0.0, delivery.send_test_delivery, delivery_id)
        return
    try:
        send_test_task.apply_async((delivery_id,))
    except Exception:
        logger.warning("Test message %s not queued (broker unreachable)", delivery_id)


def sweep() -> int:
    """Queue every active endpoint with a delivery due and no worker on it; returns how many."""
    due = delivery.endpoints_due()
    for endpoint_id in due:
        enqueue_endpoint(endpoint_id)
    return len(due)
