"""The relationship dashboard compares the score with anonymous peers of its process areas."""

import pytest
from django.urls import reverse

from projects.models import ProcessArea
from tests.dashboard_data import score_row
from tests.factories import ClientFactory, RelationshipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def claims():
    return ProcessArea.objects.get_or_create(code="claims", defaults={"name": "Claims"})[0]


def peer(claims, score, name):
    relationship = RelationshipFactory(
        name=name, client=ClientFactory(name=f"{name} client", industry="Retail")
    )
    relationship.process_areas.set([claims])
    score_row(relationship, 0, score)
    return relationship


def page(client, relationship, query=""):
    return client.get(reverse("relationship-dashboard", args=[relationship.pk]) + query)


def test_dashboard_shows_percentile_quartiles_and_never_names_a_peer(client, executive, portfolio, claims):
    subject = portfolio["rel_a"]
    subject.process_areas.set([claims])
    score_row(subject, 0, "50")
    for score, name in (("30", "Zephyr"), ("45", "Quokka"), ("70", "Vireo"), ("90", "Ibex")):
        peer(claims, score, name)
    client.force_login(executive)
    html = page(client, subject).content.decode()
    section = html[html.index('id="peers"') : html.index('id="why"')]
    assert "50th percentile" in section and "second quartile" in section and "cohort of 5" in section
    assert "p25 45.0" in section and "median 50.0" in section and "p75 70.0" in section
    assert "<svg" in section and 'aria-label="Score 50.0 against the cohort' in section
    for name in ("Zephyr", "Quokka", "Vireo", "Ibex"):
        assert name not in section
    # Within the client's industry the cohort would be this relationship alone: refused.
    industry = page(client, subject, "?peers=industry").content.decode()
    assert 'data-status="refused"' in industry and "Refused: comparing within the client" in industry


def test_dashboard_shows_no_benchmark_for_a_small_cohort(client, executive, portfolio, claims):
    subject = portfolio["rel_a"]
    subject.process_areas.set([claims])
    score_row(subject, 0, "50")
    peer(claims, "30", "Zephyr")
    client.force_login(executive)
    html = page(client, subject).content.decode()
    assert (
        'data-status="too_small"' in html
        and "percentile" not in html.split('id="peers"')[1].split("</section>")[0]
    )
