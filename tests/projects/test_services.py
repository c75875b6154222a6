"""Project, relationship and organisation services: stage machine, versions, audit, validation."""

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from projects import services
from projects.models import AuditEntry, InnovationProject
from projects.records import VersionConflict
from tests.factories import ClientFactory, ProjectFactory, ProviderFactory, RelationshipFactory

pytestmark = pytest.mark.django_db

Stage = InnovationProject.Stage
ALLOWED = {
    ("idea", "proposed"),
    ("proposed", "approved"),
    ("approved", "in_progress"),
    ("in_progress", "delivered"),
    ("idea", "cancelled"),
    ("proposed", "cancelled"),
    ("approved", "cancelled"),
    ("in_progress", "cancelled"),
}
ALL_PAIRS = [(a, b) for a, b in itertools.product(Stage.values, Stage.values) if a != b]


def project_in_stage(stage: str) -> InnovationProject:
    """A project brought to `stage` through allowed transitions only."""
    project = ProjectFactory()
    path = {
        "idea": [],
        "proposed": ["proposed"],
        "approved": ["proposed", "approved"],
        "in_progress": ["proposed", "approved", "in_progress"],
        "delivered": ["proposed", "approved", "in_progress", "delivered"],
        "cancelled": ["cancelled"],
    }[stage]
    for step in path:
        project = services.project_transition(actor=None, project=project, to_stage=step)
    assert project.stage == stage
    return project


def audit_entries(obj):
    return AuditEntry.objects.filter(object_id=obj.pk, content_type__model=obj._meta.model_name)


@pytest.mark.parametrize("current,target", sorted(ALLOWED))
def test_allowed_transition_moves_stage_and_audits(current, target):
    project = project_in_stage(current)
    version = project.version
    moved = services.project_transition(actor=None, project=project, to_stage=target)
    assert moved.stage == target
    assert moved.version == version + 1
    entry = audit_entries(project).first()
    assert entry.action == AuditEntry.Action.TRANSITION
    assert entry.changes["stage"] == {"before": current, "after": target}


@pytest.mark.parametrize("current,target", [pair for pair in ALL_PAIRS if pair not in ALLOWED])
def test_forbidden_transition_is_refused_and_writes_nothing(current, target):
    project = project_in_stage(current)
    entries_before = audit_entries(project).count()
    with pytest.raises(ValidationError) as refused:
        services.project_transition(actor=None, project=project, to_stage=target)
    assert "stage" in refused.value.message_dict
    project.refresh_from_db()
    assert project.stage == current
    assert audit_entries(project).count() == entries_before


def test_forbidden_transition_through_update_is_refused():
    project = ProjectFactory()
    with pytest.raises(ValidationError):
        services.project_update(
            actor=None, project=project, changes=services.ProjectFields(stage="delivered", title="Jump")
        )
    project.refresh_from_db()
    assert (project.stage, project.title) == ("idea", project.title)


def test_delivery_fills_dates_a_stage_implies():
    project = project_in_stage("in_progress")
    delivered = services.project_transition(
        actor=None, project=project, to_stage="delivered", on=dt.date.today()
    )
    assert delivered.delivered_on == dt.date.today()
    assert delivered.started_on is not None and delivered.proposed_on is not None


def test_delivered_before_started_is_a_field_error():
    project = project_in_stage("in_progress")
    with pytest.raises(ValidationError) as refused:
        services.project_transition(
            actor=None, project=project, to_stage="delivered", on=project.started_on - dt.timedelta(days=1)
        )
    assert "A project cannot be delivered before it was started (" in str(refused.value)


def test_create_delivered_project_requires_delivered_date():
    with pytest.raises(ValidationError) as refused:
        ProjectFactory(stage="delivered")
    assert "delivered_on" in refused.value.message_dict


