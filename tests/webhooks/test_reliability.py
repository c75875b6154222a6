"""Reliability with the real components: PostgreSQL, Celery workers on Redis, an HTTP receiver.

* Workers killed (SIGKILL) in the middle of deliveries: every event still reaches the receiver,
  under the same `webhook-id` whenever it is sent again. WEBHOOK_KILL_ROUNDS sets the number of
  kills: 20 when run by hand (`WEBHOOK_KILL_ROUNDS=20 pytest tests/webhooks/test_reliability.py`),
  3 by default so CI stays quick.
* The broker down while records are written: the writes succeed, their events wait in the outbox
  and go out once the broker is back.
* A receiver answering 500 five times then 200: retried on the (compressed) schedule by a real
  worker, delivered once it recovers, each attempt logged.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.db import connection

from bpo_portfolio.celery import app as celery_app
from outbox.models import Event
from outbox.tasks import relay_events
from tests.factories import ProjectFactory
from tests.kpis.conftest import reset_broker_pools
from tests.webhooks.helpers import endpoint_for
from webhooks.models import Delivery
from webhooks.tasks import sweep_task

ROOT = Path(__file__).resolve().parent.parent.parent
KILL_ROUNDS = int(os.environ.get("WEBHOOK_KILL_ROUNDS", "3"))

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _roles(transactional_db):
    """Roles come back after each transactional test's flush (tests.conftest.reference_data)."""


def wait_for(condition, *, timeout: float, what: str, tick=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if tick is not None:
            tick()
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def beat():
    """What Celery beat sends every 30 s, sent now: the relay catch-up and the delivery sweep."""
    relay_events.delay()
    sweep_task.delay()


def expected_ids(kind="project.created") -> set[str]:
    return {f"evt_{pk}" for pk in Event.objects.filter(type=kind).values_list("pk", flat=True)}


# --- Workers killed mid-delivery --------------------------------------------------------------


def _spawn_worker(log) -> subprocess.Popen:
    database = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": celery_app.conf.broker_url,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        # A killed worker's lease runs out in a second, so the sweep hands its endpoint on quickly.
        "WEBHOOKS_LEASE_SECONDS": "1",
    }
    celery = Path(sys.executable).with_name("celery")
    return subprocess.Popen(
        [
            str(celery),
            "-A",
            "bpo_portfolio",
            "worker",
            "--pool=solo",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
            "-l",
            "WARNING",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def test_workers_killed_mid_delivery_lose_no_event(real_broker, admin_user, receiver, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("a worker process shares the test database: PostgreSQL only")
    receiver.delay = 0.3  # each request takes a moment: the kill lands while one is in flight
    endpoint = endpoint_for(admin_user, receiver.url, event_types=["project.created"])
    log = (tmp_path / "workers.log").open("w")
    worker = _spawn_worker(log)
    kills = 0
    try:
        for round_number in range(KILL_ROUNDS):
            in_flight = len(receiver.received)
            for n in range(3):
                ProjectFactory(title=f"round {round_number} project {n}")  # commit → relay queued
            wait_for(
                lambda: len(receiver.received) > in_flight,  # noqa: B023 - read within this round
                timeout=90,
                what=f"a delivery in flight (round {round_number})",
                tick=beat,
            )
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=10)
            kills += 1
            worker = _spawn_worker(log)
        expected = expected_ids()
        wait_for(
            lambda: (
                expected <= set(receiver.ids())
                and not Delivery.objects.filter(endpoint=endpoint).exclude(status="delivered").exists()
            ),
            timeout=180,
            what="every event to be delivered",
            tick=beat,
        )
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        log.close()
        celery_app.control.purge()
    received = receiver.ids()
    assert kills == KILL_ROUNDS
    assert expected == set(received) & expected, "an event was lost"
    assert len(expected) == 3 * KILL_ROUNDS
    assert set(Delivery.objects.filter(endpoint=endpoint).values_list("status", flat=True)) == {"delivered"}
    duplicates = len(received) - len(set(received))
    print(f"{KILL_ROUNDS} kills: {len(expected)} events, {len(received)} requests, {duplicates} sent again")


# --- The broker down while writing ------------------------------------------------------------


@pytest.fixture
def worker(real_broker, settings):
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        yield


def test_writes_succeed_with_the_broker_down_and_their_events_go_out_when_it_is_back(
    real_broker,
    admin_user,
    receiver,
    settings,
):
    endpoint = endpoint_for(admin_user, receiver.url, event_types=["project.created"])
    good_broker = celery_app.conf.broker_url
    dead = "redis://127.0.0.1:9/0"
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": dead}
    }
    celery_app.conf.broker_url = dead
    reset_broker_pools()
    try:
        projects = [ProjectFactory(title=f"written while the broker is down {n}") for n in range(5)]
    finally:
        celery_app.conf.broker_url = good_broker
        reset_broker_pools()
    assert all(p.pk for p in projects)
    waiting = Event.objects.filter(type="project.created", record_id__in=[p.pk for p in projects])
    assert waiting.count() == 5 and not waiting.filter(sequence__isnull=False).exists()
    assert receiver.received == []

    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": settings.REDIS_URL}
    }
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        relay_events.delay()  # beat's periodic relay, now that the broker answers again
        expected = {f"evt_{pk}" for pk in waiting.values_list("pk", flat=True)}
        wait_for(lambda: expected <= set(receiver.ids()), timeout=60, what="the waiting events")
    assert Delivery.objects.filter(endpoint=endpoint, status="delivered").count() == 5


# --- 500 five times, then 200 -------------------------------------------------------------------


def test_a_real_worker_retries_five_500s_on_the_schedule_and_delivers_on_the_200(
    worker, admin_user, receiver, settings
):
    settings.WEBHOOKS = {**settings.WEBHOOKS, "RETRY_SCALE": 0.0001}  # 5 s … 5 h → 0.5 ms … 1.8 s
    receiver.script = [500] * 5
    endpoint = endpoint_for(admin_user, receiver.url, event_types=["project.created"])
    ProjectFactory()
    wait_for(
        lambda: Delivery.objects.filter(endpoint=endpoint, status="delivered").exists(),
        timeout=60,
        what="the delivery after five failures",
    )
    delivery = Delivery.objects.get(endpoint=endpoint)
    assert [a.status_code for a in delivery.attempt_log.order_by("number")] == [500] * 5 + [200]
    assert delivery.attempts == 6
    assert len(set(receiver.ids())) == 1
