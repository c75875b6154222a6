"""The load test's pieces that run without locust: its floor answers the same first page of projects
as the API, and its data preparation refuses a database not meant for it."""

import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from load import floor
from projects.access import Role
from tests.factories import ProjectFactory, UserFactory, api_key_for
from tests.ops.servers import served_database_url


def test_the_floor_answers_the_api_first_page_of_projects(transactional_db, client, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("the floor reads PostgreSQL directly; this run uses SQLite")
    projects = ProjectFactory.create_batch(7)
    projects[2].deleted_at = projects[2].updated_at
    projects[2].save(update_fields=["deleted_at"])
    monkeypatch.setenv("DATABASE_URL", served_database_url())
    monkeypatch.setattr(floor, "_connection", None)

    started = {}
    body = b"".join(
        floor.application(
            {"REQUEST_METHOD": "GET", "PATH_INFO": "/api/v1/projects/", "QUERY_STRING": "page_size=5"},
            lambda status, headers: started.update(status=status, headers=dict(headers)),
        )
    )
    answer = json.loads(body)
    admin = UserFactory(role=Role.ADMIN)
    api = client.get("/api/v1/projects/?page_size=5", HTTP_AUTHORIZATION=f"Token {api_key_for(admin)}").json()

    assert started["status"] == "200 OK" and started["headers"]["Content-Type"] == "application/json"
    assert answer["count"] == api["count"] == 6
    assert [row["id"] for row in answer["results"]] == [row["id"] for row in api["results"]]
    assert [row["title"] for row in answer["results"]] == [row["title"] for row in api["results"]]
    floor._connection.close()


def test_the_floor_reads_page_size_like_the_api():
    assert [
        floor.page_size(q) for q in ("", "page_size=50", "page_size=9999", "page_size=x", "page_size=0")
    ] == [
        100,
        50,
        500,
        100,
        1,
    ]


@pytest.mark.django_db
def test_load_data_is_only_prepared_in_a_database_named_for_it(tmp_path):
    with pytest.raises(CommandError, match="load"):
        call_command("prepare_load", "--output", str(tmp_path / "data.json"), stdout=io.StringIO())
