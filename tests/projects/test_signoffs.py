"""Client sign-off: with the setting on and someone at the client in the product, approving a
project and recording a delivered project's realised benefit wait for the client's approval."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from projects import access, services, signoffs
from projects.access import Role
from projects.models import AuditEntry, InnovationProject, SignOff
from projects.records import VersionConflict
from projects.signals import signoff_changed
from tests.factories import ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db

Stage = InnovationProject.Stage


@pytest.fixture
def signed_off(portfolio, client_viewer_a):
    """Relationship A requires the client's sign-off; Client A has a viewer in the product."""
    services.relationship_update(
        actor=None,
        relationship=portfolio["rel_a"],
        changes=services.RelationshipFields(client_signoff_required=True),
    )
    portfolio["rel_a"].refresh_from_db()
    return portfolio


@pytest.fixture
def proposal(signed_off):
    return ProjectFactory(relationship=signed_off["rel_a"], title="Parts forecasting", stage=Stage.PROPOSED)


@pytest.fixture
def delivered(signed_off):
    return ProjectFactory(
        relationship=signed_off["rel_a"],
        title="Invoice OCR",
        stage=Stage.DELIVERED,
        delivered_on=dt.date(2025, 3, 1),
        expected_annual_benefit=Decimal("100000"),
    )


def test_client_side_has_a_person_only_with_a_client_side_role_at_the_client(portfolio, account_manager):
    assert not access.client_side_has_person(portfolio["rel_a"])
    # A viewer of the provider organisation does not speak for the client.
    UserFactory(role=Role.CLIENT_VIEWER, organization=portfolio["provider"])
    assert not access.client_side_has_person(portfolio["rel_a"])
    inactive = UserFactory(role=Role.CLIENT_VIEWER, organization=portfolio["client_a"], is_active=False)
    assert not access.client_side_has_person(portfolio["rel_a"])
    inactive.is_active = True
    inactive.save()
    assert access.client_side_has_person(portfolio["rel_a"])
    assert not access.client_side_has_person(portfolio["rel_b"])


def test_without_the_setting_the_manager_approves_directly(portfolio, client_viewer_a, account_manager):
    project = ProjectFactory(relationship=portfolio["rel_a"], stage=Stage.PROPOSED)
    moved = services.project_transition(actor=account_manager, project=project, to_stage=Stage.APPROVED)
    assert moved.stage == Stage.APPROVED


def test_setting_without_a_client_person_changes_nothing(portfolio, account_manager):
    services.relationship_update(
        actor=None,
        relationship=portfolio["rel_a"],
        changes=services.RelationshipFields(client_signoff_required=True),
    )
    project = ProjectFactory(relationship=portfolio["rel_a"], stage=Stage.PROPOSED)
    assert not services.client_signoff_active(project.relationship)
    assert services.project_transition(actor=account_manager, project=project, to_stage="approved").stage == (
        Stage.APPROVED
    )
    with pytest.raises(ValidationError, match="no one at the client"):
        signoffs.signoff_request(actor=account_manager, project=project, kind="benefit")


def test_with_sign_off_a_direct_approval_or_benefit_is_refused(
    proposal, delivered, account_manager, admin_user
):
    for actor in (account_manager, admin_user):
        with pytest.raises(ValidationError) as refused:
            services.project_transition(actor=actor, project=proposal, to_stage=Stage.APPROVED)
        assert "Client A signs off approvals" in refused.value.message_dict["stage"][0]
    with pytest.raises(ValidationError) as refused:
        services.project_update(
            actor=account_manager,
            project=delivered,
            changes=services.ProjectFields(realised_annual_benefit=Decimal("90000")),
        )
    assert "confirms realised benefits" in refused.value.message_dict["realised_annual_benefit"][0]
    # Skipping past Approved is refused too, and a create cannot start beyond Proposed.
    idea = ProjectFactory(relationship=proposal.relationship, stage=Stage.IDEA)
    with pytest.raises(ValidationError):
        services.project_advance(actor=account_manager, project=idea, to_stage=Stage.DELIVERED)
    with pytest.raises(ValidationError) as refused:
        services.project_create(
            actor=account_manager,
            fields=services.ProjectFields(
                relationship=proposal.relationship, title="Late", stage="in_progress"
            ),
        )
    assert "stage" in refused.value.message_dict
    idea.refresh_from_db()
    assert (idea.stage, idea.version) == (Stage.IDEA, 1)
    # Other changes still go through.
    services.project_update(
        actor=account_manager, project=delivered, changes=services.ProjectFields(outcome="Faster invoices")
    )


