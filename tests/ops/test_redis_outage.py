"""Redis stopped while writes go on: every write succeeds, and once Redis is back the scores catch up.

Real servers throughout, none of them the machine's shared Redis: a private redis-server on a free
port (the broker and the cache of this test only), gunicorn with the production config and a Celery
worker with its embedded beat, both subprocesses pointed at it and at the test database. The test
stops that Redis in the middle of a stream of API writes and starts it again on the same port,
empty, as after a crash without persistence: the messages queued before are lost too.
"""

import datetime as dt
import time

import pytest
import requests
from django.utils import timezone

from kpis.models import PendingScoreRecompute, RelationshipScore
from kpis.rollup import SCORE_FIELDS, rollup_scores
from projects.access import Role
from tests.api.schema_conformance import ResponseConformance
from tests.factories import UserFactory, api_key_for
from tests.kpis.test_tasks import delivered_kpi, record
from tests.ops.servers import (
    PrivateRedis,
    require_postgresql_and_redis_server,
    running_celery_worker,
    running_gunicorn,
)

WRITES_DURING_THE_OUTAGE = 12
FIELDS = ("relationship_id", "period", *SCORE_FIELDS)


def _score(relationship_id: int) -> RelationshipScore | None:
    return RelationshipScore.objects.filter(
        relationship_id=relationship_id, period=timezone.localdate().replace(day=1)
    ).first()


def _latest_in_score(relationship_id: int) -> str | None:
    """The latest KPI value the stored score was computed from (its explanation names it)."""
    score = _score(relationship_id)
    if score is None or score.components["impact"] is None:
        return None
    return score.components["impact"]["projects"][0]["kpis"][0]["latest"]


def _wait(condition, *, timeout: float, what: str, logs=()):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    tail = "\n".join(path.read_text()[-4000:] for path in logs)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\n{tail}")


@pytest.fixture
def private_redis(transactional_db, tmp_path):
    require_postgresql_and_redis_server()
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


def test_writes_succeed_while_redis_is_down_and_scores_catch_up_after_it_returns(private_redis, tmp_path):
    admin = UserFactory(role=Role.ADMIN)
    headers = {"Authorization": f"Token {api_key_for(admin)}"}
    project_kpi = delivered_kpi()  # baseline 60; the test process computes its scores in-process
    relationship_id = project_kpi.project.relationship_id
    record(project_kpi, "61", days_ago=40)
    assert _latest_in_score(relationship_id) == "61.0000"

    env = {
        "REDIS_URL": private_redis.url(),
        "CELERY_BROKER_URL": private_redis.url(),
        "BPO_SCORE_RECOMPUTE_DELAY": "0.2",
        # The catch-up job every 2 s for marks older than 1 s (production: 300 s and 120 s).
        "BPO_SCORE_CATCH_UP_SECONDS": "2",
        "BPO_SCORE_STALE_GRACE_SECONDS": "1",
    }
    worker_log, web_log = tmp_path / "worker.log", tmp_path / "web.log"
    with (
        # A request stuck for 20 s is killed with its traceback in the log (faulthandler on SIGABRT).
        running_gunicorn(
            tmp_path / "metrics", log=web_log, PYTHONFAULTHANDLER="1", GUNICORN_TIMEOUT="20", **env
        ) as (base, _server),
        running_celery_worker(worker_log, beat_schedule=tmp_path / "beat-schedule", **env),
    ):
        # Every API answer is checked against the published schema (strict OpenAPI 3.0 as well).
        api = ResponseConformance(base).watch(requests.Session())
        api.headers.update(headers)

        def measure(value: int, days_ago: int) -> requests.Response:
            return api.post(
                f"{base}/api/v1/measurements/",
                json={
                    "project_kpi": project_kpi.pk,
                    "measured_on": (timezone.localdate() - dt.timedelta(days=days_ago)).isoformat(),
                    "value": str(value),
                },
                timeout=30,
            )

        # Everything up: a write is scored by the worker within moments.
        assert measure(65, days_ago=30).status_code == 201
        _wait(
            lambda: _latest_in_score(relationship_id) == "65.0000",
            timeout=60,
            what="the first recompute",
            logs=[worker_log, web_log],
        )

        private_redis.stop()
        ready = requests.get(f"{base}/readyz", timeout=10)
        assert ready.status_code == 503 and ready.json()["checks"]["redis"].startswith("unreachable")

        # Writes go on: new measurements, a corrected one, a project edit with If-Match.
        statuses = []
        for number in range(WRITES_DURING_THE_OUTAGE):
            if number % 3 == 2:
                project = api.get(f"{base}/api/v1/projects/{project_kpi.project_id}/", timeout=30)
                response = api.patch(
                    f"{base}/api/v1/projects/{project_kpi.project_id}/",
                    json={"description": f"Edited during the outage ({number})"},
                    headers={"If-Match": project.headers["ETag"]},
                    timeout=30,
                )
            else:
                response = measure(66 + number, days_ago=29 - number)
                last_value = f"{66 + number}.0000"  # the newest measurement so far
            statuses.append(response.status_code)
        assert statuses == [200 if n % 3 == 2 else 201 for n in range(WRITES_DURING_THE_OUTAGE)]

        # Committed, and marked stale in the same transactions; no worker could hear of them.
        assert PendingScoreRecompute.objects.filter(relationship_id=relationship_id).exists()
        assert _latest_in_score(relationship_id) == "65.0000"
        assert (
            "Edited during the outage (11)"
            in api.get(f"{base}/api/v1/projects/{project_kpi.project_id}/", timeout=30).json()["description"]
        )

        # Redis returns, empty. The worker reconnects; beat's catch-up finds the stale marks.
        private_redis.start()
        _wait(
            lambda: (
                _latest_in_score(relationship_id) == last_value and not PendingScoreRecompute.objects.exists()
            ),
            timeout=120,
            what="the scores to catch up after Redis returned",
            logs=[worker_log, web_log],
        )
        assert requests.get(f"{base}/readyz", timeout=10).status_code == 200

        # And the normal path works again: a write is scored at once, not at the next catch-up.
        assert measure(90, days_ago=0).status_code == 201
        _wait(
            lambda: _latest_in_score(relationship_id) == "90.0000",
            timeout=60,
            what="a recompute after recovery",
            logs=[worker_log, web_log],
        )

    # Back-dated measurements rescore the past months they reach as well: every stored month is
    # compared, keyed by relationship and month.
    caught_up = {row[:2]: row for row in RelationshipScore.objects.values_list(*FIELDS)}
    RelationshipScore.objects.all().delete()
    for period in sorted({period for _relationship, period in caught_up}):
        rollup_scores(period=period)
    clean = {row[:2]: row for row in RelationshipScore.objects.values_list(*FIELDS)}
    assert caught_up == clean  # each caught-up score is exactly a clean recompute of its month


@pytest.mark.django_db
def test_the_api_answers_unthrottled_while_the_cache_is_unreachable(client, settings, caplog):
    """The API's rate counters live in Redis: without it requests are served, not failed."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
        }
    }
    admin = UserFactory(role=Role.ADMIN)
    response = client.get("/api/v1/projects/", HTTP_AUTHORIZATION=f"Token {api_key_for(admin)}")
    assert response.status_code == 200
    assert "API throttling skipped" in caplog.text
