"""Peer benchmarks: percentile and quartiles among the active relationships of a process area, and
the anonymity rules (no benchmark under 5 relationships or 3 clients, no filter that singles out a
small group)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection

from kpis import benchmarks, scoring
from kpis.models import RelationshipScore
from projects.models import ProcessArea, Relationship
from tests.factories import ClientFactory, RelationshipFactory

pytestmark = pytest.mark.django_db

MONTH = dt.date(2026, 9, 1)


@pytest.fixture
def area():
    return ProcessArea.objects.get_or_create(code="claims", defaults={"name": "Claims"})[0]


@pytest.fixture
def other_area():
    return ProcessArea.objects.get_or_create(code="procurement", defaults={"name": "Procurement"})[0]


def scored(score, *, areas, client=None, industry="Insurance", status="active", is_new=False, period=MONTH):
    relationship = RelationshipFactory(client=client or ClientFactory(industry=industry), status=status)
    relationship.process_areas.set(areas)
    RelationshipScore.objects.create(
        relationship=relationship,
        period=period,
        score=Decimal(score),
        tier=scoring.tier_for(Decimal(score)),
        is_new=is_new,
    )
    return relationship


def test_percentile_matches_postgresql_percentile_cont():
    values = [Decimal(v) for v in ("12.5", "40", "40", "61.3", "70", "88.8", "95")]
    for fraction in ("0", "0.25", "0.5", "0.75", "0.9", "1"):
        expected = scoring.percentile(values, Decimal(fraction))
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT percentile_cont(%s) WITHIN GROUP (ORDER BY v) FROM unnest(%s::numeric[]) AS v",
                    [fraction, values],
                )
                assert Decimal(repr(cursor.fetchone()[0])) == expected.quantize(Decimal("1e-10")).normalize()
    assert scoring.percentile(values, Decimal("0.5")) == Decimal("61.3")
    assert scoring.percentile(values, Decimal("0.25")) == Decimal("40")
    assert scoring.percentile(values, Decimal("0.75")) == Decimal("79.4")
    assert scoring.percentile([Decimal(7)], Decimal("0.25")) == Decimal(7)
    assert scoring.percentile([], Decimal("0.5")) is None


def test_benchmark_places_a_relationship_among_its_peers(area):
    peers = [scored(score, areas=[area]) for score in ("30", "45", "50", "70", "90")]
    subject = peers[2]
    (benchmark,) = benchmarks.relationship_benchmarks(
        Relationship.objects.prefetch_related("process_areas").get(pk=subject.pk), period=MONTH
    )
    assert benchmark.available and benchmark.area == area
    assert benchmark.cohort_size == 5
    assert benchmark.score == Decimal("50")
    assert benchmark.percentile == Decimal("50.0")  # 2 of the 4 others score below it
    assert (benchmark.p25, benchmark.median, benchmark.p75) == (Decimal("45"), Decimal("50"), Decimal("70"))
    assert benchmark.quartile == "second"
    assert benchmark.message == f"Among 5 active relationships covering {area.name}, Sep 2026."
    top = benchmarks.portfolio_benchmarks(period=MONTH).of(peers[-1].pk, area)
    bottom = benchmarks.portfolio_benchmarks(period=MONTH).of(peers[0].pk, area)
    assert (top.percentile, top.quartile) == (Decimal("100.0"), "top")
    assert (bottom.percentile, bottom.quartile) == (Decimal("0.0"), "bottom")


def test_cohort_leaves_out_inactive_new_unscored_and_other_areas(area, other_area):
    members = [scored(score, areas=[area]) for score in ("30", "45", "50", "70", "90")]
    scored("99", areas=[area], status="ended")
    scored("0", areas=[area], is_new=True)
    scored("10", areas=[other_area])
    scored("60", areas=[area], period=dt.date(2026, 8, 1))
    benchmark = benchmarks.portfolio_benchmarks(period=MONTH).of(members[0].pk, area)
    assert benchmark.cohort_size == 5
    ended = Relationship.objects.get(status="ended")
    assert benchmarks.portfolio_benchmarks(period=MONTH).of(ended.pk, area).status == benchmarks.NOT_SCORED


def test_cohort_under_five_relationships_shows_no_benchmark(area):
    relationships = [scored(score, areas=[area]) for score in ("30", "45", "50", "70")]
    benchmark = benchmarks.portfolio_benchmarks(period=MONTH).of(relationships[0].pk, area)
    assert benchmark.status == benchmarks.TOO_SMALL and not benchmark.available
    assert (benchmark.cohort_size, benchmark.percentile, benchmark.median, benchmark.quartile) == (None,) * 4
    assert benchmark.message.startswith(
        f"No benchmark: fewer than 5 relationships or 3 clients cover {area.name}"
    )


def test_cohort_of_fewer_than_three_clients_shows_no_benchmark(area):
    first, second = ClientFactory(industry="Insurance"), ClientFactory(industry="Insurance")
    relationships = [scored(score, areas=[area], client=first) for score in ("30", "45", "50")]
    relationships += [scored(score, areas=[area], client=second) for score in ("70", "90")]
    benchmark = benchmarks.portfolio_benchmarks(period=MONTH).of(relationships[0].pk, area)
    assert benchmark.status == benchmarks.TOO_SMALL
    scored("55", areas=[area])  # a third client
    assert benchmarks.portfolio_benchmarks(period=MONTH).of(relationships[0].pk, area).available


def test_industry_filter_that_would_isolate_a_small_group_is_refused(area):
    insurers = [scored(score, areas=[area], industry="Insurance") for score in ("30", "45", "50", "70", "90")]
    retailers = [scored(score, areas=[area], industry="Retail") for score in ("20", "60")]
    portfolio = benchmarks.portfolio_benchmarks(period=MONTH)
    # All seven together are a fair cohort; within insurance five of them would be too, but the two
    # retailers left outside could then be told apart by comparing the two benchmarks.
    assert portfolio.of(insurers[0].pk, area).available
    assert portfolio.of(insurers[0].pk, area).cohort_size == 7
    refused = portfolio.of(insurers[0].pk, area, same_industry=True)
    assert refused.status == benchmarks.REFUSED and refused.median is None
    assert refused.message.startswith("Refused: comparing within the client's industry")
    assert portfolio.of(retailers[0].pk, area, same_industry=True).status == benchmarks.REFUSED
    for score in ("25", "35", "65"):
        scored(score, areas=[area], industry="Retail")
    portfolio = benchmarks.portfolio_benchmarks(period=MONTH)
    within = portfolio.of(insurers[2].pk, area, same_industry=True)
    assert within.available and within.cohort_size == 5 and within.median == Decimal("50")
    assert (
        within.message
        == f"Among 5 active relationships covering {area.name} for Insurance clients, Sep 2026."
    )
    assert portfolio.of(retailers[1].pk, area, same_industry=True).percentile == Decimal("75.0")


def test_whole_portfolio_in_one_query(area, other_area, django_assert_num_queries):
    for index in range(12):
        scored(str(10 + index * 7), areas=[area, other_area] if index % 2 else [area])
    with django_assert_num_queries(1):
        portfolio = benchmarks.portfolio_benchmarks(period=MONTH)
    assert portfolio.by_area[area.pk].size == 12 and portfolio.by_area[other_area.pk].size == 6


def test_percent_rank_is_the_share_of_others_scoring_below(area):
    relationships = [scored(score, areas=[area]) for score in ("10", "20", "20", "40", "50", "60", "70")]
    portfolio = benchmarks.portfolio_benchmarks(period=MONTH)
    scores = [Decimal(s) for s in ("10", "20", "20", "40", "50", "60", "70")]
    for relationship, score in zip(relationships, scores, strict=True):
        below = sum(1 for other in scores if other < score)
        expected = scoring.quantize(Decimal(below) / (len(scores) - 1) * 100, Decimal("0.1"))
        assert portfolio.of(relationship.pk, area).percentile == expected
