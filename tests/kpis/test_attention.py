"""What needs an account manager's attention: stuck, unmeasured, benefit missing, sign-offs."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from kpis import attention
from projects import services, signoffs
from projects.models import AuditEntry, InnovationProject
from tests.factories import MeasurementFactory, ProjectFactory, ProjectKPIFactory

pytestmark = pytest.mark.django_db

Stage = InnovationProject.Stage
TODAY = dt.date(2026, 6, 15)


def test_my_projects_are_owned_or_in_managed_relationships(portfolio, account_manager, admin_user):
    managed = ProjectFactory(relationship=portfolio["rel_a"], title="managed")
    owned_elsewhere = ProjectFactory(relationship=portfolio["rel_b"], title="owned", owner=admin_user)
    ProjectFactory(relationship=portfolio["rel_b"], title="neither")
    assert set(attention.my_projects(user=account_manager)) == {managed}
    # An admin sees everything, but "my" projects are the ones they own.
    assert set(attention.my_projects(user=admin_user)) == {owned_elsewhere}


def test_stuck_counts_from_the_stage_date_or_the_last_move(portfolio, account_manager):
    relationship = portfolio["rel_a"]
    proposed_long_ago = ProjectFactory(
        relationship=relationship, stage=Stage.PROPOSED, proposed_on=TODAY - dt.timedelta(days=61)
    )
    ProjectFactory(relationship=relationship, stage=Stage.PROPOSED, proposed_on=TODAY - dt.timedelta(days=59))
    running = ProjectFactory(
        relationship=relationship,
        stage=Stage.IN_PROGRESS,
        proposed_on=TODAY - dt.timedelta(days=400),
        started_on=TODAY - dt.timedelta(days=181),
    )
    # Approval has no date of its own: the day of the move counts.
    approved = ProjectFactory(
        relationship=relationship, stage=Stage.PROPOSED, proposed_on=TODAY - dt.timedelta(days=5)
    )
    services.project_transition(actor=None, project=approved, to_stage=Stage.APPROVED)
    AuditEntry.objects.filter(object_id=approved.pk, action="transition").update(
        at=timezone.make_aware(dt.datetime.combine(TODAY - dt.timedelta(days=46), dt.time(12)))
    )
    fresh_approval = ProjectFactory(
        relationship=relationship, stage=Stage.PROPOSED, proposed_on=TODAY - dt.timedelta(days=5)
    )
    services.project_transition(actor=None, project=fresh_approval, to_stage=Stage.APPROVED)
    stuck = list(attention.stuck_projects(user=account_manager, today=TODAY))
    assert stuck == [running, proposed_long_ago, approved]  # longest in their stage first
    assert stuck[0].in_stage_since == TODAY - dt.timedelta(days=181)


def test_delivered_without_measurements_and_benefit_missing(portfolio, account_manager):
    relationship = portfolio["rel_a"]
    measured = ProjectFactory(
        relationship=relationship, stage=Stage.DELIVERED, delivered_on=dt.date(2025, 1, 10)
    )
    MeasurementFactory(project_kpi=ProjectKPIFactory(project=measured), measured_on=dt.date(2025, 2, 1))
    tracked_unmeasured = ProjectFactory(
        relationship=relationship, stage=Stage.DELIVERED, delivered_on=dt.date(2025, 1, 11)
    )
    ProjectKPIFactory(project=tracked_unmeasured)
    assert list(attention.delivered_without_measurements(user=account_manager)) == [tracked_unmeasured]

    def delivered(on, **fields):
        return ProjectFactory(relationship=relationship, stage=Stage.DELIVERED, delivered_on=on, **fields)

    # Grace: for June 2026 a delivery after 31 Dec 2025 is still in its grace period.
    missing = delivered(dt.date(2025, 12, 31), expected_annual_benefit=Decimal("1000"))
    delivered(dt.date(2026, 1, 1), expected_annual_benefit=Decimal("1000"))  # in grace
    delivered(
        dt.date(2025, 6, 1), expected_annual_benefit=Decimal("1000"), realised_annual_benefit=Decimal("0")
    )
    delivered(dt.date(2025, 6, 1))  # expects nothing
    assert list(attention.realised_benefit_missing(user=account_manager, today=TODAY)) == [missing]


def test_sign_offs_waiting_and_declined(portfolio, account_manager, client_viewer_a):
    services.relationship_update(
        actor=None,
        relationship=portfolio["rel_a"],
        changes=services.RelationshipFields(client_signoff_required=True),
    )
    first = ProjectFactory(relationship=portfolio["rel_a"], stage=Stage.PROPOSED)
    second = ProjectFactory(relationship=portfolio["rel_a"], stage=Stage.PROPOSED)
    waiting = signoffs.signoff_request(actor=account_manager, project=first, kind="approval")
    declined = signoffs.signoff_request(actor=account_manager, project=second, kind="approval")
    signoffs.signoff_decline(actor=client_viewer_a, signoff=declined, reason="Not now")
    assert list(attention.signoffs_waiting_for_client(user=account_manager)) == [waiting]
    assert [s.pk for s in attention.signoffs_declined_recently(user=account_manager)] == [declined.pk]
    later = timezone.now() + dt.timedelta(days=attention.DECLINED_SHOWN_DAYS + 1)
    assert list(attention.signoffs_declined_recently(user=account_manager, now=later)) == []
