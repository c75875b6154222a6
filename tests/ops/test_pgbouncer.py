"""Behind PgBouncer in transaction mode: the key paths work through a real PgBouncer, and the one
setting they need (no server-side cursors) is shown to be needed.

PgBouncer (Debian's `pgbouncer`) runs on a free port in front of the test database with two server
connections used in turn, so consecutive transactions of one client run on different server
connections: any state that outlives a transaction breaks at once. gunicorn and a Celery worker
(on a private Redis) reach the database only through it.
"""

import re
import shutil
import subprocess
import time

import pytest
import requests
from celery import Celery
from django.utils import timezone

from kpis.models import RelationshipScore
from projects.access import Role
from projects.models import InnovationProject, Relationship
from tests.api.schema_conformance import ResponseConformance
from tests.factories import ProjectFactory, RelationshipFactory, UserFactory, api_key_for
from tests.kpis.test_tasks import delivered_kpi
from tests.ops.servers import (
    ROOT,
    PrivatePgBouncer,
    PrivateRedis,
    require_postgresql_and_redis_server,
    running_celery_worker,
    running_gunicorn,
)


@pytest.fixture
def pgbouncer(transactional_db):
    require_postgresql_and_redis_server()
    if not shutil.which("pgbouncer") and not shutil.which("/usr/sbin/pgbouncer"):
        import os

        message = "needs PgBouncer (Debian package pgbouncer, installed by .ci/run)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    server = PrivatePgBouncer()
    server.start()
    yield server
    server.stop()


def _iterate_projects_through(pgbouncer, *, disable_server_side_cursors: bool) -> subprocess.CompletedProcess:
    """Read every project with Django's `.iterator()` (one row per fetch), in a process whose only
    database is PgBouncer."""
    import os
    import sys

    env = {
        **os.environ,
        "DATABASE_URL": pgbouncer.database_url(),
        "DATABASE_DISABLE_SERVER_SIDE_CURSORS": str(disable_server_side_cursors).lower(),
    }
    code = (
        "from projects.models import InnovationProject; "
        "print(sum(1 for _ in InnovationProject.objects.order_by('pk').iterator(chunk_size=1)))"
    )
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_server_side_cursors_break_behind_pgbouncer_and_the_setting_turns_them_off(pgbouncer):
    ProjectFactory.create_batch(3)
    pgbouncer.open_both_server_connections()
    broken = _iterate_projects_through(pgbouncer, disable_server_side_cursors=False)
    assert broken.returncode != 0 and "does not exist" in broken.stderr, broken.stderr[-2000:]
    working = _iterate_projects_through(pgbouncer, disable_server_side_cursors=True)
    assert working.returncode == 0, working.stderr[-2000:]
    assert working.stdout.strip().splitlines()[-1] == "3"


def _sign_in(session: requests.Session, base: str, username: str, password: str) -> None:
    page = session.get(f"{base}/accounts/login/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]
    response = session.post(
        f"{base}/accounts/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": token},
        headers={"Referer": f"{base}/accounts/login/"},
        timeout=30,
        allow_redirects=False,
    )
    assert response.status_code == 302, response.text[:500]


def _wait(condition, *, timeout: float, what: str, logs=()):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    tail = "\n".join(path.read_text()[-4000:] for path in logs if path.exists())
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\n{tail}")


