"""What a client generated from the schema relies on: Bearer tokens, integer ids, complete
responses, one request type for the token, typed score explanations, owners by login."""

import pytest
from rest_framework.test import APIClient

from tests.factories import api_key_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(admin_user, api_as):
    return api_as(admin_user).get("/api/v1/schema/?format=json").json()


@pytest.mark.parametrize("prefix", ["Bearer", "Token", "bearer"])
def test_the_token_is_accepted_as_bearer_or_token(world, account_manager, prefix):
    key = api_key_for(account_manager)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{prefix} {key}")
    response = client.get("/api/v1/projects/")
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [world["project_a"].pk]


@pytest.mark.parametrize("header", ["Bearer", "Bearer a b", "Bearer not-a-token"])
def test_a_bad_bearer_header_is_401(world, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/v1/projects/")
    assert response.status_code == 401 and response.json()["code"] == "authentication_failed"


def test_the_schema_publishes_bearer_authentication(schema):
    assert schema["components"]["securitySchemes"]["tokenAuth"] | {"description": ""} == {
        "type": "http",
        "scheme": "bearer",
        "description": "",
    }


def test_the_token_endpoint_takes_one_request_type(schema):
    assert list(schema["paths"]["/api/v1/auth/token/"]["post"]["requestBody"]["content"]) == [
        "application/json"
    ]


def test_path_ids_are_integers(schema):
    for path, operations in schema["paths"].items():
        if "{id}" not in path:
            continue
        for method, operation in operations.items():
            [parameter] = [p for p in operation["parameters"] if p["in"] == "path"]
            assert parameter["schema"]["type"] == "integer", (path, method)


def test_every_response_field_is_required(schema, admin_user, api_as, world):
    components = schema["components"]["schemas"]
    for name in ("Project", "Relationship", "ProjectKPI", "Measurement", "Organization", "KPI", "Score"):
        assert set(components[name]["required"]) == set(components[name]["properties"]), name
    # …and really present in what the API answers.
    row = api_as(admin_user).get(f"/api/v1/projects/{world['project_a'].pk}/").json()
    assert set(row) == set(components["Project"]["properties"])
    assert "required" not in components["Error"] or "records" not in components["Error"]["required"]


def test_score_explanations_have_types(schema):
    score = schema["components"]["schemas"]["Score"]["properties"]
    assert score["basis"]["type"] == "array" and score["basis"]["items"]["type"] == "string"
    assert score["inputs"]["type"] == "object"


def test_the_owner_filter_takes_the_login_the_api_shows(admin_user, api_as, world, account_manager, schema):
    from projects.models import InnovationProject

    InnovationProject.objects.filter(pk=world["project_a"].pk).update(owner=account_manager)
    client = api_as(admin_user)
    shown = client.get(f"/api/v1/projects/{world['project_a'].pk}/").json()["owner"]
    assert shown == account_manager.username
    listed = client.get("/api/v1/projects/", {"owner": shown}).json()["results"]
    assert [row["id"] for row in listed] == [world["project_a"].pk]
    [parameter] = [
        p for p in schema["paths"]["/api/v1/projects/"]["get"]["parameters"] if p["name"] == "owner"
    ]
    assert parameter["schema"]["type"] == "string"
