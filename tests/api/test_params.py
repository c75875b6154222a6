"""Query parameters are checked: a misspelt filter is a 400 naming it, never silently ignored."""

import pytest

pytestmark = pytest.mark.django_db

RESOURCES = ["organizations", "relationships", "projects", "kpis", "project-kpis", "measurements", "scores"]


@pytest.fixture
def admin_client(admin_user, api_as):
    return api_as(admin_user)


@pytest.mark.parametrize("resource", RESOURCES)
def test_an_unknown_query_parameter_on_a_list_is_a_400_naming_it(admin_client, world, resource):
    response = admin_client.get(f"/api/v1/{resource}/", {"stag": "idea"})
    assert response.status_code == 400
    body = response.json()
    assert list(body["errors"]) == ["stag"]
    assert "Unknown query parameter" in body["detail"]


def test_a_misspelt_filter_does_not_return_everything(admin_client, world):
    assert admin_client.get("/api/v1/projects/", {"stage": "delivered"}).json()["count"] == 0
    assert admin_client.get("/api/v1/projects/", {"stag": "delivered"}).status_code == 400


@pytest.mark.parametrize(
    "query",
    [
        {"page": 1, "page_size": 5, "ordering": "-id", "format": "json"},
        {"sync": "0", "page_size": 5},
        {"stage": ["idea", "proposed"], "level": "operational", "q": "Project"},
        {"relationship": 1, "client": 1, "provider": 1, "owner": 1, "kpi": 1},
        {"delivered_after": "2024-01-01", "delivered_before": "2030-01-01", "external_id": "p-a"},
        {"updated_since": "2000-01-01T00:00:00Z"},
    ],
)
def test_documented_parameters_are_accepted(admin_client, world, query):
    response = admin_client.get("/api/v1/projects/", query)
    assert response.status_code in (200, 400), response.content
    assert not {"stag"} & set(response.json().get("errors", {}))
    if response.status_code == 400:  # only a value may be wrong, never the parameter itself
        assert all(
            "Unknown query parameter" not in m for ms in response.json()["errors"].values() for m in ms
        )


def test_every_filter_of_each_resource_is_accepted(admin_client, world):
    from api import views

    for viewset in (views.MeasurementViewSet, views.ScoreViewSet, views.RelationshipViewSet):
        resource = {"MeasurementViewSet": "measurements", "ScoreViewSet": "scores"}.get(
            viewset.__name__, "relationships"
        )
        for name in viewset.filterset_class.base_filters:
            response = admin_client.get(f"/api/v1/{resource}/", {name: "1"})
            messages = [m for ms in response.json().get("errors", {}).values() for m in ms]
            assert not any("Unknown query parameter" in m for m in messages), (resource, name)


def test_object_routes_take_only_format(admin_client, world):
    project = world["project_a"]
    assert admin_client.get(f"/api/v1/projects/{project.pk}/", {"format": "json"}).status_code == 200
    response = admin_client.get(f"/api/v1/projects/{project.pk}/", {"stage": "idea"})
    assert response.status_code == 400 and list(response.json()["errors"]) == ["stage"]
    response = admin_client.patch(f"/api/v1/projects/{project.pk}/?dry_run=1", {"title": "x"}, format="json")
    assert response.status_code == 400 and list(response.json()["errors"]) == ["dry_run"]
    project.refresh_from_db()
    assert project.version == 1


def test_history_takes_its_paging(admin_client, world):
    project = world["project_a"]
    assert admin_client.get(f"/api/v1/projects/{project.pk}/history/", {"page_size": 2}).status_code == 200
    response = admin_client.get(f"/api/v1/projects/{project.pk}/history/", {"sync": "0"})
    assert response.status_code == 400 and list(response.json()["errors"]) == ["sync"]


def test_an_unknown_parameter_is_checked_after_authentication(api_as, world):
    assert api_as(None).get("/api/v1/projects/", {"stag": "idea"}).status_code in (401, 403)


@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_updated_since_is_a_400(admin_client, world, value):
    response = admin_client.get("/api/v1/projects/", {"updated_since": value})
    assert response.status_code == 400 and list(response.json()["errors"]) == ["updated_since"]