def test_update_bumps_version_and_records_before_and_after():
    project = ProjectFactory(title="Before", investment=Decimal("100"))
    assert project.version == 1
    updated = services.project_update(
        actor=None, project=project, changes=services.ProjectFields(title="After", investment=Decimal("250"))
    )
    assert updated.version == 2
    entry = audit_entries(project).first()
    assert entry.action == AuditEntry.Action.UPDATE
    assert entry.changes["title"] == {"before": "Before", "after": "After"}
    assert entry.changes["investment"] == {"before": "100.00", "after": "250.00"}
    assert entry.version == 2


def test_update_without_change_is_a_no_op():
    project = ProjectFactory(title="Same")
    entries = audit_entries(project).count()
    unchanged = services.project_update(
        actor=None, project=project, changes=services.ProjectFields(title="Same")
    )
    assert unchanged.version == 1
    assert audit_entries(project).count() == entries


def test_create_writes_audit_entry_with_actor(admin_user):
    relationship = RelationshipFactory()
    project = services.project_create(
        actor=admin_user, fields=services.ProjectFields(relationship=relationship, title="New")
    )
    entry = audit_entries(project).get()
    assert entry.action == AuditEntry.Action.CREATE
    assert entry.actor == admin_user
    assert entry.changes["title"] == {"before": None, "after": "New"}


def test_stale_expected_version_conflicts_and_changes_nothing():
    project = ProjectFactory(title="One")
    services.project_update(actor=None, project=project, changes=services.ProjectFields(title="Two"))
    with pytest.raises(VersionConflict) as conflict:
        services.project_update(
            actor=None, project=project, changes=services.ProjectFields(title="Three"), expected_version=1
        )
    assert conflict.value.current.version == 2
    project.refresh_from_db()
    assert project.title == "Two"


def test_invalid_update_rolls_back_everything():
    project = ProjectFactory(title="Valid")
    with pytest.raises(ValidationError):
        services.project_update(
            actor=None,
            project=project,
            changes=services.ProjectFields(title="Changed", investment=Decimal("-5")),
        )
    project.refresh_from_db()
    assert (project.title, project.version) == ("Valid", 1)


def test_soft_delete_keeps_tombstone_and_bumps_version():
    project = ProjectFactory()
    deleted = services.project_delete(actor=None, project=project)
    assert deleted.deleted_at is not None and deleted.version == 2
    assert InnovationProject.objects.filter(pk=project.pk).exists()
    assert audit_entries(project).first().action == AuditEntry.Action.DELETE


@pytest.mark.django_db(transaction=True)
def test_change_stamp_increases_with_each_write():
    # Real transactions: on PostgreSQL the stamp is the writing transaction's id.
    project = ProjectFactory()
    first = project.change_stamp
    updated = services.project_update(
        actor=None, project=project, changes=services.ProjectFields(title="Later")
    )
    assert updated.change_stamp > first


def test_account_manager_cannot_write_unassigned_relationship(account_manager, portfolio):
    with pytest.raises(PermissionDenied):
        services.project_create(
            actor=account_manager,
            fields=services.ProjectFields(relationship=portfolio["rel_b"], title="Sneaky"),
        )
    project = services.project_create(
        actor=account_manager, fields=services.ProjectFields(relationship=portfolio["rel_a"], title="Ok")
    )
    with pytest.raises(ValidationError) as refused:
        services.project_update(
            actor=account_manager,
            project=project,
            changes=services.ProjectFields(relationship=portfolio["rel_b"]),
        )
    assert "relationship" in refused.value.message_dict


def test_project_never_moves_to_another_relationship(portfolio):
    project = ProjectFactory(relationship=portfolio["rel_a"])
    with pytest.raises(ValidationError) as refused:
        services.project_update(
            actor=None, project=project, changes=services.ProjectFields(relationship=portfolio["rel_b"])
        )
    assert "cannot move" in refused.value.message_dict["relationship"][0]
    project.refresh_from_db()
    assert (project.relationship_id, project.version) == (portfolio["rel_a"].pk, 1)