def test_request_then_approve_moves_the_project_in_the_approvers_name(
    proposal, account_manager, client_viewer_a
):
    announced = []

    def receiver(**kwargs):
        announced.append((kwargs["action"], kwargs["signoff"].status))

    signoff_changed.connect(receiver)
    try:
        request = signoffs.signoff_request(
            actor=account_manager, project=proposal, kind="approval", note="Ready for your go-ahead"
        )
        assert request.status == SignOff.Status.PENDING and request.requested_by == account_manager
        assert list(signoffs.signoff_recipients(request)) == [client_viewer_a]
        assert list(signoffs.awaiting_decision(user=client_viewer_a)) == [request]
        assert list(signoffs.awaiting_client(user=account_manager)) == [request]
        approved = signoffs.signoff_approve(actor=client_viewer_a, signoff=request, note="Go")
    finally:
        signoff_changed.disconnect(receiver)
    assert announced == [("requested", "pending"), ("approved", "approved")]
    assert (approved.status, approved.decided_by, approved.decision_note) == (
        "approved",
        client_viewer_a,
        "Go",
    )
    assert approved.version == 2
    proposal.refresh_from_db()
    assert proposal.stage == Stage.APPROVED
    move = AuditEntry.objects.filter(object_id=proposal.pk, action="transition").get()
    assert move.actor == client_viewer_a
    assert move.changes["stage"] == {"before": "proposed", "after": "approved"}
    assert (
        AuditEntry.objects.filter(object_id=approved.pk, object_repr__startswith="Client sign-off").count()
        == 2
    )
    assert list(signoffs.signoff_recipients(approved)) == [account_manager]


def test_an_idea_is_proposed_on_the_given_date_and_then_waits(signed_off, account_manager):
    idea = ProjectFactory(relationship=signed_off["rel_a"], stage=Stage.IDEA)
    day = dt.date(2025, 2, 3)
    request = signoffs.signoff_request(actor=account_manager, project=idea, kind="approval", proposed_on=day)
    idea.refresh_from_db()
    assert (idea.stage, idea.proposed_on, request.status) == (Stage.PROPOSED, day, "pending")


def test_decline_needs_a_reason_and_keeps_the_project(proposal, account_manager, client_viewer_a):
    request = signoffs.signoff_request(actor=account_manager, project=proposal, kind="approval")
    with pytest.raises(ValidationError, match="Say why"):
        signoffs.signoff_decline(actor=client_viewer_a, signoff=request, reason="  ")
    declined = signoffs.signoff_decline(
        actor=client_viewer_a, signoff=request, reason="Budget frozen until Q3"
    )
    assert (declined.status, declined.decision_note) == ("declined", "Budget frozen until Q3")
    proposal.refresh_from_db()
    assert proposal.stage == Stage.PROPOSED
    with pytest.raises(ValidationError, match="already closed"):
        signoffs.signoff_approve(actor=client_viewer_a, signoff=declined)
    # A new request may follow a declined one.
    assert (
        signoffs.signoff_request(actor=account_manager, project=proposal, kind="approval").status == "pending"
    )


def test_only_the_clients_people_decide(proposal, account_manager, admin_user, portfolio):
    request = signoffs.signoff_request(actor=account_manager, project=proposal, kind="approval")
    provider_viewer = UserFactory(role=Role.CLIENT_VIEWER, organization=portfolio["provider"])
    other_client = UserFactory(role=Role.CLIENT_VIEWER, organization=portfolio["client_b"])
    for actor in (account_manager, admin_user, provider_viewer, other_client):
        with pytest.raises(PermissionDenied):
            signoffs.signoff_approve(actor=actor, signoff=request)
        with pytest.raises(PermissionDenied):
            signoffs.signoff_decline(actor=actor, signoff=request, reason="no")
    request.refresh_from_db()
    assert request.status == "pending"


def test_client_viewers_still_cannot_write_projects(proposal, client_viewer_a):
    with pytest.raises(PermissionDenied):
        services.project_update(
            actor=client_viewer_a, project=proposal, changes=services.ProjectFields(title="Mine now")
        )
    with pytest.raises(PermissionDenied):
        signoffs.signoff_request(actor=client_viewer_a, project=proposal, kind="approval")


