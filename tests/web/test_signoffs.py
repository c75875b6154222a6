"""Client sign-off in the browser layer: the provider requests through the stage dialog, the
client approves or declines on the project page, an admin switches the requirement."""

import datetime as dt
from decimal import Decimal

import pytest

from projects import services
from projects.models import InnovationProject, SignOff
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db

Stage = InnovationProject.Stage


@pytest.fixture
def signed_off(portfolio, client_viewer_a):
    services.relationship_update(
        actor=None,
        relationship=portfolio["rel_a"],
        changes=services.RelationshipFields(client_signoff_required=True),
    )
    return portfolio


@pytest.fixture
def proposal(signed_off):
    return ProjectFactory(relationship=signed_off["rel_a"], title="Parts forecasting", stage=Stage.PROPOSED)


def _page(client, project):
    return client.get(f"/projects/{project.pk}/").content.decode()


def test_manager_requests_approval_through_the_stage_dialog(client, account_manager, proposal):
    client.force_login(account_manager)
    page = _page(client, proposal)
    assert "Request client approval…" in page and "Move to Approved…" not in page
    assert "Skip to Delivered" not in page  # nothing past Approved before the client approved
    dialog = client.get(f"/projects/{proposal.pk}/stage/?to=approved").content.decode()
    assert "Ask Client A to approve “Parts forecasting”" in dialog and "Note to Client A" in dialog
    response = client.post(
        f"/projects/{proposal.pk}/stage/",
        {"to_stage": "approved", "version": proposal.version, "note": "Budget agreed in the QBR"},
    )
    assert response.status_code == 302
    request = SignOff.objects.get(project=proposal)
    assert (request.kind, request.status, request.request_note) == (
        "approval",
        "pending",
        "Budget agreed in the QBR",
    )
    page = client.get(response.url).content.decode()
    assert "Asked Client A to approve “Parts forecasting”." in page
    assert "Waiting for Client A to approve the project" in page and "Withdraw the request" in page
    assert "Request client approval…" not in page  # one request at a time
    # Skipping ahead is refused with the reason.
    response = client.get(f"/projects/{proposal.pk}/stage/?to=in_progress", follow=True)
    assert "Client A signs off approvals first." in response.content.decode()


def test_client_viewer_approves_and_the_project_moves(client, account_manager, client_viewer_a, proposal):
    client.force_login(account_manager)
    client.post(f"/projects/{proposal.pk}/stage/", {"to_stage": "approved", "version": proposal.version})
    request = SignOff.objects.get(project=proposal)
    client.force_login(client_viewer_a)
    page = _page(client, proposal)
    assert "Approve the project" in page and "Decline" in page and "Withdraw the request" not in page
    assert "Edit project" not in page  # the viewer still changes nothing else
    response = client.post(
        f"/projects/{proposal.pk}/sign-offs/{request.pk}/decide/",
        {"decision": "approve", "version": request.version, "note": ""},
        follow=True,
    )
    assert "Approved: the project is now Approved." in response.content.decode()
    proposal.refresh_from_db()
    assert proposal.stage == Stage.APPROVED
    page = response.content.decode()
    assert "approved the project" in page
    # The history tells the story in sentences, under its own filter.
    history = client.get(f"/projects/{proposal.pk}/?history=signoff").content.decode()
    assert f"{account_manager.get_full_name()} asked Client A to approve the project" in history
    assert f"{client_viewer_a.get_full_name()} approved the request" in history
    assert "moved the project from Proposed to Approved" not in history
    assert f"{client_viewer_a.get_full_name()} moved the project from Proposed to Approved" in page


def test_decline_without_a_reason_is_a_form_error(client, account_manager, client_viewer_a, proposal):
    client.force_login(account_manager)
    client.post(f"/projects/{proposal.pk}/stage/", {"to_stage": "approved", "version": proposal.version})
    request = SignOff.objects.get(project=proposal)
    client.force_login(client_viewer_a)
    url = f"/projects/{proposal.pk}/sign-offs/{request.pk}/decide/"
    response = client.post(url, {"decision": "decline", "version": request.version, "note": " "})
    assert response.status_code == 422
    assert "Say why it is declined" in response.content.decode()
    request.refresh_from_db()
    assert request.status == "pending"
    response = client.post(
        url, {"decision": "decline", "version": request.version, "note": "Not this year"}, follow=True
    )
    assert "Declined; the provider sees your reason." in response.content.decode()
    client.force_login(account_manager)
    page = _page(client, proposal)
    assert "declined the approval: “Not this year”" in page
    assert "Request client approval…" in page  # may ask again


