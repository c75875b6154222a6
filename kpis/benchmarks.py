"""Peer benchmarks: "is 62 good, compared with whom?"

A relationship's *cohort* in a process area is every active relationship covering that area whose
score for the same month is stored and is a verdict (not "new — not scored yet"), the relationship
itself included; optionally only those whose client is in the same industry. Its *percentile* is
the share of the other members scoring below it (`percent_rank`), its *quartile* where its score
falls against the cohort's p25 / median / p75 (kpis.scoring.percentile, PostgreSQL's
percentile_cont).

Anonymity (settings.BPO_BENCHMARK): peers are never named, counted per client or linked; no
benchmark is given for a cohort of fewer than MIN_RELATIONSHIPS relationships or MIN_CLIENTS
distinct clients; and a benchmark within an industry is refused when the industry's cohort, or what
the area's cohort holds outside that industry, is such a small group (comparing the two benchmarks
would otherwise single it out).

Every figure for the whole portfolio comes from one statement: the month's scores with
`percent_rank()` over each area, and over each area and industry, as window functions.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from django.conf import settings
from django.db.models import F, Window
from django.db.models.functions import PercentRank

from kpis import scoring
from kpis.models import RelationshipScore
from projects.models import ProcessArea, Relationship

AVAILABLE = "available"
TOO_SMALL = "too_small"  # the area's cohort is below the thresholds: no benchmark
REFUSED = "refused"  # the industry filter would isolate a small group
NOT_SCORED = "not_scored"  # the relationship has no verdict this month, or is not active

PERCENTILE_PLACES = Decimal("0.1")
SCORE_PLACES = Decimal("0.01")
QUARTER, HALF, THREE_QUARTERS = Decimal("0.25"), Decimal("0.5"), Decimal("0.75")


def thresholds() -> tuple[int, int]:
    """(fewest relationships, fewest distinct clients) a cohort needs for a benchmark."""
    options = settings.BPO_BENCHMARK
    return options["MIN_RELATIONSHIPS"], options["MIN_CLIENTS"]


class Benchmark(NamedTuple):
    """Where one relationship stands in one process area's cohort in one month (a named tuple:
    thousands are built for a portfolio)."""

    relationship_id: int
    area: ProcessArea
    period: dt.date
    same_industry: bool
    status: str  # AVAILABLE, TOO_SMALL, REFUSED, NOT_SCORED
    message: str  # why there is no benchmark, or what it compares with
    score: Decimal | None = None
    cohort_size: int | None = None  # relationships in the cohort, this one included
    percentile: Decimal | None = None  # % of the other members scoring below this one, 0–100
    quartile: str | None = None  # scoring.QUARTILES
    p25: Decimal | None = None
    median: Decimal | None = None
    p75: Decimal | None = None

    @property
    def available(self) -> bool:
        return self.status == AVAILABLE


class _Member(NamedTuple):
    relationship_id: int
    client_id: int
    industry: str
    score: Decimal
    percent_rank: float  # among the cohort it was ranked in


class _Cohort:
    """Members ascending by score; its size, distinct clients and quartiles, computed once."""

    __slots__ = ("_quartiles", "clients", "large_enough", "members", "size")

    def __init__(self, members: list[_Member], minimums: tuple[int, int]):
        self.members = members
        self.size = len(members)
        self.clients = len({member.client_id for member in members})
        # Large enough to compare with, without singling a member out (the thresholds).
        self.large_enough = self.size >= minimums[0] and self.clients >= minimums[1]
        self._quartiles = None

    def quartiles(self) -> tuple[Decimal, Decimal, Decimal]:
        """p25, median and p75, to the hundredth of a point a score is stored to."""
        if self._quartiles is None:
            scores = [member.score for member in self.members]
            self._quartiles = tuple(
                scoring.quantize(scoring.percentile(scores, fraction), SCORE_PLACES)
                for fraction in (QUARTER, HALF, THREE_QUARTERS)
            )
        return self._quartiles


@dataclass(frozen=True)
class PortfolioBenchmarks:
    """The month's cohorts of the whole portfolio, by area and by area and industry."""

    period: dt.date
    by_area: dict[int, _Cohort]
    by_area_industry: dict[tuple[int, str], _Cohort]
    # (area, industry) → the area's members outside that industry (what an industry benchmark
    # would let one tell apart by difference)
    outside_industry: dict[tuple[int, str], _Cohort]
    # (relationship, area) → the member as ranked in the area, and as ranked in area and industry
    member_of: dict[tuple[int, int], tuple[_Member, _Member]]
    minimums: tuple[int, int]  # thresholds(), read once
    month_label: str  # "Sep 2026"

    def of(self, relationship_id: int, area: ProcessArea, *, same_industry: bool = False) -> Benchmark:
        """The benchmark of one relationship in one of its areas."""
        base = (relationship_id, area, self.period, same_industry)
        month = self.month_label
        found = self.member_of.get((relationship_id, area.id))
        if found is None:
            return Benchmark(
                *base,
                status=NOT_SCORED,
                message=f"No benchmark: the relationship is not active or has no score for {month}.",
            )
        in_area, in_industry = found
        industry = in_area.industry
        area_cohort = self.by_area[area.id]
        small = f"fewer than {self.minimums[0]} relationships or {self.minimums[1]} clients"
        if not area_cohort.large_enough:
            return Benchmark(
                *base,
                status=TOO_SMALL,
                score=in_area.score,
                message=f"No benchmark: {small} cover {area.name} in {month}, too few to compare "
                "without singling a peer out.",
            )
        cohort, member, compared = area_cohort, in_area, f"active relationships covering {area.name}"
        if same_industry:
            cohort = self.by_area_industry[(area.id, industry)]
            outside = self.outside_industry[(area.id, industry)]
            if not cohort.large_enough or (outside.size and not outside.large_enough):
                return Benchmark(
                    *base,
                    status=REFUSED,
                    score=in_area.score,
                    message="Refused: comparing within the client's industry would single out a group of "
                    f"{small} in {area.name}. The benchmark across all industries stands.",
                )
            member, compared = in_industry, f"{compared} for {industry or 'unclassified'} clients"
        p25, median, p75 = cohort.quartiles()
        return Benchmark(
            *base,
            status=AVAILABLE,
            message=f"Among {cohort.size} {compared}, {month}.",
            score=member.score,
            cohort_size=cohort.size,
            percentile=scoring.quantize(Decimal(repr(member.percent_rank * 100)), PERCENTILE_PLACES),
            quartile=scoring.quartile(member.score, p25=p25, median=median, p75=p75),
            p25=p25,
            median=median,
            p75=p75,
        )


