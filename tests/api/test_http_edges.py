"""What an integrator meets at the edges of HTTP: body size, trailing slashes, error pages."""

import json

import pytest
from django.core.exceptions import RequestDataTooBig
from django.test import Client

from api.errors import api_exception_handler
from projects.models import InnovationProject

pytestmark = pytest.mark.django_db

ERROR_KEYS = {"status", "code", "detail", "errors"}


@pytest.fixture
def admin_client(admin_user, api_as):
    return api_as(admin_user)


def _bulk_body(relationship_id: int, *, records: int, padding: int) -> str:
    return json.dumps(
        {
            "records": [
                {
                    "external_id": f"big-{index}",
                    "relationship": relationship_id,
                    "title": f"Project {index}",
                    "description": "d" * padding,
                }
                for index in range(records)
            ]
        }
    )


def test_a_bulk_over_djangos_default_memory_limit_is_accepted(admin_client, world):
    # 2.7 MiB: over Django's 2.5 MiB default, well within the documented 10 MiB.
    body = _bulk_body(world["rel_a"].pk, records=1000, padding=2800)
    assert 2.6 * 1024 * 1024 < len(body) < 10 * 1024 * 1024
    response = admin_client.post("/api/v1/projects/bulk/", body, content_type="application/json")
    assert response.status_code == 200, response.content[:300]
    assert response.json()["created"] == 1000


def test_a_body_over_the_limit_is_a_json_413_naming_the_limit(admin_client, world, settings):
    settings.API_MAX_BODY_BYTES = settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 50_000
    body = _bulk_body(world["rel_a"].pk, records=30, padding=2000)
    response = admin_client.post("/api/v1/projects/bulk/", body, content_type="application/json")
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    payload = response.json()
    assert set(payload) >= ERROR_KEYS and payload["code"] == "too_large"
    assert payload["max_body_bytes"] == 50_000 and "50000 bytes" in payload["detail"]
    assert not InnovationProject.objects.filter(external_id__startswith="big-").exists()


def test_the_smaller_of_the_two_settings_is_the_limit_named(admin_client, world, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
    response = admin_client.patch(
        f"/api/v1/projects/{world['project_a'].pk}/", {"description": "x" * 5000}, format="json"
    )
    assert response.status_code == 413 and response.json()["max_body_bytes"] == 1_000


def test_djangos_size_check_inside_a_view_maps_to_the_json_413(settings):
    # Django raises RequestDataTooBig when a view reads a body the middleware could not measure
    # (no Content-Length); the exception handler answers it like the API's own check.
    settings.API_MAX_BODY_BYTES = settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2_048
    response = api_exception_handler(RequestDataTooBig("too big"), {})
    assert response.status_code == 413
    assert response.data["code"] == "too_large" and response.data["max_body_bytes"] == 2_048


def test_a_form_body_over_the_limit_on_the_token_endpoint_is_json_413(db, settings):
    settings.API_MAX_BODY_BYTES = settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
    response = Client().post("/api/v1/auth/token/", {"username": "u" * 5000, "password": "p"})
    assert response.status_code == 413
    assert response.json()["max_body_bytes"] == 1_000


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_a_write_without_the_trailing_slash_is_a_json_404_naming_the_canonical_path(
    admin_client, world, method
):
    project = world["project_a"]
    for path in ("/api/v1/projects", f"/api/v1/projects/{project.pk}", "/api/v1/projects/bulk"):
        response = getattr(admin_client, method)(path, {"title": "x"}, format="json")
        assert response.status_code == 404, (method, path)
        assert response["Content-Type"] == "application/json"
        assert response.json()["canonical_path"] == f"{path}/"
        assert f"{path}/" in response.json()["detail"]
    assert InnovationProject.objects.get(pk=project.pk).version == 1


def test_a_read_without_the_trailing_slash_still_redirects(admin_client, world):
    response = admin_client.get("/api/v1/projects")
    assert response.status_code == 301 and response["Location"] == "/api/v1/projects/"


@pytest.mark.parametrize("path", ["/api/v1/nothing/", "/api/v2/projects/", "/api/", "/api/v1/projects/1/x/"])
def test_unknown_paths_under_api_answer_json_404(admin_client, world, path):
    for method in ("get", "post"):
        response = getattr(admin_client, method)(path)
        assert response.status_code == 404, (method, path)
        assert response["Content-Type"] == "application/json"
        assert set(response.json()) >= ERROR_KEYS and response.json()["code"] == "not_found"


def test_a_csrf_failure_under_api_answers_json(admin_user, world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    response = client.post("/api/v1/projects/", {"title": "x"}, content_type="application/json")
    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
    assert set(response.json()) >= ERROR_KEYS


def test_an_unhandled_error_under_api_answers_json_500(admin_user, world, monkeypatch):
    from api import views

    def explode(self, *args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(views.ProjectViewSet, "list", explode)
    client = Client(raise_request_exception=False)
    client.force_login(admin_user)
    response = client.get("/api/v1/projects/")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "server_error" and "boom" not in response.content.decode()


def test_pages_outside_the_api_keep_their_html_errors(admin_user, db):
    client = Client()
    client.force_login(admin_user)
    response = client.get("/no-such-page/")
    assert response.status_code == 404 and "text/html" in response["Content-Type"]
