"""Queues per job type: with CELERY_QUEUES_BY_JOB_TYPE the score tasks go to the `scores` queue,
where only a worker listening to it takes them; without it everything stays on the default queue."""

import os
import subprocess
import sys
import time

import pytest
import redis
from django.utils import timezone

from kpis.models import RelationshipScore
from tests.factories import RelationshipFactory
from tests.ops.servers import (
    ROOT,
    PrivateRedis,
    require_postgresql_and_redis_server,
    running_celery_worker,
    served_database_url,
)


@pytest.fixture
def private_redis(transactional_db, tmp_path):
    require_postgresql_and_redis_server()
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


def _publish_nightly_rollup(broker_url: str, *, by_job_type: bool) -> None:
    """Queue the nightly roll-up from a process configured like the web and beat processes."""
    env = {
        **os.environ,
        "DATABASE_URL": served_database_url(),
        "REDIS_URL": broker_url,
        "CELERY_BROKER_URL": broker_url,
        "CELERY_QUEUES_BY_JOB_TYPE": str(by_job_type).lower(),
    }
    code = "from kpis.tasks import rollup_current_month; rollup_current_month.delay()"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_score_tasks_go_to_their_own_queue_and_a_worker_of_that_queue_runs_them(private_redis, tmp_path):
    relationships = RelationshipFactory.create_batch(3)
    queues = redis.Redis.from_url(private_redis.url())

    _publish_nightly_rollup(private_redis.url(), by_job_type=False)
    assert (queues.llen("celery"), queues.llen("scores")) == (1, 0)
    queues.flushdb()

    _publish_nightly_rollup(private_redis.url(), by_job_type=True)
    assert (queues.llen("celery"), queues.llen("scores")) == (0, 1)

    env = {
        "REDIS_URL": private_redis.url(),
        "CELERY_BROKER_URL": private_redis.url(),
        "CELERY_QUEUES_BY_JOB_TYPE": "true",
        "BPO_SCORE_FANOUT_BATCH_SIZE": "1",
    }
    this_month = timezone.localdate().replace(day=1)
    log = tmp_path / "worker.log"
    # A worker of the scores queue: the roll-up and its batches and callback all arrive there.
    with running_celery_worker(log, queues="scores", **env):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "3 relationships in 3 batches" not in log.read_text():
            time.sleep(0.2)
    assert "3 relationships in 3 batches" in log.read_text(), log.read_text()[-3000:]
    assert set(
        RelationshipScore.objects.filter(period=this_month).values_list("relationship_id", flat=True)
    ) == {relationship.pk for relationship in relationships}
