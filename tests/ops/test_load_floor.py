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


def test_the_api_benchmark_floor_answers_every_page_and_project_as_the_api_does(
    transactional_db, client, monkeypatch
):
    """`make bench-api` checks this on the benchmark's portfolio; here on a small generated one."""
    if connection.vendor != "postgresql":
        pytest.skip("the floor reads PostgreSQL directly; this run uses SQLite")
    from demo.scale import ScalePortfolio
    from projects.models import InnovationProject

    ScalePortfolio(count=4).run(scores=False)
    InnovationProject.objects.filter(pk=InnovationProject.objects.order_by("pk")[3].pk).update(
        deleted_at=InnovationProject.objects.order_by("pk")[3].updated_at
    )
    monkeypatch.setenv("DATABASE_URL", served_database_url())
    monkeypatch.setattr(floor, "_connection", None)
    token = api_key_for(UserFactory(role=Role.ADMIN))

    def from_floor(path, query=""):
        started = {}
        body = b"".join(
            floor.projects_application(
                {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query},
                lambda status, headers: started.update(status=status),
            )
        )
        return started["status"], json.loads(body)

    for page in (1, 2, 3):
        status, answer = from_floor("/api/v1/projects/", f"page={page}&page_size=7")
        api = client.get(
            f"/api/v1/projects/?page={page}&page_size=7", HTTP_AUTHORIZATION=f"Token {token}"
        ).json()
        assert status == "200 OK"
        assert {key: answer[key] for key in ("count", "has_more", "reset", "results")} == {
            key: api[key] for key in ("count", "has_more", "reset", "results")
        }
    for project in InnovationProject.objects.all():
        status, answer = from_floor(f"/api/v1/projects/{project.pk}/")
        assert status == "200 OK"
        assert (
            answer
            == client.get(f"/api/v1/projects/{project.pk}/", HTTP_AUTHORIZATION=f"Token {token}").json()
        )
    assert from_floor("/api/v1/projects/999999999/")[0] == "404 Not Found"
    floor._connection.close()