def _portfolio_rows(period: dt.date, area_ids: Iterable[int] | None):
    """The month's verdicts of active relationships, one row per covered area, with their percent
    rank in the area and in the area and client industry: one statement."""
    area = F("relationship__process_areas")
    industry = F("relationship__client__industry")
    rows = RelationshipScore.objects.filter(
        period=scoring.month_start(period),
        is_new=False,
        relationship__deleted_at__isnull=True,
        relationship__status=Relationship.Status.ACTIVE,
        relationship__process_areas__isnull=False,
    )
    if area_ids is not None:
        rows = rows.filter(relationship__process_areas__in=list(area_ids))
    return (
        rows.annotate(
            area_id=area,
            client_id=F("relationship__client_id"),
            industry=industry,
            rank_in_area=Window(PercentRank(), partition_by=[area], order_by=F("score").asc()),
            rank_in_industry=Window(PercentRank(), partition_by=[area, industry], order_by=F("score").asc()),
        )
        .order_by("area_id", "score", "relationship_id")
        .values_list(
            "relationship_id", "area_id", "client_id", "industry", "score", "rank_in_area", "rank_in_industry"
        )
    )


def portfolio_benchmarks(*, period: dt.date, area_ids: Iterable[int] | None = None) -> PortfolioBenchmarks:
    """Every cohort of the month (only those of `area_ids`, when given), in one query."""
    by_area: dict[int, list[_Member]] = defaultdict(list)
    by_area_industry: dict[tuple[int, str], list[_Member]] = defaultdict(list)
    member_of = {}
    for (
        relationship_id,
        area_id,
        client_id,
        industry,
        score,
        rank_in_area,
        rank_in_industry,
    ) in _portfolio_rows(period, area_ids):
        in_area = _Member(relationship_id, client_id, industry, score, rank_in_area)
        in_industry = _Member(relationship_id, client_id, industry, score, rank_in_industry)
        by_area[area_id].append(in_area)
        by_area_industry[(area_id, industry)].append(in_industry)
        member_of[(relationship_id, area_id)] = (in_area, in_industry)
    minimums = thresholds()
    return PortfolioBenchmarks(
        period=scoring.month_start(period),
        by_area={key: _Cohort(members, minimums) for key, members in by_area.items()},
        by_area_industry={key: _Cohort(members, minimums) for key, members in by_area_industry.items()},
        outside_industry={
            (area_id, industry): _Cohort(
                [member for member in by_area[area_id] if member.industry != industry], minimums
            )
            for area_id, industry in by_area_industry
        },
        member_of=member_of,
        minimums=minimums,
        month_label=f"{period:%b %Y}",
    )


def relationship_benchmarks(
    relationship: Relationship, *, period: dt.date, same_industry: bool = False
) -> list[Benchmark]:
    """The benchmark of a (visible) relationship in each of its process areas, by area name (one
    query for the cohorts; the areas are read from the relationship, prefetched by the selectors)."""
    areas = sorted(relationship.process_areas.all(), key=lambda area: area.name)
    if not areas:
        return []
    cohorts = portfolio_benchmarks(period=period, area_ids=[area.pk for area in areas])
    return [cohorts.of(relationship.pk, area, same_industry=same_industry) for area in areas]
