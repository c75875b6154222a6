"""Nothing a client sends produces a 500: every failure answers the one error shape."""

import json

import pytest
from rest_framework.test import APIClient

from projects.models import InnovationProject
from tests.api.conftest import clear_throttles

pytestmark = pytest.mark.django_db

ERROR_KEYS = {"status", "code", "detail", "errors"}


def send(client, method, url, raw, content_type="application/json"):
    return client.generic(method, url, raw, content_type=content_type)


@pytest.fixture
def admin_client(admin_user, api_as):
    return api_as(admin_user)


@pytest.mark.parametrize(
    "raw",
    [
        b"{",
        b"not json",
        b'{"title": NaN}',
        b'{"investment": Infinity}',
        b'{"investment": -Infinity}',
        b"\xff\xfe\x00",
        b"[" * 5000 + b"]" * 5000,
        b'{"investment": 1' + b"0" * 5000 + b"}",
    ],
)
def test_malformed_bodies_are_400(admin_client, world, raw):
    response = send(admin_client, "PATCH", f"/api/v1/projects/{world['project_a'].pk}/", raw)
    assert response.status_code == 400
    assert set(response.json()) >= ERROR_KEYS
    assert InnovationProject.objects.get(pk=world["project_a"].pk).version == 1


@pytest.mark.parametrize(
    "field,value",
    [
        ("investment", "1e400"),
        ("investment", 1e308),
        ("investment", "12345678901234567890"),
        ("investment", "NaN"),
        ("investment", "-1"),
        ("investment", True),
        ("investment", [1]),
        ("title", "x" * 10_000),
        ("title", "nul\x00byte"),
        ("title", {"nested": "object"}),
        ("level", "galactic"),
        ("stage", None),
        ("proposed_on", "99999-01-01"),
        ("proposed_on", "2024-02-30"),
        ("proposed_on", 20240101),
        ("owner", "nobody-by-that-name"),
        ("owner", 99999999999999999999999),
        ("relationship", 99999999999999999999999),
        ("relationship", -1),
        ("relationship", 1.5),
        ("external_id", "e" * 101),
        ("gain_share_pct", "100.01"),
    ],
)
def test_hostile_field_values_are_field_errors(admin_client, world, field, value):
    response = admin_client.patch(f"/api/v1/projects/{world['project_a'].pk}/", {field: value})
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"] or "non_field_errors" in response.json()["errors"]
    assert InnovationProject.objects.get(pk=world["project_a"].pk).version == 1


@pytest.mark.parametrize("field", ["title", "relationship", "owner", "external_id"])
def test_lone_surrogates_in_raw_json_are_rejected(admin_client, world, field):
    raw = b'{"%s": "\\ud800"}' % field.encode()
    response = send(admin_client, "PATCH", f"/api/v1/projects/{world['project_a'].pk}/", raw)
    assert response.status_code == 400


@pytest.mark.parametrize(
    "query",
    [
        "relationship=99999999999999999999999",
        "relationship=-5",
        "relationship=abc",
        "client=1e9",
        "kpi=99999999999999999999",
        "stage=nope",
        "delivered_after=2024-99-99",
        "updated_since=%00",
        "q=%00",
        "q=" + "x" * 5000,
        "ordering=password",
        "page=0",
        "page=99999999999999999999",
        "page_size=-1",
        "page_size=99999999999999999999",
        "sync=%ff%fe",
        "external_id=" + "e" * 300,
    ],
)
def test_hostile_query_parameters_never_crash(admin_client, world, query):
    response = admin_client.get(f"/api/v1/projects/?{query}")
    assert response.status_code in (200, 400, 404), response.content
    if response.status_code != 200:
        assert set(response.json()) >= ERROR_KEYS


@pytest.mark.parametrize("path", ["99999999999999999999999", "-1", "abc", "0"])
def test_absurd_ids_in_paths_are_404(admin_client, world, path):
    response = admin_client.get(f"/api/v1/projects/{path}/")
    assert response.status_code == 404


def test_wrong_content_type_is_415(admin_client, world):
    response = send(
        admin_client, "POST", "/api/v1/projects/", "title=x", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_too_large_body_is_413(admin_client, world, settings):
    settings.API_MAX_BODY_BYTES = 1000
    raw = json.dumps({"description": "x" * 2000}).encode()
    response = send(admin_client, "PATCH", f"/api/v1/projects/{world['project_a'].pk}/", raw)
    assert response.status_code == 413 and response.json()["code"] == "too_large"


def test_throttled_token_requests_are_429_with_retry_after(db, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK}
    settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
        "token": "3/min",
    }
    clear_throttles()
    client = APIClient()
    codes = [
        client.post("/api/v1/auth/token/", {"username": "x", "password": "y"}).status_code for _ in range(5)
    ]
    assert codes == [400, 400, 400, 429, 429]
    response = client.post("/api/v1/auth/token/", {"username": "x", "password": "y"})
    assert response.json()["code"] == "throttled" and int(response.headers["Retry-After"]) > 0


def test_sync_and_bulk_have_their_own_throttle_scopes(admin_client, world, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK}
    settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
        "sync": "2/min",
        "bulk": "1/min",
    }
    clear_throttles()
    assert [admin_client.get("/api/v1/projects/?sync=0").status_code for _ in range(3)] == [200, 200, 429]
    assert admin_client.get("/api/v1/projects/").status_code == 200  # plain reads are another scope
    body = {"records": [{"external_id": "o-1", "name": "Org", "kind": "client"}]}
    assert [admin_client.post("/api/v1/organizations/bulk/", body).status_code for _ in range(2)] == [
        200,
        429,
    ]