@pytest.mark.parametrize("value", ["abc", "1.5", "0", "-3", "", "1e3"])
def test_a_page_size_that_is_not_a_whole_number_from_1_is_a_400(admin_client, world, value):
    response = admin_client.get("/api/v1/projects/", {"page_size": value})
    assert response.status_code == 400 and list(response.json()["errors"]) == ["page_size"]
    project = world["project_a"]
    response = admin_client.get(f"/api/v1/projects/{project.pk}/history/", {"page_size": value})
    assert response.status_code == 400 and list(response.json()["errors"]) == ["page_size"]


def test_a_large_page_size_is_capped(admin_client, world):
    response = admin_client.get("/api/v1/projects/", {"page_size": 100000})
    assert response.status_code == 200 and len(response.json()["results"]) == 2


def test_an_unknown_top_level_key_in_a_bulk_body_is_a_400(admin_client, world):
    record = {"external_id": "erp-1", "relationship": world["rel_a"].pk, "title": "X"}
    response = admin_client.post(
        "/api/v1/projects/bulk/", {"records": [record], "dry_run": True}, format="json"
    )
    assert response.status_code == 400 and list(response.json()["errors"]) == ["dry_run"]
    assert admin_client.get("/api/v1/projects/", {"external_id": "erp-1"}).json()["count"] == 0


@pytest.mark.parametrize(
    "resource,field,value",
    [
        ("projects", "description", 0),
        ("projects", "title", 12),
        ("projects", "title", True),
        ("projects", "external_id", 5),
        ("organizations", "country", 0),
        ("organizations", "name", 1.5),
        ("kpis", "code", 7),
        ("kpis", "description", False),
    ],
)
def test_a_number_or_boolean_where_a_string_is_expected_is_refused(
    admin_client, world, resource, field, value
):
    obj = {"projects": world["project_a"], "organizations": world["client_a"], "kpis": world["kpi"]}[resource]
    before = admin_client.get(f"/api/v1/{resource}/{obj.pk}/").json()
    response = admin_client.patch(f"/api/v1/{resource}/{obj.pk}/", {field: value}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {field: ["Not a valid string."]}
    assert admin_client.get(f"/api/v1/{resource}/{obj.pk}/").json() == before


def test_strings_are_still_accepted_as_they_are(admin_client, world):
    project = world["project_a"]
    response = admin_client.patch(
        f"/api/v1/projects/{project.pk}/", {"description": "0", "title": "12"}, format="json"
    )
    assert response.status_code == 200
    assert (response.json()["description"], response.json()["title"]) == ("0", "12")


def test_a_single_valued_parameter_given_twice_is_a_400(admin_client, world):
    response = admin_client.get("/api/v1/scores/?client=1&client=")
    assert response.status_code == 400 and response.json()["errors"] == {
        "client": ["Give this parameter once."]
    }
    assert admin_client.get("/api/v1/projects/?stage=idea&stage=proposed").status_code == 200


def test_a_malformed_body_is_a_400_even_with_a_stale_if_match(admin_client, world):
    project = world["project_a"]
    response = admin_client.generic(
        "PATCH",
        f"/api/v1/projects/{project.pk}/",
        b"\xff\x00",
        content_type="application/json",
        HTTP_IF_MATCH='"9"',
    )
    assert response.status_code == 400
    response = admin_client.patch(
        f"/api/v1/projects/{project.pk}/", {"title": "ok"}, format="json", HTTP_IF_MATCH='"9"'
    )
    assert response.status_code == 412


def test_a_deleted_records_external_id_is_free_again_and_its_tombstone_keeps_it(admin_client, world):
    # external_id is unique among live records: a bulk upsert or a create naming a deleted record's
    # key makes a new record; the tombstone keeps the key, so a mirror can match what was deleted.
    project = world["project_a"]
    assert admin_client.delete(f"/api/v1/projects/{project.pk}/").status_code == 204
    record = {"external_id": "p-a", "relationship": world["rel_a"].pk, "title": "Again"}
    response = admin_client.post("/api/v1/projects/bulk/", {"records": [record]}, format="json")
    assert response.status_code == 200, response.json()
    created = response.json()["results"][0]
    assert created["status"] == "created" and created["id"] != project.pk
    tombstone = admin_client.get(f"/api/v1/projects/{project.pk}/").json()
    assert (tombstone["external_id"], tombstone["deleted_at"] is not None) == ("p-a", True)
    # Two live records may never share it.
    again = admin_client.post("/api/v1/projects/", {**record, "title": "Twice"}, format="json")
    assert again.status_code == 409
    assert "external_id" in again.json()["errors"]
