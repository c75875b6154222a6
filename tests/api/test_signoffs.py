"""Client sign-off through the API: the provider asks, the client's people approve or decline,
each step versioned, audited and scoped; a direct approval is refused while sign-off applies."""

import datetime as dt
from decimal import Decimal

import pytest
import requests

from projects import services, signoffs
from projects.access import Role, role_of, user_organization_id
from projects.models import InnovationProject, SignOff
from tests.api.conftest import clear_throttles
from tests.api.schema_conformance import ResponseConformance
from tests.factories import ProjectFactory, UserFactory, api_key_for

Stage = InnovationProject.Stage


@pytest.fixture
def signed_off(portfolio, client_viewer_a):
    services.relationship_update(
        actor=None,
        relationship=portfolio["rel_a"],
        changes=services.RelationshipFields(client_signoff_required=True),
    )
    portfolio["proposal"] = ProjectFactory(
        relationship=portfolio["rel_a"], title="Parts forecasting", stage=Stage.PROPOSED, external_id="p-fc"
    )
    return portfolio


def _ask_approval(client, project) -> int:
    response = client.post("/api/v1/sign-offs/", {"project": project.pk, "kind": "approval"}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["id"]


@pytest.mark.django_db
def test_request_approve_and_the_project_moves(api_as, signed_off, account_manager, client_viewer_a):
    proposal = signed_off["proposal"]
    manager = api_as(account_manager)
    # Moving the project directly is refused with the reason.
    response = manager.patch(f"/api/v1/projects/{proposal.pk}/", {"stage": "approved"}, format="json")
    assert response.status_code == 400
    assert "Client A signs off approvals" in response.json()["errors"]["stage"][0]

    response = manager.post(
        "/api/v1/sign-offs/",
        {"project": "p-fc", "kind": "approval", "request_note": "Agreed in the QBR"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["status"], body["kind"], body["requested_by"], body["project"]) == (
        "pending",
        "approval",
        "am-user",
        proposal.pk,
    )
    assert response["ETag"] == '"1"' and response["Location"].endswith(f"/api/v1/sign-offs/{body['id']}/")
    url = f"/api/v1/sign-offs/{body['id']}/"

    viewer = api_as(client_viewer_a)
    assert viewer.get("/api/v1/sign-offs/?status=pending").json()["count"] == 1
    # The provider cannot approve for the client; the client cannot ask.
    assert manager.post(f"{url}approve/", {}, format="json").status_code == 403
    assert (
        viewer.post(
            "/api/v1/sign-offs/", {"project": proposal.pk, "kind": "approval"}, format="json"
        ).status_code
        == 403
    )
    # A stale If-Match is refused and writes nothing.
    assert viewer.post(f"{url}approve/", {}, format="json", HTTP_IF_MATCH='"9"').status_code == 412
    response = viewer.post(f"{url}approve/", {"note": "Go ahead"}, format="json", HTTP_IF_MATCH='"1"')
    assert response.status_code == 200, response.json()
    assert (response.json()["status"], response.json()["decided_by"], response.json()["decision_note"]) == (
        "approved",
        "viewer-a",
        "Go ahead",
    )
    assert response["ETag"] == '"2"'
    project = manager.get(f"/api/v1/projects/{proposal.pk}/").json()
    assert project["stage"] == "approved"
    history = manager.get(f"/api/v1/projects/{proposal.pk}/history/").json()["results"]
    assert [(entry["resource"], entry["actor"]) for entry in history[:2]] == [
        ("sign-offs", "viewer-a"),
        ("projects", "viewer-a"),
    ]
    # Deciding twice is a conflict.
    response = viewer.post(f"{url}decline/", {"reason": "Changed my mind"}, format="json")
    assert response.status_code == 409
    assert "already closed" in response.json()["detail"]


@pytest.mark.django_db
def test_bad_bodies_are_field_errors(api_as, signed_off, account_manager, client_viewer_a):
    manager = api_as(account_manager)
    proposal = signed_off["proposal"]
    response = manager.post(
        "/api/v1/sign-offs/", {"project": proposal.pk, "kind": "benefit", "colour": "red"}, format="json"
    )
    assert response.status_code == 400 and response.json()["errors"] == {"colour": ["Unknown field."]}
    response = manager.post(
        "/api/v1/sign-offs/",
        {"project": proposal.pk, "kind": "benefit", "realised_annual_benefit": "100"},
        format="json",
    )
    assert response.status_code == 400 and "kind" in response.json()["errors"]
    response = manager.post(
        "/api/v1/sign-offs/", {"project": signed_off["rel_b"].pk, "kind": "x"}, format="json"
    )
    assert response.status_code == 400 and {"project", "kind"} <= set(response.json()["errors"])
    signoff_id = manager.post(
        "/api/v1/sign-offs/", {"project": proposal.pk, "kind": "approval"}, format="json"
    ).json()["id"]
    response = api_as(client_viewer_a).post(
        f"/api/v1/sign-offs/{signoff_id}/decline/", {"reason": " "}, format="json"
    )
    assert response.status_code == 400 and "reason" in response.json()["errors"]
    assert SignOff.objects.get(pk=signoff_id).status == "pending"


@pytest.mark.django_db
def test_sign_offs_are_scoped_and_the_setting_is_admins(api_as, signed_off, account_manager, admin_user):
    manager = api_as(account_manager)
    proposal = signed_off["proposal"]
    signoff_id = manager.post(
        "/api/v1/sign-offs/", {"project": proposal.pk, "kind": "approval"}, format="json"
    ).json()["id"]

    other = UserFactory(role=Role.CLIENT_VIEWER, organization=signed_off["client_b"])
    assert api_as(other).get(f"/api/v1/sign-offs/{signoff_id}/").status_code == 404
    assert api_as(other).get("/api/v1/sign-offs/").json()["count"] == 0
    relationship_url = f"/api/v1/relationships/{signed_off['rel_a'].pk}/"
    response = manager.patch(relationship_url, {"client_signoff_required": False}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"client_signoff_required": ["Only an admin may change this."]}
    response = api_as(admin_user).patch(relationship_url, {"client_signoff_required": False}, format="json")
    assert response.status_code == 200 and response.json()["client_signoff_required"] is False


@pytest.mark.django_db
def test_sign_off_list_query_count_is_flat(api_as, signed_off, account_manager, django_assert_num_queries):
    for number in range(6):
        project = ProjectFactory(relationship=signed_off["rel_a"], stage=Stage.PROPOSED, title=f"P{number}")
        signoffs.signoff_request(actor=account_manager, project=project, kind="approval")
    role_of(account_manager)
    user_organization_id(account_manager)
    client = api_as(account_manager)
    # count, page, the sync bound, the scope fingerprint
    with django_assert_num_queries(4):
        response = client.get("/api/v1/sign-offs/?page_size=3")
    assert response.json()["count"] == 6 and len(response.json()["results"]) == 3
    with django_assert_num_queries(4):
        assert len(client.get("/api/v1/sign-offs/?page_size=6").json()["results"]) == 6


@pytest.mark.django_db(transaction=True)
def test_benefit_confirmation_over_http_matches_the_schema(
    live_server, signed_off, account_manager, client_viewer_a
):
    clear_throttles()
    delivered = ProjectFactory(
        relationship=signed_off["rel_a"], stage=Stage.DELIVERED, delivered_on=dt.date(2025, 5, 1)
    )
    conformance = ResponseConformance(live_server.url)
    manager = conformance.watch(requests.Session())
    manager.headers["Authorization"] = f"Token {api_key_for(account_manager)}"
    viewer = conformance.watch(requests.Session())
    viewer.headers["Authorization"] = f"Token {api_key_for(client_viewer_a)}"
    base = f"{live_server.url}/api/v1"
    response = manager.post(
        f"{base}/sign-offs/",
        json={"project": delivered.pk, "kind": "benefit", "realised_annual_benefit": "87500.00"},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    signoff = response.json()
    assert signoff["realised_annual_benefit"] == "87500.00"
    assert (
        manager.get(f"{base}/projects/{delivered.pk}/", timeout=30).json()["realised_annual_benefit"] is None
    )
    response = viewer.post(
        f"{base}/sign-offs/{signoff['id']}/approve/",
        json={},
        headers={"If-Match": response.headers["ETag"]},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert (
        manager.get(f"{base}/projects/{delivered.pk}/", timeout=30).json()["realised_annual_benefit"]
        == "87500.00"
    )
    synced = manager.get(f"{base}/sign-offs/", params={"sync": "0"}, timeout=30).json()
    assert [row["status"] for row in synced["results"]] == ["approved"]
    assert manager.post(f"{base}/sign-offs/{signoff['id']}/withdraw/", timeout=30).status_code == 409
    assert conformance.checked >= 6
    assert delivered.__class__.objects.get(pk=delivered.pk).realised_annual_benefit == Decimal("87500.00")
