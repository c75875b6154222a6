"""Scoping: each role sees exactly what DESIGN.md says, through the one scoping function."""

import pytest

from kpis.models import Measurement, ProjectKPI, RelationshipScore
from projects import access, selectors
from projects.access import Role
from projects.models import InnovationProject, Organization, Relationship
from tests.factories import ClientFactory, MeasurementFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def rows(portfolio):
    """A project, tracked KPI and measurement in each of the two relationships."""
    result = {}
    for key in ("rel_a", "rel_b"):
        project = ProjectFactory(relationship=portfolio[key])
        measurement = MeasurementFactory(project_kpi__project=project)
        result[key] = {"project": project, "measurement": measurement, "project_kpi": measurement.project_kpi}
    return result


def visible_ids(user, model):
    return set(access.scope(user, model.objects.all()).values_list("pk", flat=True))


@pytest.mark.parametrize("role", [Role.ADMIN, Role.EXECUTIVE])
def test_admins_and_executives_see_everything(role, portfolio, rows):
    user = UserFactory(role=role)
    assert visible_ids(user, Relationship) == {portfolio["rel_a"].pk, portfolio["rel_b"].pk}
    assert visible_ids(user, InnovationProject) == {rows["rel_a"]["project"].pk, rows["rel_b"]["project"].pk}
    assert visible_ids(user, Organization) == set(Organization.objects.values_list("pk", flat=True))


def test_account_manager_sees_only_assigned_relationships(account_manager, portfolio, rows):
    assert visible_ids(account_manager, Relationship) == {portfolio["rel_a"].pk}
    assert visible_ids(account_manager, InnovationProject) == {rows["rel_a"]["project"].pk}
    assert visible_ids(account_manager, ProjectKPI) == {rows["rel_a"]["project_kpi"].pk}
    assert visible_ids(account_manager, Measurement) == {rows["rel_a"]["measurement"].pk}
    assert portfolio["client_b"].pk not in visible_ids(account_manager, Organization)


def test_unassigned_account_manager_sees_nothing(other_account_manager, portfolio, rows):
    for model in (Relationship, InnovationProject, ProjectKPI, Measurement, Organization, RelationshipScore):
        assert visible_ids(other_account_manager, model) == set()


def test_client_viewer_never_sees_another_clients_data(client_viewer_a, portfolio, rows):
    assert visible_ids(client_viewer_a, Relationship) == {portfolio["rel_a"].pk}
    assert visible_ids(client_viewer_a, InnovationProject) == {rows["rel_a"]["project"].pk}
    assert visible_ids(client_viewer_a, Measurement) == {rows["rel_a"]["measurement"].pk}
    organizations = visible_ids(client_viewer_a, Organization)
    assert portfolio["client_b"].pk not in organizations
    assert {portfolio["client_a"].pk, portfolio["provider"].pk} <= organizations


def test_provider_side_viewer_sees_all_relationships_of_their_provider(portfolio, rows):
    viewer = UserFactory(role=Role.CLIENT_VIEWER, organization=portfolio["provider"])
    assert visible_ids(viewer, Relationship) == {portfolio["rel_a"].pk, portfolio["rel_b"].pk}


def test_client_viewer_without_organisation_sees_nothing(portfolio, rows):
    viewer = UserFactory(role=Role.CLIENT_VIEWER)
    assert visible_ids(viewer, Relationship) == set()
    assert visible_ids(viewer, Organization) == set()


def test_user_without_role_sees_nothing(portfolio, rows):
    nobody = UserFactory()
    assert visible_ids(nobody, InnovationProject) == set()


def test_selectors_hide_deleted_projects(account_manager, portfolio, rows):
    from projects.services import project_delete

    project_delete(actor=None, project=rows["rel_a"]["project"])
    assert list(selectors.project_list(user=account_manager)) == []
    assert [p.pk for p in selectors.project_list(user=account_manager, include_deleted=True)] == [
        rows["rel_a"]["project"].pk
    ]


def test_inactive_user_sees_nothing(account_manager, portfolio, rows):
    account_manager.is_active = False
    account_manager.save()
    fresh = type(account_manager).objects.get(pk=account_manager.pk)
    assert visible_ids(fresh, Relationship) == set()


def test_role_precedence_takes_broadest_group(portfolio):
    user = UserFactory(role=Role.CLIENT_VIEWER, organization=ClientFactory())
    from django.contrib.auth.models import Group

    user.groups.add(Group.objects.get(name="executive"))
    assert access.role_of(type(user).objects.get(pk=user.pk)) == Role.EXECUTIVE
