"""The import API over real HTTP (gunicorn, production config) with a real Celery worker on a
Redis of the test's own: upload a dry run, follow it to the end, confirm, follow the import."""

import time

import pytest
import requests

from imports.models import ImportJob
from kpis.models import Measurement, ProjectKPI
from projects.access import Role
from tests.api.schema_conformance import ResponseConformance
from tests.factories import UserFactory, api_key_for
from tests.imports.conftest import xlsx_bytes
from tests.ops.servers import (
    PrivateRedis,
    require_postgresql_and_redis_server,
    running_celery_worker,
    running_gunicorn,
)

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def private_redis(transactional_db, tmp_path):
    require_postgresql_and_redis_server()
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


def follow(api, url: str, *, until: set[str], logs) -> dict:
    deadline = time.monotonic() + 60
    seen = []
    while time.monotonic() < deadline:
        body = api.get(url, timeout=30).json()
        seen.append(body["status"])
        if body["status"] in until:
            return body
        time.sleep(0.2)
    tail = "\n".join(path.read_text()[-4000:] for path in logs)
    pytest.fail(f"the import stayed {seen[-1]!r} (saw {seen})\n{tail}")


def test_import_over_http_runs_on_the_worker(private_redis, tmp_path, portfolio):
    from tests.factories import KPIFactory, ProjectFactory, ProjectKPIFactory

    manager = UserFactory(role=Role.ACCOUNT_MANAGER)
    portfolio["rel_a"].account_managers.add(manager)
    project = ProjectFactory(relationship=portfolio["rel_a"], external_id="PRJ-1")
    ProjectKPIFactory(project=project, kpi=KPIFactory(code="fill_rate"), external_id="PK-1")
    rows = [["external_id", "project_kpi", "measured_on", "value"]]
    rows += [[f"M-{n}", "PK-1", f"2026-01-{n:02d}", 60 + n] for n in range(1, 26)]
    content = xlsx_bytes(rows)

    env = {
        "REDIS_URL": private_redis.url(),
        "CELERY_BROKER_URL": private_redis.url(),
        "IMPORT_BATCH_ROWS": "10",
    }
    worker_log, web_log = tmp_path / "worker.log", tmp_path / "web.log"
    with (
        running_gunicorn(tmp_path / "metrics", log=web_log, **env) as (base, _server),
        running_celery_worker(worker_log, **env),
    ):
        api = ResponseConformance(base).watch(requests.Session())
        api.headers["Authorization"] = f"Token {api_key_for(manager)}"
        response = api.post(
            f"{base}/api/v1/imports/",
            files={"file": ("readings.xlsx", content)},
            data={"record_type": "measurements", "dry_run": "true", "mode": "all_or_nothing"},
            timeout=30,
        )
        assert response.status_code == 202, response.text
        url = f"{base}/api/v1/imports/{response.json()['id']}/"
        dry = follow(api, url, until={"dry_run_done", "failed"}, logs=[worker_log, web_log])
        assert dry["status"] == "dry_run_done", dry
        assert dry["progress"] == {"processed": 25, "total": 25}
        assert dry["counts"]["created"] == 25
        assert Measurement.objects.count() == 0

        assert api.post(f"{url}confirm/", timeout=30).status_code == 202
        done = follow(api, url, until={"done", "failed"}, logs=[worker_log, web_log])
        assert done["status"] == "done", done
        assert done["counts"] == {"created": 25, "updated": 0, "unchanged": 0, "rejected": 0}
        assert Measurement.objects.count() == 25
        assert "imports.tasks.run_import" in worker_log.read_text()

        # A register: each row a project with its KPIs in numbered column groups.
        register = xlsx_bytes(
            [
                [
                    "external_id",
                    "relationship",
                    "title",
                    "kpi_1_code",
                    "kpi_1_baseline_value",
                    "KPI 1 baseline date",
                ],
                *[
                    [f"P-{n}", portfolio["rel_a"].pk, f"Project {n}", "fill_rate", 50 + n, "2026-01-31"]
                    for n in range(12)
                ],
            ]
        )
        response = api.post(
            f"{base}/api/v1/imports/",
            files={"file": ("register.xlsx", register)},
            data={"record_type": "project_register", "dry_run": "false", "mode": "all_or_nothing"},
            timeout=30,
        )
        assert response.status_code == 202, response.text
        url = f"{base}/api/v1/imports/{response.json()['id']}/"
        done = follow(api, url, until={"done", "failed"}, logs=[worker_log, web_log])
        assert done["counts"] == {"created": 12, "updated": 0, "unchanged": 0, "rejected": 0}, done
        assert ProjectKPI.objects.filter(project__external_id__startswith="P-").count() == 12
    assert set(ImportJob.objects.values_list("status", flat=True)) == {ImportJob.Status.DONE}