def test_benefit_confirmation_records_the_amount_when_approved(delivered, account_manager, client_viewer_a):
    with pytest.raises(ValidationError, match="Give the realised"):
        signoffs.signoff_request(actor=account_manager, project=delivered, kind="benefit")
    request = signoffs.signoff_request(
        actor=account_manager, project=delivered, kind="benefit", realised_annual_benefit=Decimal("87500")
    )
    with pytest.raises(ValidationError, match="already has this request"):
        signoffs.signoff_request(
            actor=account_manager, project=delivered, kind="benefit", realised_annual_benefit=Decimal("1")
        )
    delivered.refresh_from_db()
    assert delivered.realised_annual_benefit is None  # not counted until the client confirms
    signoffs.signoff_approve(actor=client_viewer_a, signoff=request)
    delivered.refresh_from_db()
    assert delivered.realised_annual_benefit == Decimal("87500")
    entry = AuditEntry.objects.filter(object_id=delivered.pk, action="update").latest("at")
    assert entry.actor == client_viewer_a


def test_wrong_stage_for_a_request_is_refused(proposal, account_manager):
    with pytest.raises(ValidationError, match="needs it delivered"):
        signoffs.signoff_request(
            actor=account_manager, project=proposal, kind="benefit", realised_annual_benefit=Decimal("5")
        )


def test_withdraw_and_cancelling_close_pending_requests(proposal, account_manager, client_viewer_a):
    request = signoffs.signoff_request(actor=account_manager, project=proposal, kind="approval")
    withdrawn = signoffs.signoff_withdraw(actor=account_manager, signoff=request)
    assert withdrawn.status == "withdrawn" and withdrawn.decided_by == account_manager
    with pytest.raises(PermissionDenied):
        signoffs.signoff_withdraw(actor=client_viewer_a, signoff=withdrawn)
    again = signoffs.signoff_request(actor=account_manager, project=proposal, kind="approval")
    services.project_advance(
        actor=account_manager,
        project=proposal,
        to_stage=Stage.CANCELLED,
        cancellation_reason="Merged elsewhere",
    )
    again.refresh_from_db()
    assert again.status == "withdrawn"
    assert again.decision_note == "The project moved to Cancelled without it."
    assert list(signoffs.awaiting_decision(user=client_viewer_a)) == []


def test_a_stale_version_is_a_conflict(proposal, account_manager, client_viewer_a):
    request = signoffs.signoff_request(actor=account_manager, project=proposal, kind="approval")
    with pytest.raises(VersionConflict):
        signoffs.signoff_approve(actor=client_viewer_a, signoff=request, expected_version=7)


def test_stage_dialog_move_turns_into_requests(signed_off, account_manager):
    project = ProjectFactory(relationship=signed_off["rel_a"], stage=Stage.PROPOSED)
    assert signoffs.reachable_stages(project, signoff_active=True) == (Stage.APPROVED, Stage.CANCELLED)
    moved, request = signoffs.project_move(
        actor=account_manager, project=project, to_stage=Stage.APPROVED, note="Please approve"
    )
    assert (moved.stage, request.kind, request.request_note) == (Stage.PROPOSED, "approval", "Please approve")

    running = ProjectFactory(relationship=signed_off["rel_a"], stage=Stage.IN_PROGRESS)
    moved, request = signoffs.project_move(
        actor=account_manager,
        project=running,
        to_stage=Stage.DELIVERED,
        realised_annual_benefit=Decimal("42000"),
        outcome="Done",
    )
    assert (moved.stage, moved.outcome, moved.realised_annual_benefit) == (Stage.DELIVERED, "Done", None)
    assert (request.kind, request.realised_annual_benefit) == ("benefit", Decimal("42000"))


def test_relationship_setting_is_for_admins_only(portfolio, account_manager, admin_user):
    with pytest.raises(ValidationError) as refused:
        services.relationship_update(
            actor=account_manager,
            relationship=portfolio["rel_a"],
            changes=services.RelationshipFields(client_signoff_required=True),
        )
    assert refused.value.message_dict == {"client_signoff_required": ["Only an admin may change this."]}
    updated = services.relationship_update(
        actor=admin_user,
        relationship=portfolio["rel_a"],
        changes=services.RelationshipFields(client_signoff_required=True),
    )
    assert updated.client_signoff_required
