"""A Celery worker killed (SIGKILL) in the middle of a roll-up leaves no torn score behind: every
row it wrote equals a clean recompute, and the next worker finishes the job."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone

from bpo_portfolio.celery import app as celery_app
from demo.scale import ScalePortfolio
from kpis.models import RelationshipScore
from kpis.rollup import SCORE_FIELDS, rollup_scores

ROOT = Path(__file__).resolve().parent.parent.parent
# A broker database of its own, so no other worker takes these tasks.
BROKER_DB = 11
KILLS = int(os.environ.get("FAULT_WORKER_KILLS", "5"))
# Every stored figure of a score row, as the roll-up writes them (computed_at aside).
FIELDS = ("relationship_id", "period", *SCORE_FIELDS)

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


def _snapshot() -> dict:
    rows = RelationshipScore.objects.filter(period=timezone.localdate().replace(day=1)).values_list(*FIELDS)
    return {row[0]: row for row in rows}


@pytest.fixture
def private_broker():
    if not settings.REDIS_URL or connection.vendor != "postgresql":
        message = "needs PostgreSQL and Redis (a worker process shares the database)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    url = settings.REDIS_URL.rsplit("/", 1)[0] + f"/{BROKER_DB}"
    redis.Redis.from_url(url).flushdb()
    previous, eager = celery_app.conf.broker_url, celery_app.conf.task_always_eager
    celery_app.conf.broker_url, celery_app.conf.task_always_eager = url, False
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    yield url
    redis.Redis.from_url(url).flushdb()
    celery_app.conf.broker_url, celery_app.conf.task_always_eager = previous, eager
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


def _start_worker(broker_url: str) -> subprocess.Popen:
    settings_dict = connection.settings_dict
    database = f"postgres://{settings_dict['USER']}@{settings_dict['HOST']}:{settings_dict['PORT']}/{settings_dict['NAME']}"
    env = {
        **os.environ,
        "DATABASE_URL": database,
        "REDIS_URL": broker_url,
        "CELERY_BROKER_URL": broker_url,
        # Small batches: many commits in one roll-up, so a kill lands between and inside them.
        "BPO_SCORE_ROLLUP_BATCH_SIZE": "10",
    }
    celery = Path(sys.executable).with_name("celery")
    return subprocess.Popen(
        [str(celery), "-A", "bpo_portfolio", "worker", "--pool=solo", "--without-heartbeat", "-l", "WARNING"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def test_killed_workers_leave_only_whole_scores_and_the_next_one_finishes(private_broker):
    ScalePortfolio(count=120).run(scores=False)
    period = timezone.localdate()
    clean_rows = rollup_scores(period=period)
    clean = _snapshot()
    assert clean_rows == len(clean) == 120

    killed_mid_way = 0
    for attempt in range(KILLS):
        RelationshipScore.objects.all().delete()
        worker = _start_worker(private_broker)
        try:
            celery_app.send_task("kpis.tasks.rollup_current_month")
            # Kill as soon as part of the roll-up has committed, or after a moment if it is fast.
            _wait(lambda: RelationshipScore.objects.exists(), timeout=60, what="the roll-up to start writing")
            time.sleep(0.01 * attempt)
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=10)
        partial = _snapshot()
        killed_mid_way += len(partial) < len(clean)
        # Whatever committed before the kill is exactly what a clean roll-up computes.
        assert {rid: clean[rid] for rid in partial} == partial
        redis.Redis.from_url(private_broker).flushdb()  # the killed task's message, unacknowledged

    assert killed_mid_way >= 1, "no kill landed in the middle of a roll-up; the test proved nothing"
    worker = _start_worker(private_broker)
    try:
        celery_app.send_task("kpis.tasks.rollup_current_month")
        _wait(lambda: len(_snapshot()) == len(clean), timeout=120, what="a whole roll-up")
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    assert _snapshot() == clean