@pytest.mark.parametrize("field", ["proposed_on", "started_on"])
def test_implausible_year_is_a_field_error(field):
    project = ProjectFactory()
    with pytest.raises(ValidationError) as refused:
        services.project_update(
            actor=None, project=project, changes=services.ProjectFields.of({field: dt.date(0o1, 1, 1)})
        )
    assert refused.value.message_dict[field] == ["Enter a date between 1950 and 2100."]


def test_delivery_cannot_be_dated_in_the_future():
    project = project_in_stage("in_progress")
    with pytest.raises(ValidationError) as refused:
        services.project_transition(
            actor=None, project=project, to_stage="delivered", on=dt.date.today() + dt.timedelta(days=1)
        )
    assert "delivered_on" in refused.value.message_dict


def test_executive_cannot_write(executive, portfolio):
    with pytest.raises(PermissionDenied):
        services.project_create(
            actor=executive, fields=services.ProjectFields(relationship=portfolio["rel_a"], title="No")
        )


def test_relationship_parties_must_have_matching_kinds():
    with pytest.raises(ValidationError) as refused:
        services.relationship_create(
            actor=None,
            fields=services.RelationshipFields(
                name="Swapped",
                client=ProviderFactory(),
                provider=ClientFactory(),
                contract_start=dt.date(2024, 1, 1),
            ),
        )
    assert set(refused.value.message_dict) == {"client", "provider"}


def test_account_manager_may_edit_but_not_reassign_relationship(account_manager, portfolio):
    relationship = portfolio["rel_a"]
    services.relationship_update(
        actor=account_manager,
        relationship=relationship,
        changes=services.RelationshipFields(status="renewing"),
    )
    with pytest.raises(ValidationError):
        services.relationship_update(
            actor=account_manager,
            relationship=relationship,
            changes=services.RelationshipFields(account_managers=[]),
        )


def test_leadership_handover_closes_previous_pair():
    relationship = RelationshipFactory()
    services.relationship_set_leadership(
        actor=None,
        relationship=relationship,
        client_leader="A",
        provider_leader="B",
        started_on=dt.date(2024, 1, 1),
    )
    services.relationship_set_leadership(
        actor=None,
        relationship=relationship,
        client_leader="C",
        provider_leader="D",
        started_on=dt.date(2025, 3, 1),
    )
    pairs = list(relationship.leadership_pairs.order_by("started_on"))
    assert pairs[0].ended_on == dt.date(2025, 2, 28) and pairs[1].ended_on is None
    relationship.refresh_from_db()
    assert relationship.version == 3


def test_relationship_delete_cascades_to_projects():
    project = ProjectFactory()
    services.relationship_delete(actor=None, relationship=project.relationship)
    project.refresh_from_db()
    assert project.deleted_at is not None


def test_organization_in_use_cannot_be_deleted():
    relationship = RelationshipFactory()
    with pytest.raises(ValidationError):
        services.organization_delete(actor=None, organization=relationship.client)


def test_dates_in_the_future_are_refused_by_the_services_not_only_the_forms():
    project = ProjectFactory(stage="in_progress", proposed_on=dt.date(2024, 1, 2))
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    with pytest.raises(ValidationError) as refused:
        services.project_transition(actor=None, project=project, to_stage="delivered", on=tomorrow)
    assert refused.value.message_dict == {"delivered_on": ["A stage change cannot be dated in the future."]}
    with pytest.raises(ValidationError) as refused:
        services.relationship_set_leadership(
            actor=None,
            relationship=project.relationship,
            client_leader="A",
            provider_leader="B",
            started_on=tomorrow,
        )
    assert list(refused.value.message_dict) == ["started_on"]
    project.refresh_from_db()
    assert project.stage == "in_progress"
    assert not project.relationship.leadership_pairs.exists()
