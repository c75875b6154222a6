"""GET /api/v1/relationships/{id}/benchmark/: where a score stands among anonymous peers."""

import datetime as dt
from decimal import Decimal

import pytest

from kpis import scoring
from kpis.models import RelationshipScore
from projects.models import ProcessArea
from tests.factories import ClientFactory, RelationshipFactory

pytestmark = pytest.mark.django_db

MONTH = dt.date(2026, 9, 1)


@pytest.fixture
def claims():
    return ProcessArea.objects.get_or_create(code="claims", defaults={"name": "Claims"})[0]


def score(relationship, value, period=MONTH):
    RelationshipScore.objects.create(
        relationship=relationship,
        period=period,
        score=Decimal(value),
        tier=scoring.tier_for(Decimal(value)),
    )


@pytest.fixture
def cohort(portfolio, claims):
    """rel_a (score 50) among four peers of other clients (30, 45, 70, 90); rel_b is in no area."""
    portfolio["rel_a"].process_areas.set([claims])
    score(portfolio["rel_a"], "50")
    score(portfolio["rel_b"], "99")
    for value in ("30", "45", "70", "90"):
        peer = RelationshipFactory(client=ClientFactory(industry="Insurance"))
        peer.process_areas.set([claims])
        score(peer, value)
    return portfolio


def url(relationship, query=""):
    return f"/api/v1/relationships/{relationship.pk}/benchmark/{query}"


def test_benchmark_of_the_current_score(cohort, claims, account_manager, api_as):
    response = api_as(account_manager).get(url(cohort["rel_a"]))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body == {
        "relationship": cohort["rel_a"].pk,
        "period": "2026-09-01",
        "same_industry": False,
        "minimum_relationships": 5,
        "minimum_clients": 3,
        "areas": [
            {
                "process_area": "claims",
                "process_area_name": claims.name,
                "status": "available",
                "message": f"Among 5 active relationships covering {claims.name}, Sep 2026.",
                "score": "50.00",
                "cohort_size": 5,
                "percentile": "50.0",
                "quartile": "second",
                "p25": "45.00",
                "median": "50.00",
                "p75": "70.00",
            }
        ],
    }
    # Nothing in it names or counts a peer by id.
    assert "Insurance" not in response.content.decode()


def test_small_cohort_gets_no_benchmark(cohort, claims, account_manager, api_as):
    RelationshipScore.objects.filter(score=Decimal("90")).delete()
    area = api_as(account_manager).get(url(cohort["rel_a"])).json()["areas"][0]
    assert area["status"] == "too_small"
    assert [area[key] for key in ("cohort_size", "percentile", "quartile", "p25", "median", "p75")] == [
        None
    ] * 6


def test_outside_the_callers_scope_is_a_404(cohort, account_manager, api_as):
    response = api_as(account_manager).get(url(cohort["rel_b"]))
    assert response.status_code == 404
    assert response.json()["status"] == 404


def test_month_and_industry_are_checked(cohort, account_manager, api_as):
    client = api_as(account_manager)
    bad = client.get(url(cohort["rel_a"], "?month=2026-13"))
    assert bad.status_code == 400
    assert bad.json()["errors"] == {"month": ["Give a month as YYYY-MM, e.g. 2026-09."]}
    assert client.get(url(cohort["rel_a"], "?montth=2026-09")).status_code == 400
    earlier = client.get(url(cohort["rel_a"], "?month=2026-08")).json()
    assert earlier["period"] == "2026-08-01" and earlier["areas"][0]["status"] == "not_scored"
    industry = client.get(url(cohort["rel_a"], "?same_industry=true")).json()
    assert industry["same_industry"] is True
    assert industry["areas"][0]["status"] == "refused"
