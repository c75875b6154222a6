"""A small run of the benchmark's code: the generated portfolio, and the floor agreeing with the roll-up."""

import datetime as dt

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from demo import benchmark
from kpis import scoring
from kpis.models import RelationshipScore
from kpis.rollup import rollup_scores

pytestmark = pytest.mark.django_db


@pytest.fixture
def postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("the benchmark generates its portfolio with PostgreSQL SQL (run with DATABASE_URL)")


@pytest.mark.parametrize("months_back", [0, 7])
def test_floor_and_rollup_agree_on_a_generated_portfolio(postgresql, months_back):
    today = timezone.localdate()
    benchmark.generate_portfolio(benchmark.PortfolioSize(30, 900, 9_000), today=today)
    assert benchmark.portfolio_counts() == benchmark.PortfolioSize(30, 900, 9_000)
    period = scoring.add_months(scoring.month_start(today), -months_back)
    assert rollup_scores(period=period) == 30
    assert benchmark.mismatches(benchmark.run_floor(period), period) == []
    rows = RelationshipScore.objects.filter(period=period)
    # The generated data exercises every component and more than one tier.
    assert all(rows.filter(**{f"{name}__isnull": False}).exists() for name in scoring.COMPONENTS)
    assert rows.values("tier").distinct().count() >= 2


def test_floor_sees_a_disagreement(postgresql):
    today = timezone.localdate()
    benchmark.generate_portfolio(benchmark.PortfolioSize(5, 100, 1_000), today=today)
    rollup_scores(period=today)
    row = RelationshipScore.objects.filter(period=today.replace(day=1)).first()
    RelationshipScore.objects.filter(pk=row.pk).update(score=row.score + 1 if row.score < 99 else 0)
    problems = benchmark.mismatches(benchmark.run_floor(today), today)
    assert len(problems) == 1 and f"relationship {row.relationship_id} score" in problems[0]


def test_bench_command_refuses_a_database_not_named_for_benchmarks():
    with pytest.raises(CommandError, match=r"bench|PostgreSQL"):
        call_command("bench_scoring", "--relationships", "1")


def test_cpu_bench_command_refuses_a_database_not_named_for_benchmarks():
    with pytest.raises(CommandError, match=r"bench"):
        call_command("bench_scoring_cpu", "--repeat", "1")


def test_generated_measurements_may_lie_after_the_month_and_are_ignored(postgresql):
    today = timezone.localdate()
    benchmark.generate_portfolio(benchmark.PortfolioSize(10, 200, 4_000), today=today)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM kpis_measurement WHERE measured_on > %s", [today + dt.timedelta(days=31)]
        )
        assert cursor.fetchone()[0] > 0


def test_peer_benchmarks_agree_with_the_hand_written_percent_rank(postgresql):
    today = timezone.localdate()
    benchmark.generate_portfolio(benchmark.PortfolioSize(60, 1_200, 12_000), today=today)
    rollup_scores(period=today)
    floor = benchmark.run_peer_floor(today)
    product = benchmark.peer_benchmarks(today)
    assert len(floor) > 60  # every third relationship covers a second area
    assert benchmark.peer_mismatches(floor, product) == []
    assert any(across.available for across, _ in product)
    # A disagreement is seen: one score moved behind the product's back.
    row = RelationshipScore.objects.filter(period=today.replace(day=1)).order_by("score").first()
    RelationshipScore.objects.filter(pk=row.pk).update(score=row.score + 1)
    assert benchmark.peer_mismatches(floor, benchmark.peer_benchmarks(today))


def test_fanout_bench_command_refuses_a_database_not_named_for_benchmarks():
    with pytest.raises(CommandError, match=r"bench"):
        call_command("bench_rollup_fanout", "--relationships", "1")
