"""Recognition in the browser layer: contributors named on a project, the recognition tables of both
dashboards, and a person's page of contributions (scoped)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from collab.models import ProjectContributor
from collab.services import ContributorFields, contributor_add
from tests.factories import ProjectFactory, RelationshipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def delivery(table):
    today = timezone.localdate()
    return ProjectFactory(
        relationship=table["relationship"],
        title="Demand sensing",
        level="strategic",
        stage="delivered",
        started_on=today - dt.timedelta(days=120),
        delivered_on=today - dt.timedelta(days=20),
        realised_annual_benefit=Decimal("420000"),
    )


def test_the_account_manager_names_contributors_on_the_project_page(client, table, delivery):
    client.force_login(table["account_manager"])
    page = client.get(reverse("project-detail", args=[delivery.pk])).content.decode()
    assert "Name contributor" in page and "(Client A)" in page and "(Shared Provider)" in page
    response = client.post(
        reverse("contributor-add", args=[delivery.pk]),
        {"person": table["client_contributor"].pk, "contribution": "Ran the pilot stores"},
    )
    assert response.status_code == 302
    named = ProjectContributor.objects.get()
    assert named.organization == table["client_a"] and named.contribution == "Ran the pilot stores"
    # Someone of neither side is refused with a message; nothing is written.
    client.post(reverse("contributor-add", args=[delivery.pk]), {"person": table["client_b_contributor"].pk})
    assert ProjectContributor.objects.count() == 1
    # A contributor reads the list but names nobody.
    client.force_login(table["client_contributor"])
    page = client.get(reverse("project-detail", args=[delivery.pk])).content.decode()
    assert "Ran the pilot stores" in page and "Name contributor" not in page
    refused = client.post(
        reverse("contributor-add", args=[delivery.pk]), {"person": table["client_colleague"].pk}
    )
    assert refused.status_code == 403
    assert ProjectContributor.objects.count() == 1


def test_both_dashboards_and_the_persons_page_recognise_the_people(client, table, delivery):
    contributor_add(
        actor=None,
        fields=ContributorFields(
            project=delivery, person=table["provider_contributor"], contribution="Model"
        ),
    )
    client.force_login(table["client_viewer"])
    dashboard = client.get(
        reverse("relationship-dashboard", args=[table["relationship"].pk])
    ).content.decode()
    assert f'data-person="{table["provider_contributor"].pk}"' in dashboard and "420,000 USD" in dashboard
    home = client.get(reverse("home")).content.decode()
    assert "Who made it happen, across the portfolio" in home and "420,000 USD" in home
    person = client.get(
        reverse("person-contributions", args=[table["provider_contributor"].pk])
    ).content.decode()
    assert "Demand sensing" in person and "1 innovation delivered" in person
    # Someone with nothing in common sees no such person.
    client.force_login(table["client_b_contributor"])
    assert (
        client.get(reverse("person-contributions", args=[table["provider_contributor"].pk])).status_code
        == 404
    )
    # One's own page always answers.
    assert client.get(reverse("my-contributions")).status_code == 200


def test_another_clients_deliveries_never_show(client, table, delivery):
    other = RelationshipFactory(client=table["client_b"], provider=table["provider"])
    today = timezone.localdate()
    secret = ProjectFactory(
        relationship=other,
        title="CLIENT-B-SECRET",
        stage="delivered",
        started_on=today - dt.timedelta(days=50),
        delivered_on=today - dt.timedelta(days=5),
    )
    contributor_add(
        actor=None, fields=ContributorFields(project=secret, person=table["provider_contributor"])
    )
    client.force_login(table["client_contributor"])
    page = client.get(reverse("person-contributions", args=[table["provider_contributor"].pk]))
    assert page.status_code == 404
    contributor_add(
        actor=None, fields=ContributorFields(project=delivery, person=table["provider_contributor"])
    )
    page = client.get(
        reverse("person-contributions", args=[table["provider_contributor"].pk])
    ).content.decode()
    assert "Demand sensing" in page and "CLIENT-B-SECRET" not in page
