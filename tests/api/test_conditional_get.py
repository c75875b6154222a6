"""Conditional GET on object routes: If-None-Match with the current ETag answers 304, no body."""

import pytest
from django.utils import timezone

from kpis.models import RelationshipScore
from kpis.rollup import rollup_scores
from projects import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(admin_user, api_as):
    return api_as(admin_user)


@pytest.mark.parametrize(
    "resource,key",
    [
        ("projects", "project_a"),
        ("relationships", "rel_a"),
        ("organizations", "client_a"),
        ("kpis", "kpi"),
        ("project-kpis", "project_kpi_a"),
        ("measurements", "measurement_a"),
    ],
)
def test_the_current_etag_answers_304_without_a_body(admin_client, world, resource, key):
    url = f"/api/v1/{resource}/{world[key].pk}/"
    first = admin_client.get(url)
    tag = first["ETag"]
    response = admin_client.get(url, HTTP_IF_NONE_MATCH=tag)
    assert response.status_code == 304 and response.content == b"" and response["ETag"] == tag
    assert admin_client.get(url, HTTP_IF_NONE_MATCH=f'"0", W/{tag}').status_code == 304
    assert admin_client.get(url, HTTP_IF_NONE_MATCH="*").status_code == 304


def test_a_stale_etag_answers_the_record(admin_client, world):
    project = world["project_a"]
    url = f"/api/v1/projects/{project.pk}/"
    tag = admin_client.get(url)["ETag"]
    services.project_update(actor=None, project=project, changes=services.ProjectFields(title="Changed"))
    response = admin_client.get(url, HTTP_IF_NONE_MATCH=tag)
    assert response.status_code == 200 and response.json()["title"] == "Changed"
    assert response["ETag"] != tag


def test_a_score_has_conditional_get_too(admin_client, world):
    rollup_scores(period=timezone.localdate(), relationship_ids=[world["rel_a"].pk])
    score = RelationshipScore.objects.filter(relationship=world["rel_a"]).first()
    assert score is not None
    url = f"/api/v1/scores/{score.pk}/"
    tag = admin_client.get(url)["ETag"]
    assert admin_client.get(url, HTTP_IF_NONE_MATCH=tag).status_code == 304


def test_if_none_match_never_reveals_a_record_outside_your_scope(world, api_as, account_manager):
    other = world["project_b"]
    response = api_as(account_manager).get(f"/api/v1/projects/{other.pk}/", HTTP_IF_NONE_MATCH="*")
    assert response.status_code == 404


# --- Lists ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/projects/",
        "/api/v1/projects/?stage=idea&ordering=-title&page_size=1",
        "/api/v1/relationships/",
        "/api/v1/organizations/",
        "/api/v1/kpis/",
        "/api/v1/project-kpis/",
        "/api/v1/measurements/",
        "/api/v1/scores/",
    ],
)
def test_a_list_answers_304_to_its_current_etag(admin_client, world, url):
    first = admin_client.get(url)
    tag = first["ETag"]
    assert first.status_code == 200 and tag.startswith('W/"list-')
    again = admin_client.get(url, HTTP_IF_NONE_MATCH=tag)
    assert again.status_code == 304 and again.content == b"" and again["ETag"] == tag
    assert admin_client.get(url, HTTP_IF_NONE_MATCH=tag.removeprefix("W/")).status_code == 304


def test_a_list_etag_changes_with_anything_the_list_shows(admin_client, world):
    url = "/api/v1/projects/"
    tag = admin_client.get(url)["ETag"]
    # A computed figure: a new measurement moves the project's impact without editing the project.
    from kpis import services as kpi_services

    kpi_services.measurement_update(
        actor=None, measurement=world["measurement_a"], changes=kpi_services.MeasurementFields(value=90)
    )
    changed = admin_client.get(url, HTTP_IF_NONE_MATCH=tag)
    assert changed.status_code == 200 and changed["ETag"] != tag
    # Another page, another filter: another list, another tag.
    assert admin_client.get(f"{url}?page_size=1")["ETag"] != changed["ETag"]


def test_a_list_etag_ignores_only_the_sync_cursor(admin_client, world):
    """Writes elsewhere move the cursor in every answer, not the rows: still a 304."""
    url = "/api/v1/organizations/"
    first = admin_client.get(url)
    services.project_update(
        actor=None, project=world["project_a"], changes=services.ProjectFields(description="elsewhere")
    )
    second = admin_client.get(url)
    assert second.json()["results"] == first.json()["results"]
    assert admin_client.get(url, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304


def test_a_list_etag_is_per_scope(world, api_as, admin_user, account_manager):
    """The same URL shows each caller their own rows: one caller's tag is no 304 for another."""
    admin_tag = api_as(admin_user).get("/api/v1/projects/")["ETag"]
    response = api_as(account_manager).get("/api/v1/projects/", HTTP_IF_NONE_MATCH=admin_tag)
    assert response.status_code == 200
    assert [row["title"] for row in response.json()["results"]] == ["Project A"]
