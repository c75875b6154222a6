"""A sync client's whole round trip over real HTTP: a live server and an HTTP client."""

import pytest
import requests
from openapi_core.exceptions import OpenAPIError
from schemathesis.core.failures import FailureGroup

from tests.api.conftest import clear_throttles
from tests.api.schema_conformance import ResponseConformance

pytestmark = pytest.mark.django_db(transaction=True)


class SyncClient:
    """What a client system does: keep a copy of a resource with the sync cursor."""

    def __init__(self, base: str, token: str, conformance: ResponseConformance):
        self.base = base
        self.session = conformance.watch(requests.Session())
        self.session.headers["Authorization"] = f"Token {token}"
        self.copies: dict[str, dict[int, dict]] = {}
        self.cursors: dict[str, str] = {}

    def sync(self, resource: str) -> list[dict]:
        copy = self.copies.setdefault(resource, {})
        received = []
        url = f"{self.base}/api/v1/{resource}/"
        params = {"sync": self.cursors.get(resource, "0"), "page_size": 2}
        while True:
            response = self.session.get(url, params=params, timeout=30)
            assert response.status_code == 200, response.text
            body = response.json()
            if body["reset"]:
                copy.clear()
            for row in body["results"]:
                copy[row["id"]] = row
            received += body["results"]
            self.cursors[resource] = body["next_sync"]
            if not body["has_more"]:
                return received
            params = {"sync": body["next_sync"], "page_size": 2}


def test_bulk_create_sync_conditional_update_delete_and_tombstone_over_http(
    live_server, world, account_manager
):
    clear_throttles()
    base = live_server.url
    token = requests.post(
        f"{base}/api/v1/auth/token/", json={"username": "am-user", "password": "test-password"}, timeout=30
    )
    assert token.status_code == 201
    conformance = ResponseConformance(base)
    conformance(token)
    client = SyncClient(base, token.json()["token"], conformance)

    # Create through bulk upserts, naming parents by external_id.
    projects = [
        {"external_id": f"erp-{i}", "relationship": world["rel_a"].pk, "title": f"ERP project {i}"}
        for i in range(3)
    ]
    response = client.session.post(f"{base}/api/v1/projects/bulk/", json={"records": projects}, timeout=30)
    assert response.status_code == 200, response.text
    assert [r["status"] for r in response.json()["results"]] == ["created"] * 3
    kpis = [
        {
            "external_id": "erp-0-fill",
            "project": "erp-0",
            "kpi": "kpi-fill",
            "baseline_value": "60",
            "baseline_date": "2024-01-01",
        }
    ]
    assert client.session.post(f"{base}/api/v1/project-kpis/bulk/", json={"records": kpis}, timeout=30).ok
    measurements = [
        {
            "external_id": f"erp-0-fill-{month}",
            "project_kpi": "erp-0-fill",
            "measured_on": f"2024-{month:02}-01",
            "value": "85",
        }
        for month in (3, 6)
    ]
    assert client.session.post(
        f"{base}/api/v1/measurements/bulk/", json={"records": measurements}, timeout=30
    ).ok

    # Full sync in pages of two; the manager sees relationship A only.
    client.sync("projects")
    client.sync("measurements")
    titles = {row["title"] for row in client.copies["projects"].values()}
    assert titles == {"Project A", "ERP project 0", "ERP project 1", "ERP project 2"}
    assert len(client.copies["measurements"]) == 4
    assert client.sync("projects") == []  # nothing new

    # Conditional update: the current ETag wins, a stale one gets 412 and changes nothing.
    target = next(row for row in client.copies["projects"].values() if row["external_id"] == "erp-1")
    url = f"{base}/api/v1/projects/{target['id']}/"
    etag = client.session.get(url, timeout=30).headers["ETag"]
    updated = client.session.patch(url, json={"stage": "proposed"}, headers={"If-Match": etag}, timeout=30)
    assert updated.status_code == 200 and updated.headers["ETag"] == '"2"'
    stale = client.session.patch(url, json={"title": "Lost update"}, headers={"If-Match": etag}, timeout=30)
    assert stale.status_code == 412 and stale.json()["current_version"] == 2

    # Delete with If-Match; the next sync brings the tombstone (and those of its children).
    doomed = next(row for row in client.copies["projects"].values() if row["external_id"] == "erp-0")
    deleted = client.session.delete(
        f"{base}/api/v1/projects/{doomed['id']}/", headers={"If-Match": f'"{doomed["version"]}"'}, timeout=30
    )
    assert deleted.status_code == 204
    changes = {row["id"]: row for row in client.sync("projects")}
    assert set(changes) == {target["id"], doomed["id"]}
    assert changes[target["id"]]["stage"] == "proposed" and changes[target["id"]]["version"] == 2
    assert changes[doomed["id"]]["deleted_at"] is not None
    measurement_changes = client.sync("measurements")
    assert len(measurement_changes) == 2 and all(row["deleted_at"] for row in measurement_changes)

    # The client's copy equals the server's view, tombstones included.
    server = requests.get(
        f"{base}/api/v1/projects/",
        params={"sync": "0", "page_size": 500},
        headers=client.session.headers,
        timeout=30,
    ).json()["results"]
    assert {row["id"]: row for row in server} == client.copies["projects"]
    # Objects that may be null (current_score) and error bodies conform too.
    assert client.session.get(f"{base}/api/v1/relationships/", timeout=30).status_code == 200
    assert client.session.get(f"{base}/api/v1/projects/999999/", timeout=30).status_code == 404
    assert conformance.checked >= 15  # every response above was checked


def test_the_conformance_check_catches_a_response_the_schema_does_not_describe(live_server, world):
    conformance = ResponseConformance(live_server.url)
    response = requests.Response()
    response.status_code = 200
    response.headers["Content-Type"] = "application/json"
    response._content = b'{"id": "not a number"}'
    response.request = requests.Request("GET", f"{live_server.url}/api/v1/projects/1/").prepare()
    with pytest.raises((FailureGroup, OpenAPIError)):  # a wrong type and missing required fields
        conformance(response)
    assert conformance.checked == 0
