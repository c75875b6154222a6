"""The daily reminder sweep and the hourly digest run (Celery beat)."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from notifications import digest, reminders

RETRY = {
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": 2,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 8,
}


@shared_task(name="notifications.tasks.sweep_reminders", **RETRY)
def sweep_reminders() -> dict:
    return reminders.sweep()


@shared_task(name="notifications.tasks.send_digests", **RETRY)
def send_digests() -> int:
    return digest.send_digests()
