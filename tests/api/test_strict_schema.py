"""The strict OpenAPI 3.0 validator the live-server tests use (openapi-core) accepts the API's real
answers — nullable objects included — and rejects what the schema does not describe: a wrong type,
an undocumented field, a null where none is allowed."""

import json

import pytest
from openapi_core.exceptions import OpenAPIError

from kpis.models import RelationshipScore
from tests.api.schema_conformance import _Request, _Response, strict_validator

pytestmark = pytest.mark.django_db


@pytest.fixture
def validator(client):
    return strict_validator(json.loads(client.get("/api/v1/schema/?format=json").content))


def check(validator, path: str, response, body: dict | None = None) -> None:
    data = response.content if body is None else json.dumps(body).encode()
    validator.validate_response(
        _Request("GET", f"http://testserver{path}", {}, None),
        _Response(response.status_code, dict(response.headers), data),
    )


def test_real_answers_validate_nullable_objects_included(validator, api_as, admin_user, world):
    client = api_as(admin_user)
    RelationshipScore.objects.all().delete()
    for path in (
        f"/api/v1/relationships/{world['rel_a'].pk}/",
        "/api/v1/relationships/",
        f"/api/v1/projects/{world['project_a'].pk}/",
        "/api/v1/projects/?sync=0",
        f"/api/v1/project-kpis/{world['project_kpi_a'].pk}/",
        "/api/v1/measurements/",
        "/api/v1/projects/999999/",
    ):
        response = client.get(path)
        check(validator, path, response)
    relationship = client.get(f"/api/v1/relationships/{world['rel_a'].pk}/").json()
    assert relationship["current_score"] is None  # the nullable object, validated above as null


def test_an_undocumented_field_a_wrong_type_and_a_stray_null_are_rejected(
    validator, api_as, admin_user, world
):
    client = api_as(admin_user)
    path = f"/api/v1/projects/{world['project_a'].pk}/"
    response = client.get(path)
    body = response.json()
    check(validator, path, response, body)  # as sent: valid
    for broken in (
        {**body, "surprise": 1},
        {**body, "version": "2"},
        {**body, "title": None},
        {key: value for key, value in body.items() if key != "stage"},
    ):
        with pytest.raises(OpenAPIError):
            check(validator, path, response, broken)
