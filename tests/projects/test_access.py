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


# --- People on both sides -----------------------------------------------------------------------


@pytest.fixture
def people(portfolio, account_manager, client_viewer_a):
    """One person of each kind around the two relationships (A: client A, B: client B; one provider)."""
    provider, client_a, client_b = portfolio["provider"], portfolio["client_a"], portfolio["client_b"]
    return {
        "admin": UserFactory(role=Role.ADMIN),
        "portfolio_executive": UserFactory(role=Role.EXECUTIVE),
        "client_a_executive": UserFactory(role=Role.EXECUTIVE, organization=client_a),
        "provider_executive": UserFactory(role=Role.EXECUTIVE, organization=provider),
        "account_manager": account_manager,  # assigned to A, no organisation
        "provider_manager_unassigned": UserFactory(role=Role.ACCOUNT_MANAGER, organization=provider),
        "client_a_contributor": UserFactory(role=Role.CONTRIBUTOR, organization=client_a),
        "client_b_contributor": UserFactory(role=Role.CONTRIBUTOR, organization=client_b),
        "provider_contributor": UserFactory(role=Role.CONTRIBUTOR, organization=provider),
        "client_a_viewer": client_viewer_a,
        "contributor_without_organisation": UserFactory(role=Role.CONTRIBUTOR),
        "inactive_client_a_contributor": UserFactory(
            role=Role.CONTRIBUTOR, organization=client_a, is_active=False
        ),
        "no_role_at_client_a": UserFactory(organization=client_a),
    }


def test_contributor_sees_what_their_organisation_is_part_of_and_writes_nothing(people, portfolio, rows):
    client_side = people["client_a_contributor"]
    assert visible_ids(client_side, Relationship) == {portfolio["rel_a"].pk}
    assert visible_ids(client_side, InnovationProject) == {rows["rel_a"]["project"].pk}
    assert visible_ids(client_side, Measurement) == {rows["rel_a"]["measurement"].pk}
    assert portfolio["client_b"].pk not in visible_ids(client_side, Organization)
    provider_side = people["provider_contributor"]
    assert visible_ids(provider_side, Relationship) == {portfolio["rel_a"].pk, portfolio["rel_b"].pk}
    for contributor in (client_side, provider_side):
        assert not access.can_write_relationship(contributor, portfolio["rel_a"])
        assert not access.can_edit_projects(contributor)
        assert not access.writable_relationships(contributor).exists()
    assert visible_ids(people["contributor_without_organisation"], Relationship) == set()


def test_an_executive_of_an_organisation_sees_only_its_relationships(people, portfolio, rows):
    assert visible_ids(people["client_a_executive"], Relationship) == {portfolio["rel_a"].pk}
    assert visible_ids(people["client_a_executive"], InnovationProject) == {rows["rel_a"]["project"].pk}
    assert portfolio["client_b"].pk not in visible_ids(people["client_a_executive"], Organization)
    assert not access.sees_everything(people["client_a_executive"])
    # An executive of no organisation keeps the whole portfolio.
    assert access.sees_everything(people["portfolio_executive"])
    assert visible_ids(people["portfolio_executive"], Relationship) == {
        portfolio["rel_a"].pk,
        portfolio["rel_b"].pk,
    }


def test_each_person_sits_on_the_side_of_their_organisation(people, portfolio):
    rel_a, rel_b = portfolio["rel_a"], portfolio["rel_b"]
    expected = {
        "admin": (None, None),
        "portfolio_executive": (None, None),
        "client_a_executive": ("client", None),
        "provider_executive": ("provider", "provider"),
        "account_manager": ("provider", None),
        "provider_manager_unassigned": (None, None),
        "client_a_contributor": ("client", None),
        "client_b_contributor": (None, "client"),
        "provider_contributor": ("provider", "provider"),
        "client_a_viewer": ("client", None),
        "contributor_without_organisation": (None, None),
        "inactive_client_a_contributor": (None, None),
        "no_role_at_client_a": (None, None),
    }
    actual = {
        name: (access.side_of(fresh(user), rel_a), access.side_of(fresh(user), rel_b))
        for name, user in people.items()
    }
    assert actual == expected


def test_people_of_a_side_are_exactly_those_the_scoping_rule_seats_there(people, portfolio):
    everyone = [fresh(user) for user in type(people["admin"]).objects.all()]
    for relationship in (portfolio["rel_a"], portfolio["rel_b"]):
        for side in ("client", "provider"):
            listed = set(access.people_of(relationship, side).values_list("pk", flat=True))
            seated = {
                user.pk
                for user in everyone
                if relationship in access.visible_relationships(user)
                and access.side_of(user, relationship) == side
            }
            assert listed == seated, (relationship, side)
    assert set(access.people_of(portfolio["rel_a"], "client")) == {
        people["client_a_executive"],
        people["client_a_contributor"],
        people["client_a_viewer"],
    }
    assert set(access.people_of(portfolio["rel_a"], "provider")) == {
        people["provider_executive"],
        people["account_manager"],
        people["provider_contributor"],
    }


def test_people_of_a_side_cost_a_fixed_number_of_queries(people, portfolio, django_assert_max_num_queries):
    for _ in range(10):
        UserFactory(role=Role.CONTRIBUTOR, organization=portfolio["client_a"])
    with django_assert_max_num_queries(5):
        assert len(list(access.people_of(portfolio["rel_a"], "client"))) == 13


def fresh(user):
    """The user as a new request would load it (no cached role or organisation)."""
    return type(user).objects.get(pk=user.pk)
