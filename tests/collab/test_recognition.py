"""Recognition: people of both sides named on a project, with their organisation; who contributed to
innovations delivered in the last 12 months (projects, levels, realised benefit); a person's page."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from collab import selectors
from collab.models import ProjectContributor
from collab.services import ContributorFields, contributor_add, contributor_remove, contributor_update
from projects.services import project_delete
from tests.factories import ProjectFactory, RelationshipFactory

pytestmark = pytest.mark.django_db


def name(actor, project, person, contribution=""):
    return contributor_add(
        actor=actor, fields=ContributorFields(project=project, person=person, contribution=contribution)
    )


def delivered_project(relationship, *, level="process", days_ago=30, realised="100000", title=None):
    today = timezone.localdate()
    return ProjectFactory(
        relationship=relationship,
        title=title or f"Delivered {level} {days_ago}",
        level=level,
        stage="delivered",
        started_on=today - dt.timedelta(days=days_ago + 60),
        delivered_on=today - dt.timedelta(days=days_ago),
        expected_annual_benefit=Decimal("150000"),
        realised_annual_benefit=Decimal(realised) if realised else None,
    )


def test_the_projects_writers_name_people_of_both_sides_with_their_organisation(table):
    project = delivered_project(table["relationship"])
    client_side = name(table["account_manager"], project, table["client_contributor"], "Ran the pilot")
    provider_side = name(table["account_manager"], project, table["provider_contributor"])
    assert (client_side.side, client_side.organization) == ("client", table["client_a"])
    assert (provider_side.side, provider_side.organization) == ("provider", table["provider"])
    with pytest.raises(ValidationError) as twice:
        name(table["account_manager"], project, table["client_contributor"])
    assert "already named" in str(twice.value)
    # Only people at this relationship's table; only its writers name them.
    for outsider in ("client_b_contributor", "portfolio_executive", "admin"):
        with pytest.raises(ValidationError):
            name(table["account_manager"], project, table[outsider])
    with pytest.raises(PermissionDenied):
        name(table["client_contributor"], project, table["client_colleague"])
    updated = contributor_update(
        actor=table["account_manager"],
        contributor=provider_side,
        changes=ContributorFields(contribution="Built it"),
    )
    assert updated.contribution == "Built it" and updated.version == 2
    contributor_remove(actor=table["account_manager"], contributor=updated)
    assert list(selectors.contributor_list(user=table["client_viewer"])) == [client_side]


def test_recognition_counts_the_last_twelve_months_deliveries_by_level_and_benefit(
    table, other_account_manager
):
    relationship = table["relationship"]
    carla, pia = table["client_contributor"], table["provider_contributor"]
    manager = table["account_manager"]
    for project in (
        delivered_project(relationship, level="process", realised="100000"),
        delivered_project(relationship, level="strategic", days_ago=90, realised="250000.50"),
        delivered_project(relationship, level="operational", days_ago=120, realised=None),
    ):
        name(manager, project, carla)
    name(manager, delivered_project(relationship, level="strategic", days_ago=10, realised="40000"), pia)
    # Not counted: delivered over a year ago, not delivered, deleted.
    name(manager, delivered_project(relationship, days_ago=500), carla)
    name(manager, ProjectFactory(relationship=relationship, stage="in_progress"), carla)
    gone = delivered_project(relationship, days_ago=5)
    name(manager, gone, carla)
    project_delete(actor=None, project=gone)
    rows = selectors.recognition(user=table["client_viewer"], relationship_ids=[relationship.pk])
    assert [(row.person, row.projects, row.side) for row in rows] == [
        (carla, 3, "client"),
        (pia, 1, "provider"),
    ]
    assert rows[0].levels == {"process": 1, "strategic": 1, "operational": 1}
    assert rows[0].realised == {"USD": Decimal("350000.50")}
    assert rows[0].level_list == [
        ("Operational (efficiency)", 1),
        ("Process (effectiveness)", 1),
        ("Strategic (performance)", 1),
    ]
    assert rows[0].organization_name == "Client A"


def test_recognition_is_scoped_and_keeps_currencies_apart(table, portfolio):
    euro = RelationshipFactory(
        name="Euro deal",
        client=table["client_b"],
        provider=table["provider"],
        currency="EUR",
        account_managers=[table["account_manager"]],
    )
    pia = table["provider_contributor"]
    name(table["account_manager"], delivered_project(table["relationship"], realised="1000"), pia)
    name(table["account_manager"], delivered_project(euro, realised="2000"), pia)
    [row] = selectors.recognition(user=table["provider_contributor"])
    assert row.projects == 2 and row.realised == {"USD": Decimal("1000"), "EUR": Decimal("2000")}
    # Client A's people see only what relationship A holds.
    [row] = selectors.recognition(user=table["client_contributor"])
    assert row.projects == 1 and row.realised == {"USD": Decimal("1000")}
    assert len(selectors.person_contributions(user=table["client_contributor"], person=pia)) == 1
    assert len(selectors.person_contributions(user=pia, person=pia)) == 2


def test_recognition_costs_two_queries_whatever_the_number_of_people(table, django_assert_num_queries):
    from projects.access import Role
    from tests.factories import UserFactory

    manager = table["account_manager"]
    people = [UserFactory(role=Role.CONTRIBUTOR, organization=table["client_a"]) for _ in range(8)]
    for number, person in enumerate(people):
        name(manager, delivered_project(table["relationship"], days_ago=10 + number), person)
    user = table["portfolio_executive"]
    from projects.access import role_of, user_organization_id

    role_of(user), user_organization_id(user)
    with django_assert_num_queries(2):
        rows = selectors.recognition(user=user, relationship_ids=[table["relationship"].pk], limit=5)
    assert len(rows) == 5 and ProjectContributor.objects.count() == 8