def test_only_the_client_decides_and_only_the_provider_withdraws(
    client, account_manager, client_viewer_a, proposal
):
    client.force_login(account_manager)
    client.post(f"/projects/{proposal.pk}/stage/", {"to_stage": "approved", "version": proposal.version})
    request = SignOff.objects.get(project=proposal)
    decide = f"/projects/{proposal.pk}/sign-offs/{request.pk}/decide/"
    assert client.post(decide, {"decision": "approve", "version": 1}).status_code == 403
    client.force_login(client_viewer_a)
    assert (
        client.post(f"/projects/{proposal.pk}/sign-offs/{request.pk}/withdraw/", {"version": 1}).status_code
        == 403
    )
    client.force_login(account_manager)
    response = client.post(
        f"/projects/{proposal.pk}/sign-offs/{request.pk}/withdraw/", {"version": 1}, follow=True
    )
    assert "Request withdrawn." in response.content.decode()
    request.refresh_from_db()
    assert request.status == "withdrawn"


def test_delivery_files_the_benefit_for_confirmation(client, account_manager, client_viewer_a, signed_off):
    running = ProjectFactory(relationship=signed_off["rel_a"], stage=Stage.IN_PROGRESS)
    client.force_login(account_manager)
    dialog = client.get(f"/projects/{running.pk}/stage/?to=delivered").content.decode()
    assert "Client A confirms it; it is recorded when they approve." in dialog
    response = client.post(
        f"/projects/{running.pk}/stage/",
        {
            "to_stage": "delivered",
            "version": running.version,
            "delivered_on": dt.date.today().isoformat(),
            "realised_annual_benefit": "42000",
            "outcome": "Invoices in two days",
        },
        follow=True,
    )
    page = response.content.decode()
    assert "Moved to Delivered. Client A is asked to confirm the realised benefit of 42,000 USD." in page
    assert "a new figure awaits Client A’s confirmation" in page
    running.refresh_from_db()
    assert running.realised_annual_benefit is None
    request = SignOff.objects.get(project=running)
    client.force_login(client_viewer_a)
    response = client.post(
        f"/projects/{running.pk}/sign-offs/{request.pk}/decide/",
        {"decision": "approve", "version": request.version},
        follow=True,
    )
    assert "Confirmed: the realised benefit is 42,000 USD." in response.content.decode()
    running.refresh_from_db()
    assert running.realised_annual_benefit == Decimal("42000")


def test_benefit_request_form_on_a_delivered_project(client, account_manager, signed_off):
    project = ProjectFactory(
        relationship=signed_off["rel_a"], stage=Stage.DELIVERED, delivered_on=dt.date(2025, 1, 10)
    )
    client.force_login(account_manager)
    assert "Ask Client A to confirm the realised benefit" in _page(client, project)
    url = f"/projects/{project.pk}/sign-offs/benefit/"
    response = client.post(url, {"version": project.version, "realised_annual_benefit": "-5"})
    assert response.status_code == 422
    assert not SignOff.objects.exists()
    response = client.post(
        url, {"version": project.version, "realised_annual_benefit": "1500.50"}, follow=True
    )
    assert "Asked Client A to confirm 1,500.50 USD." in response.content.decode()


def test_admin_switches_sign_off_and_managers_cannot(
    client, admin_user, account_manager, portfolio, client_viewer_a
):
    relationship = portfolio["rel_a"]
    url = f"/relationships/{relationship.pk}/sign-off/"
    client.force_login(account_manager)
    assert "Not required" in client.get(f"/relationships/{relationship.pk}/").content.decode()
    assert (
        client.post(url, {"version": relationship.version, "client_signoff_required": "on"}).status_code
        == 403
    )
    client.force_login(admin_user)
    response = client.post(
        url, {"version": relationship.version, "client_signoff_required": "on"}, follow=True
    )
    page = response.content.decode()
    assert "Client A now signs off approvals and realised benefits." in page
    assert "can sign off" in page
    relationship.refresh_from_db()
    assert relationship.client_signoff_required
    # A stale version changes nothing.
    response = client.post(url, {"version": 1}, follow=True)
    assert "Nothing changed." in response.content.decode()
    relationship.refresh_from_db()
    assert relationship.client_signoff_required
