"""Faults, for real: a database connection killed in the middle of a request answers a clean 503,
and the worker that lost it serves the next request on a fresh connection."""

import threading
import time

import psycopg2
import pytest
import requests
from django.db import OperationalError, connection

from projects.access import Role
from tests.api.schema_conformance import ResponseConformance
from tests.factories import ProjectFactory, UserFactory, api_key_for
from tests.ops.test_gunicorn import gunicorn_server  # noqa: F401 - the real server fixture


def _raw_connection():
    settings_dict = connection.settings_dict
    return psycopg2.connect(
        dbname=settings_dict["NAME"],
        host=settings_dict["HOST"] or "127.0.0.1",
        port=settings_dict["PORT"] or 5432,
        user=settings_dict["USER"] or "postgres",
    )


@pytest.mark.django_db(transaction=True)
def test_a_connection_killed_mid_request_answers_503_json_and_the_next_request_works(gunicorn_server):  # noqa: F811
    if connection.vendor != "postgresql":
        pytest.skip("killing a server backend needs PostgreSQL; this run uses SQLite")
    base, _process = gunicorn_server
    admin = UserFactory(role=Role.ADMIN)
    token = api_key_for(admin)
    project = ProjectFactory(title="Locked")
    headers = {"Authorization": f"Token {token}", "If-Match": f'"{project.version}"'}

    holder = _raw_connection()
    killer = _raw_connection()
    killer.autocommit = True
    answers = {}
    try:
        with holder.cursor() as cursor:  # hold the row, so the PATCH waits inside its transaction
            cursor.execute("SELECT id FROM projects_innovationproject WHERE id = %s FOR UPDATE", [project.pk])

        def patch():
            answers["response"] = requests.patch(
                f"{base}/api/v1/projects/{project.pk}/",
                json={"title": "Changed"},
                headers=headers,
                timeout=30,
            )

        thread = threading.Thread(target=patch)
        thread.start()
        waiting = None
        deadline = time.monotonic() + 15
        with killer.cursor() as cursor:
            while waiting is None and time.monotonic() < deadline:
                cursor.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                )
                row = cursor.fetchone()
                waiting = row[0] if row else None
                time.sleep(0.05)
            assert waiting is not None, "the PATCH never reached the row lock"
            cursor.execute("SELECT pg_terminate_backend(%s)", [waiting])
        thread.join(timeout=30)
    finally:
        holder.rollback()
        holder.close()
        killer.close()

    response = answers["response"]
    ResponseConformance(base)(response)  # the 503 is a documented answer, in the API's error shape
    assert response.status_code == 503
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers["Retry-After"] == "5"
    assert response.json()["code"] == "service_unavailable"
    project.refresh_from_db()
    assert project.title == "Locked"  # nothing was written
    # Every worker answers again (each reconnects); two workers, so ask a few times.
    for _ in range(4):
        again = requests.get(f"{base}/api/v1/projects/{project.pk}/", headers=headers, timeout=10)
        assert again.status_code == 200


@pytest.mark.django_db
def test_a_page_that_loses_the_database_answers_a_plain_503_page(client, monkeypatch):
    from web.views import relationships

    admin = UserFactory(role=Role.ADMIN)
    client.force_login(admin)

    def lost(**kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(relationships.project_selectors, "relationship_list", lost)
    response = client.get("/relationships/")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert "Temporarily unavailable" in response.content.decode()
