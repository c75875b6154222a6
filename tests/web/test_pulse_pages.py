"""The pulse in the browser layer: answer once a quarter and change it until it closes; the
published results per side (thresholds, bands, the gap) on the pulse page and the dashboard; nobody
else reads a person's answers."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from collab.calendar import previous_quarter, quarter_key, quarter_start
from collab.models import PulseResponse
from collab.services import PulseFields, pulse_answer
from projects.access import Role
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def last_quarter_day() -> dt.date:
    return previous_quarter(timezone.localdate()) + dt.timedelta(days=10)


def answered(user, table, values, comment="", today=None):
    ideas, openness, sponsorship, trust = values
    return pulse_answer(
        actor=user,
        fields=PulseFields(
            relationship=table["relationship"],
            ideas=ideas,
            openness=openness,
            sponsorship=sponsorship,
            trust=trust,
            comment=comment,
        ),
        today=today or last_quarter_day(),
    )


def url(table, **params):
    base = reverse("relationship-pulse", args=[table["relationship"].pk])
    return base + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


def test_a_participant_answers_and_changes_their_answers(client, table):
    client.force_login(table["client_contributor"])
    page = client.get(url(table)).content.decode()
    assert "The other side brings us ideas we would not have had" in page and "Send my answers" in page
    data = {"ideas": "4", "openness": "2", "sponsorship": "5", "trust": "3", "comment": "MY-OWN-WORRY"}
    response = client.post(url(table), data)
    assert response.status_code == 302
    mine = PulseResponse.objects.get()
    assert (mine.ideas, mine.openness, mine.quarter) == (4, 2, quarter_start(timezone.localdate()))
    page = client.get(url(table)).content.decode()
    assert "Save my answers" in page and "MY-OWN-WORRY" in page  # the author reads their own
    client.post(url(table), {**data, "openness": "4", "version": "1"})
    mine.refresh_from_db()
    assert mine.openness == 4 and mine.version == 2 and PulseResponse.objects.count() == 1
    bad = client.post(url(table), {**data, "openness": "9", "version": "2"})
    assert bad.status_code == 422
    # Nobody else reads it: not a colleague, not the other side, not an admin.
    for who in ("client_colleague", "account_manager", "admin"):
        client.force_login(table[who])
        assert "MY-OWN-WORRY" not in client.get(url(table)).content.decode()


def test_people_of_neither_side_see_results_but_no_form(client, table):
    client.force_login(table["portfolio_executive"])
    page = client.get(url(table)).content.decode()
    assert 'id="pulse-form"' not in page and "Results" in page
    response = client.post(url(table), {"ideas": "4", "openness": "4", "sponsorship": "4", "trust": "4"})
    assert response.status_code == 403 and not PulseResponse.objects.exists()


def test_published_results_per_side_with_the_thresholds(client, table):
    client_side = [table["client_contributor"], table["client_colleague"], table["client_viewer"]]
    client_side += [UserFactory(role=Role.CONTRIBUTOR, organization=table["client_a"]) for _ in range(2)]
    for number, person in enumerate(client_side):
        answered(person, table, (4, 4, 3, 4), comment=f"CLIENT-NOTE-{number}")
    answered(table["account_manager"], table, (5, 5, 5, 5), comment="PROVIDER-NOTE")
    answered(table["provider_contributor"], table, (5, 5, 5, 5))
    client.force_login(table["provider_contributor"])
    page = client.get(url(table)).content.decode()
    # The client side: 5 answers → means, index 68.8 (healthy) and its comments; the provider: 2 → nothing.
    assert '<td class="num" data-side="client">5</td>' in page
    assert 'data-side-index="client">68.8' in page and "band-healthy" in page
    assert all(f"CLIENT-NOTE-{n}" in page for n in range(5))
    assert (
        "PROVIDER-NOTE" not in page
        and '<td class="num" data-side="provider"><span class="muted">fewer than 3' in page
    )
    # The running quarter shows nothing but how many answered.
    running = client.get(url(table, quarter=quarter_key(timezone.localdate()))).content.decode()
    assert "data-pulse-unpublished" in running and "CLIENT-NOTE" not in running


def test_the_dashboard_shows_trust_beside_the_score_and_asks_for_this_quarters_answers(client, table):
    for person in (table["client_contributor"], table["client_colleague"], table["client_viewer"]):
        answered(person, table, (4, 4, 4, 4))
    for person in (table["account_manager"], table["provider_contributor"]):
        answered(person, table, (5, 5, 5, 5))
    answered(UserFactory(role=Role.CONTRIBUTOR, organization=table["provider"]), table, (5, 4, 5, 5))
    client.force_login(table["client_contributor"])
    page = client.get(reverse("relationship-dashboard", args=[table["relationship"].pk])).content.decode()
    # Client 75.0, provider 97.9: together 86.5, uncritical (nobody below 4, nothing contested); gap −22.9.
    assert "86.5" in page and "band-uncritical" in page and "−22.9" in page
    assert "Answer the" in page
    answered(table["client_contributor"], table, (3, 3, 3, 3), today=timezone.localdate())
    page = client.get(reverse("relationship-dashboard", args=[table["relationship"].pk])).content.decode()
    assert "Answer the" not in page
