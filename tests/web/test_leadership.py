"""Recording a leadership handover from the relationship page."""

import datetime as dt

import pytest
from django.urls import reverse

from projects import services
from projects.models import AuditEntry, LeadershipPair

pytestmark = pytest.mark.django_db


@pytest.fixture
def led(portfolio):
    services.relationship_set_leadership(
        actor=None,
        relationship=portfolio["rel_a"],
        client_leader="Ada Client",
        provider_leader="Bo Provider",
        started_on=dt.date(2024, 1, 1),
    )
    return portfolio["rel_a"]


def url(relationship):
    return reverse("relationship-leadership", args=[relationship.pk])


def test_account_manager_records_handover_and_previous_pair_ends(client, account_manager, led):
    client.force_login(account_manager)
    assert url(led) in client.get(reverse("relationship-detail", args=[led.pk])).content.decode()
    response = client.post(
        url(led), {"client_leader": "Cy Client", "provider_leader": "Di Provider", "started_on": "2025-03-01"}
    )
    assert response.status_code == 302
    pairs = list(led.leadership_pairs.order_by("started_on"))
    assert [(p.client_leader, p.ended_on) for p in pairs] == [
        ("Ada Client", dt.date(2025, 2, 28)),
        ("Cy Client", None),
    ]
    entry = AuditEntry.objects.filter(object_id=led.pk, content_type__model="relationship").first()
    assert entry.actor == account_manager and "leadership_pair" in entry.changes


@pytest.mark.parametrize(
    "data,field",
    [
        ({"client_leader": "", "provider_leader": "X", "started_on": "2025-03-01"}, "client_leader"),
        ({"client_leader": "X", "provider_leader": "Y", "started_on": "0001-01-01"}, "started_on"),
        ({"client_leader": "X", "provider_leader": "Y", "started_on": "2023-06-01"}, "started_on"),  # before
        ({"client_leader": "X", "provider_leader": "Y", "started_on": "2099-01-01"}, "started_on"),  # future
    ],
)
def test_invalid_handover_shows_field_error_and_saves_nothing(client, account_manager, led, data, field):
    client.force_login(account_manager)
    response = client.post(url(led), data)
    assert response.status_code == 422
    assert field in response.context["form"].errors
    assert LeadershipPair.objects.filter(relationship=led).count() == 1


def test_read_only_roles_and_other_scopes_are_refused(client, executive, account_manager, led, portfolio):
    client.force_login(executive)
    assert client.get(url(led)).status_code == 403
    client.force_login(account_manager)
    assert client.get(url(portfolio["rel_b"])).status_code == 404