def test_the_key_paths_work_through_pgbouncer_in_transaction_mode(pgbouncer, tmp_path):
    admin = UserFactory(role=Role.ADMIN, username="pool-admin")
    admin.set_password("pool-password-1")
    admin.save()
    headers = {"Authorization": f"Token {api_key_for(admin)}"}
    project_kpi = delivered_kpi()
    relationship = project_kpi.project.relationship
    ProjectFactory.create_batch(4, relationship=relationship)
    RelationshipFactory.create_batch(4)
    RelationshipScore.objects.all().delete()

    redis_server = PrivateRedis(tmp_path)
    redis_server.start()
    env = {
        "DATABASE_URL": pgbouncer.database_url(),
        "DATABASE_DISABLE_SERVER_SIDE_CURSORS": "true",
        "REDIS_URL": redis_server.url(),
        "CELERY_BROKER_URL": redis_server.url(),
        "BPO_SCORE_RECOMPUTE_DELAY": "0.2",
        "BPO_SCORE_FANOUT_BATCH_SIZE": "1",  # one task per relationship: many chord parts
    }
    logs = [tmp_path / "web.log", tmp_path / "worker.log"]
    before = pgbouncer.stats()
    try:
        with (
            running_gunicorn(tmp_path / "metrics", log=logs[0], **env) as (base, _server),
            running_celery_worker(logs[1], **env),
        ):
            # Every API answer is checked against the published schema (strict OpenAPI 3.0 as well).
            api = ResponseConformance(base).watch(requests.Session())
            api.headers.update(headers)
            # A write, and the worker's recompute after it (advisory locks, set_config, upsert).
            created = api.post(
                f"{base}/api/v1/measurements/",
                json={
                    "project_kpi": project_kpi.pk,
                    "measured_on": timezone.localdate().isoformat(),
                    "value": "85",
                },
                timeout=30,
            )
            assert created.status_code == 201, created.text
            _wait(
                lambda: RelationshipScore.objects.filter(relationship=relationship, kpis_measured=1).exists(),
                timeout=60,
                what="the worker's recompute through PgBouncer",
                logs=logs,
            )
            # Optimistic concurrency: a PATCH with the current ETag, then one with the stale one.
            url = f"{base}/api/v1/projects/{project_kpi.project_id}/"
            etag = api.get(url, timeout=30).headers["ETag"]
            changed = api.patch(
                url, json={"description": "Through the pool"}, headers={"If-Match": etag}, timeout=30
            )
            assert changed.status_code == 200, changed.text
            stale = api.patch(url, json={"description": "Stale"}, headers={"If-Match": etag}, timeout=30)
            assert stale.status_code == 412
            # A whole sync pass with cursors, page by page.
            cursor, seen = "0", set()
            while True:
                page = api.get(f"{base}/api/v1/projects/?sync={cursor}&page_size=2", timeout=30).json()
                seen.update(row["id"] for row in page["results"])
                cursor = page["next_sync"]
                if not page["has_more"]:
                    break
            assert seen == set(InnovationProject.objects.values_list("pk", flat=True))
            # A bulk upsert (one transaction, all or nothing).
            bulk = api.post(
                f"{base}/api/v1/projects/bulk/",
                json={
                    "records": [
                        {"external_id": f"pool-{n}", "relationship": relationship.pk, "title": f"Pooled {n}"}
                        for n in range(3)
                    ]
                },
                timeout=30,
            )
            assert bulk.status_code == 200 and bulk.json()["created"] == 3, bulk.text
            # Pages: sign in (session in the database), the dashboard, the streamed CSV export.
            browser = requests.Session()
            _sign_in(browser, base, "pool-admin", "pool-password-1")
            assert browser.get(f"{base}/", timeout=30).status_code == 200
            export = browser.get(f"{base}/projects/export.csv", timeout=30)
            assert export.status_code == 200
            assert len(export.text.strip().splitlines()) == 1 + InnovationProject.objects.count()

            # The monthly roll-up fanned out: a chord of one task per relationship.
            live = Relationship.objects.filter(deleted_at=None).count()
            # A publisher of its own (not the current app, which the other tests' tasks use).
            with Celery(broker=redis_server.url(), set_as_current=False) as publisher:
                publisher.send_task("kpis.tasks.rollup_current_month")
            _wait(
                lambda: f"{live} relationships in {live} batches" in logs[1].read_text(),
                timeout=90,
                what="the fanned-out roll-up's chord to finish through PgBouncer",
                logs=logs,
            )
            this_month = timezone.localdate().replace(day=1)
            assert RelationshipScore.objects.filter(period=this_month).count() == live
    finally:
        redis_server.stop()
    for log in logs:
        text = log.read_text()
        assert "does not exist" not in text and "Traceback" not in text, text[-3000:]
    after = pgbouncer.stats()
    # Everything above went through PgBouncer: many transactions, on its two server connections.
    assert after["total_xact_count"] - before.get("total_xact_count", 0) > 50
