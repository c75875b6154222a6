"""Set-based reads behind the executive dashboards: the whole portfolio, and one relationship.

Every figure comes from stored monthly scores (`RelationshipScore`) and a fixed number of
aggregate queries, so a dashboard costs the same number of queries for 10 relationships as for
1,000. Every read starts from `projects.access.scope` (directly or through the selectors), so a
user sees only the figures of relationships they may see. Paging, sorting and filtering from a
request, and the pages' own labels, are the browser layer's (web.dashboards).

Dates: a dashboard is read "as of" a day (today by default). The scored month is the month of that
day; "a quarter earlier" is the same point three months before — the month three months earlier
for scores and 12-month windows, the same day three months earlier for who was active.

A score row of a relationship that is "new — not scored yet" (RelationshipScore.is_new) is not a
verdict: its score and tier read as none here, so it is neither ranked, nor counted in a tier, nor
compared with.
"""

import datetime as dt
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db.models import (
    Case,
    CharField,
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Concat, TruncMonth
from django.utils import timezone

from kpis import scoring
from kpis.models import ProjectKPI, RelationshipScore, Tier
from kpis.selectors import (
    current_score_value,
    score_list,
    scored_month,
    scores_up_to,
    with_kpi_stats,
    with_latest_values,
)
from projects import selectors as project_selectors
from projects.access import scope
from projects.models import InnovationProject, Relationship

Stage = InnovationProject.Stage
Level = InnovationProject.Level

TOP_IMPROVEMENTS = 10
SPARKLINE_MONTHS = 12
HISTORY_MONTHS = 24
FUNNEL_QUARTERS = 8
# Score distribution in bins of this many points (0–10, 10–20, …, 90–100).
DISTRIBUTION_BIN = 10

TIER_ORDER = [Tier.HIGH_PERFORMING, Tier.STEADY, Tier.AT_RISK]
FUNNEL_STAGES = InnovationProject.PIPELINE

# --- Dates ------------------------------------------------------------------------------------


def shift_day(day: dt.date, months: int) -> dt.date:
    """The same day `months` later (earlier when negative), clamped to the end of a shorter month."""
    first = scoring.add_months(day, months)
    return min(first.replace(day=1) + dt.timedelta(days=day.day - 1), scoring.month_end(first))


@dataclass(frozen=True)
class AsOf:
    """The points in time a dashboard compares: now, and the same point a quarter earlier."""

    today: dt.date
    period: dt.date  # the scored month (first day)
    earlier_day: dt.date
    earlier_period: dt.date
    window: scoring.Window  # the 12 months ending with `period`
    earlier_window: scoring.Window

    @classmethod
    def of(cls, today: dt.date | None = None) -> "AsOf":
        today = today or timezone.localdate()
        period = scored_month(today)
        earlier_period = scoring.add_months(period, -3)
        return cls(
            today=today,
            period=period,
            earlier_day=shift_day(today, -3),
            earlier_period=earlier_period,
            window=scoring.score_window(period),
            earlier_window=scoring.score_window(earlier_period),
        )

    @property
    def half_year_earlier_period(self) -> dt.date:
        """The month two quarters before the scored one: "Improving most" checks a rise against it."""
        return scoring.add_months(self.period, -6)


def quarter_label(first: dt.date, last: dt.date) -> str:
    if first.year == last.year:
        return f"{first:%b}–{last:%b %Y}"
    return f"{first:%b %Y}–{last:%b %Y}"


def tier_bands() -> list[dict]:
    """The tier bands of the scoring settings, highest first: [{tier, label, low, high}]."""
    labels = dict(Tier.choices)
    bands, high = [], Decimal(100)
    for tier, cut_off in settings.BPO_SCORING["TIERS"]:
        low = Decimal(cut_off)
        bands.append({"tier": tier, "label": labels.get(tier, tier), "low": low, "high": high})
        high = low
    return bands


# --- Relationships with their scores ----------------------------------------------------------


# Columns that are a verdict, and read as none while the relationship is new (not scored yet).
VERDICT_COLUMNS = ("score", "tier")


def _current(column: str, month: dt.date):
    """A column of the current score as of `month` (kpis.selectors.current_score_value); a verdict
    column reads as none while the relationship is new."""
    if column not in VERDICT_COLUMNS:
        return current_score_value(column, month=month)
    latest = (
        scores_up_to(month)
        .filter(relationship=OuterRef("pk"))
        .annotate(verdict=Case(When(is_new=True, then=None), default=F(column)))
    )
    return Subquery(latest.values("verdict")[:1])


def _scored_in(period: dt.date) -> Subquery:
    """The relationship's score for exactly the month `period`, or none (no row, or new)."""
    row = RelationshipScore.objects.filter(relationship=OuterRef("pk"), period=period, is_new=False)
    return Subquery(row.values("score")[:1])


def with_scores(relationships: QuerySet[Relationship], as_of: AsOf) -> QuerySet[Relationship]:
    """Annotate the current score (kpis.selectors.scores_up_to the scored month), its parts, and
    the quarter's change.

    Δ quarter (`score_change`) compares like with like: the score for this month with the score for
    the month exactly three months earlier, both computed the same way over their own 12 months;
    without either (not stored, or new — not scored yet) there is no change to show. "Improving
    most" (`improving_change`) ranks a rise only when the score also stands at or above its level
    a quarter before that, so a relationship that fell and partly recovered is not shown improving.
    """
    decimal = DecimalField(max_digits=7, decimal_places=2)
    month = as_of.period
    return relationships.annotate(
        current_period=_current("period", month),
        current_score=_current("score", month),
        current_tier=_current("tier", month),
        current_is_new=_current("is_new", month),
        current_impact=_current("impact", month),
        current_attainment=_current("attainment", month),
        current_realisation=_current("realisation", month),
        current_continuity=_current("continuity", month),
        current_projects_delivered=_current("projects_delivered", month),
        earlier_score=_current("score", as_of.earlier_period),
        score_this_month=_scored_in(as_of.period),
        score_quarter_earlier=_scored_in(as_of.earlier_period),
        score_two_quarters_earlier=_scored_in(as_of.half_year_earlier_period),
        score_change=ExpressionWrapper(
            F("score_this_month") - F("score_quarter_earlier"), output_field=decimal
        ),
        improving_change=Case(
            When(
                Q(score_change__gt=0)
                & (
                    Q(score_two_quarters_earlier__isnull=True)
                    | Q(score_this_month__gte=F("score_two_quarters_earlier"))
                ),
                then=F("score_change"),
            ),
            default=None,
            output_field=decimal,
        ),
    )


def portfolio_relationships(*, user, as_of: AsOf) -> QuerySet[Relationship]:
    """The visible live relationships, with their clients, providers and scores (`with_scores`)."""
    return with_scores(
        scope(user, Relationship.objects.filter(deleted_at__isnull=True)).select_related(
            "client", "provider"
        ),
        as_of,
    )


# --- Portfolio figures ------------------------------------------------------------------------


def active_on(day: dt.date, *, today: dt.date) -> Q:
    """Relationships active on `day`: the contract had started and not yet run out.

    A relationship marked ended is not active today; for past days it counts until its contract end
    (the only end date recorded), and not at all when it has none.
    """
    condition = Q(contract_start__lte=day) & (Q(contract_end__isnull=True) | Q(contract_end__gte=day))
    if day >= today:
        return condition & ~Q(status=Relationship.Status.ENDED)
    return condition & (~Q(status=Relationship.Status.ENDED) | Q(contract_end__isnull=False))


def median(values: Iterable[Decimal]) -> Decimal | None:
    values = list(values)
    return statistics.median(values) if values else None


NEW = "new"  # portfolio_stats: the current score row of a relationship new — not scored yet


@dataclass
class PortfolioStats:
    """Figures over every relationship the dashboard covers (not only the scoreboard's page)."""

    relationships: int = 0
    scored: int = 0
    active_now: int = 0
    active_earlier: int = 0
    median_now: Decimal | None = None
    median_earlier: Decimal | None = None
    tier_counts: dict[str, int] = field(default_factory=dict)
    unscored: int = 0  # no score row yet
    new: int = 0  # new — not scored yet (neither in a tier nor in the distribution)
    bins: list[dict] = field(default_factory=list)
    # The ids of the relationships covered. The portfolio dashboard's own project reads do not take
    # this list (1,025 parameters a query at 1,025 relationships) but the scope or a subquery of the
    # same selection (web.dashboards.portfolio_dashboard).
    relationship_ids: list[int] = field(default_factory=list)


def portfolio_stats(relationships: QuerySet[Relationship], as_of: AsOf) -> PortfolioStats:
    """One query: each relationship's current and earlier score, tier and whether it is active.

    The current score row is read by one lookup per relationship, as one text: "new" while the
    relationship is new (no verdict, as in `_current`), else its score (exact, as written by the
    database) and tier; rather than by a lookup per column as `with_scores` does. At 1,025
    relationships that is 3,075 index probes fewer. (A JSON object instead cost more in decoding
    1,025 values than it saved.)
    """
    verdict = Case(
        When(is_new=True, then=Value(NEW)),
        default=Concat(Cast("score", CharField()), Value(" "), "tier"),
        output_field=CharField(),
    )
    current_row = scores_up_to(as_of.period).filter(relationship=OuterRef("pk")).values(row=verdict)[:1]
    rows = (
        relationships.annotate(
            current_row=Subquery(current_row, output_field=CharField()),
            is_active_now=Case(
                When(active_on(as_of.today, today=as_of.today), then=Value(1)), default=Value(0)
            ),
            was_active=Case(
                When(active_on(as_of.earlier_day, today=as_of.today), then=Value(1)), default=Value(0)
            ),
        )
        .values_list("pk", "current_row", "earlier_score", "is_active_now", "was_active")
        .order_by()  # counted, not listed: no sort
    )
    stats = PortfolioStats(tier_counts=dict.fromkeys(TIER_ORDER, 0))
    scores_now, scores_earlier = [], []
    bin_counts = defaultdict(int)
    for pk, current, earlier, is_active_now, was_active in rows:
        is_new = current == NEW
        score, tier = current.split(" ", 1) if current is not None and not is_new else (None, None)
        stats.relationships += 1
        stats.relationship_ids.append(pk)
        stats.active_now += is_active_now
        stats.active_earlier += was_active
        if earlier is not None:
            scores_earlier.append(Decimal(earlier))
        if is_new:
            stats.new += 1
            continue
        if score is None:
            stats.unscored += 1
            continue
        score = Decimal(score)
        stats.scored += 1
        scores_now.append(score)
        stats.tier_counts[tier] = stats.tier_counts.get(tier, 0) + 1
        bin_index = min(int(score // DISTRIBUTION_BIN), 100 // DISTRIBUTION_BIN - 1)
        bin_counts[(bin_index, scoring.tier_for(score))] += 1
    stats.median_now = median(scores_now)
    stats.median_earlier = median(scores_earlier)
    stats.bins = [
        {
            "label": f"{index * DISTRIBUTION_BIN}–{(index + 1) * DISTRIBUTION_BIN}",
            "counts": {tier.value: bin_counts[(index, tier.value)] for tier in TIER_ORDER},
        }
        for index in range(100 // DISTRIBUTION_BIN)
    ]
    return stats


# --- Projects: delivered per month, the funnel, the largest KPI improvements ------------------


# The relationships a portfolio figure covers: ids, or a subquery of relationship pks (`values("pk")`
# of a scoped selection); None for every relationship the user sees (the scope alone).
Covered = Iterable[int] | QuerySet | None


def portfolio_projects(*, user, relationship_ids: Covered = None) -> QuerySet[InnovationProject]:
    """The visible live projects (of the given relationships)."""
    projects = project_selectors.project_list(user=user)
    if relationship_ids is None:
        return projects
    return projects.filter(relationship_id__in=relationship_ids)


@dataclass
class Deliveries:
    """Delivered projects per quarter and the realised benefit they brought, by currency."""

    quarters: list[dict]
    delivered_now: int
    delivered_earlier: int
    realised_now: dict[str, Decimal]
    realised_earlier: dict[str, Decimal]


def _first_funnel_month(as_of: AsOf) -> dt.date:
    return scoring.add_months(as_of.period, -(FUNNEL_QUARTERS * 3 - 1))


def deliveries(*, projects: QuerySet[InnovationProject], as_of: AsOf) -> Deliveries:
    """One aggregate query: delivered projects and realised benefit per month and currency."""
    rows = (
        projects.filter(
            stage=Stage.DELIVERED,
            delivered_on__gte=_first_funnel_month(as_of),
            delivered_on__lte=as_of.window.end,
        )
        .annotate(month=TruncMonth("delivered_on"))
        .values("month", "relationship__currency")
        .annotate(delivered=Count("id"), realised=Sum("realised_annual_benefit"))
        .order_by()
    )
    return _deliveries_of(rows, as_of)


def _deliveries_of(rows: Iterable[dict], as_of: AsOf) -> Deliveries:
    """Deliveries from rows of (month, relationship__currency, delivered, realised)."""
    first_month = _first_funnel_month(as_of)
    by_month: dict[dt.date, int] = defaultdict(int)
    realised_by_month: dict[tuple[dt.date, str], Decimal] = defaultdict(Decimal)
    for row in rows:
        month = row["month"]
        month = month.date() if isinstance(month, dt.datetime) else month
        by_month[month] += row["delivered"]
        realised_by_month[(month, row["relationship__currency"])] += Decimal(row["realised"] or 0)

    def in_window(window: scoring.Window) -> tuple[int, dict[str, Decimal]]:
        delivered = sum(count for month, count in by_month.items() if window.contains(month))
        realised: dict[str, Decimal] = defaultdict(Decimal)
        for (month, currency), amount in realised_by_month.items():
            if window.contains(month):
                realised[currency] += amount
        return delivered, dict(realised)

    quarters = []
    for index in range(FUNNEL_QUARTERS):
        first = scoring.add_months(first_month, index * 3)
        last = scoring.month_end(scoring.add_months(first, 2))
        quarters.append(
            {
                "label": quarter_label(first, last),
                "short_label": [f"{first:%b}–{last:%b}", f"{last:%Y}"],
                "start": first,
                "end": last,
                "delivered": sum(count for month, count in by_month.items() if first <= month <= last),
            }
        )
    delivered_now, realised_now = in_window(as_of.window)
    delivered_earlier, realised_earlier = in_window(as_of.earlier_window)
    return Deliveries(quarters, delivered_now, delivered_earlier, realised_now, realised_earlier)


@dataclass
class Funnel:
    stages: list[dict]  # {"stage", "label", "count"}, idea → delivered, then cancelled
    levels: list[dict]  # {"level", "label", "count"} of projects not cancelled
    by_stage_level: dict[tuple[str, str], int]


def funnel(*, projects: QuerySet[InnovationProject]) -> Funnel:
    """One aggregate query: live projects by stage and level."""
    return _funnel_of(
        {
            (row["stage"], row["level"]): row["n"]
            for row in projects.values("stage", "level").annotate(n=Count("id")).order_by()
        }
    )


def _funnel_of(counts: dict[tuple[str, str], int]) -> Funnel:
    stages = [
        {
            "stage": stage.value,
            "label": stage.label,
            "count": sum(n for (s, _), n in counts.items() if s == stage),
        }
        for stage in [*FUNNEL_STAGES, Stage.CANCELLED]
    ]
    levels = [
        {
            "level": level.value,
            "label": level.label,
            "count": sum(n for (s, lv), n in counts.items() if lv == level and s != Stage.CANCELLED),
        }
        for level in Level
    ]
    return Funnel(stages=stages, levels=levels, by_stage_level=counts)


def deliveries_and_funnel(*, projects: QuerySet[InnovationProject], as_of: AsOf) -> tuple[Deliveries, Funnel]:
    """`deliveries` and `funnel` in one aggregate query, the same figures: live projects counted by
    stage and level, those delivered in the funnel's quarters also by month and currency.

    Both aggregates read every live project of the portfolio, so their time grows with it; one scan
    instead of two (measured at 1,025 relationships, 7,999 projects: 5.4–6.9 ms against 7–9.5 ms
    for the two, psql, three runs each)."""
    delivered_in_range = Q(
        stage=Stage.DELIVERED,
        delivered_on__gte=_first_funnel_month(as_of),
        delivered_on__lte=as_of.window.end,
    )
    rows = (
        projects.annotate(month=Case(When(delivered_in_range, then=TruncMonth("delivered_on")), default=None))
        .values("stage", "level", "month", "relationship__currency")
        .annotate(n=Count("id"), realised=Sum("realised_annual_benefit"))
        .order_by()
    )
    counts: dict[tuple[str, str], int] = defaultdict(int)
    delivered = []
    for row in rows:
        counts[(row["stage"], row["level"])] += row["n"]
        if row["month"] is not None:
            delivered.append({**row, "delivered": row["n"]})
    return _deliveries_of(delivered, as_of), _funnel_of(dict(counts))


def top_improvements(
    *, user, relationship_ids: Covered = None, window: scoring.Window, limit: int = TOP_IMPROVEMENTS
) -> list[ProjectKPI]:
    """The largest KPI improvements of projects delivered in the window, largest first (one query).

    The database orders by d × (a − b) / |b|; the figures shown come from kpis.scoring on the same
    row (`improvement_pct`), so they are exact. KPIs with a zero baseline or no measurement have no
    improvement and are left out.
    """
    in_window = scope(user, ProjectKPI.objects.all()).filter(
        deleted_at__isnull=True,
        project__deleted_at__isnull=True,
        project__stage=Stage.DELIVERED,
        project__delivered_on__gte=window.start,
        project__delivered_on__lte=window.end,
        project__relationship__deleted_at__isnull=True,
    )
    if relationship_ids is not None:
        in_window = in_window.filter(project__relationship_id__in=relationship_ids)
    # The order is each KPI's stored improvement (kpis.models.LatestMeasurement.improvement_order,
    # improvement_expression of today's latest value, kept by the database): the inner query walks
    # its index from the largest down and stops at the `limit`-th KPI in the window and scope, so
    # its time no longer grows with the portfolio (it ranked every KPI in the window: 4,790 at
    # 1,025 relationships, 10–18 ms, against about 2 ms at 25). Only those ids are then read with
    # their project, relationship and parties. KPIs with no value or a zero baseline have none.
    order = [F("stored_latest__improvement_order").desc(), "id"]
    top_ids = (
        in_window.filter(stored_latest__improvement_order__isnull=False).order_by(*order).values("pk")[:limit]
    )
    ranked = (
        with_latest_values(ProjectKPI.objects.filter(pk__in=top_ids))
        .select_related("kpi", "project", "project__relationship__client", "project__relationship__provider")
        .order_by(*order)
    )
    return [project_kpi for project_kpi in ranked if project_kpi.latest_value is not None]


def sparklines(*, user, relationship_ids: list[int], as_of: AsOf) -> dict[int, list[dict]]:
    """The last 12 months of stored scores of the given relationships, in one query."""
    first = scoring.add_months(as_of.period, -(SPARKLINE_MONTHS - 1))
    lines: dict[int, list[dict]] = {pk: [] for pk in relationship_ids}
    rows = (
        score_list(user=user)
        .filter(relationship_id__in=relationship_ids, period__gte=first, period__lte=as_of.period)
        .order_by("relationship_id", "period")
        .values_list("relationship_id", "period", "score", "is_new")
    )
    for relationship_id, period, score, is_new in rows:
        # A month in which the relationship was new has no score to draw (a gap, not a 0).
        lines[relationship_id].append({"period": period, "score": None if is_new else Decimal(score)})
    return lines


# --- One relationship -------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreHistory:
    """A relationship's stored monthly scores up to the scored month, and the month explained."""

    rows: list[RelationshipScore]  # oldest first
    score: RelationshipScore | None  # the month explained: the one asked for, else the latest
    earlier_score: RelationshipScore | None  # the score a quarter before that month

    @property
    def score_change(self) -> Decimal | None:
        if self.score is None or self.score.is_new or self.earlier_score is None:
            return None
        return self.score.score - self.earlier_score.score


def score_history(
    *, user, relationship: Relationship, as_of: AsOf, month: dt.date | None = None
) -> ScoreHistory:
    """The last HISTORY_MONTHS stored scores (one query); `month` picks the score explained, and a
    month without a stored score falls back to the latest."""
    first = scoring.add_months(as_of.period, -(HISTORY_MONTHS - 1))
    rows = list(
        scope(user, scores_up_to(as_of.period))
        .filter(relationship=relationship, period__gte=first)
        .select_related("relationship")
        .order_by("period")
    )
    score = None
    if month is not None:
        score = next((row for row in rows if row.period == scoring.month_start(month)), None)
    if score is None and rows:
        score = rows[-1]
    earlier_score = None
    if score is not None:
        earlier_period = scoring.add_months(score.period, -3)
        earlier_score = next((row for row in rows if row.period == earlier_period and not row.is_new), None)
    return ScoreHistory(rows=rows, score=score, earlier_score=earlier_score)


def relationship_projects(*, user, relationship: Relationship) -> list[InnovationProject]:
    """The relationship's visible live projects with their KPIs' latest values, latest delivery
    first (two queries)."""
    return list(
        with_kpi_stats(
            project_selectors.project_list(user=user).filter(relationship=relationship).select_related(None)
        ).order_by("-delivered_on", "title", "id")
    )


def stage_counts(projects: Iterable[InnovationProject]) -> list[dict]:
    """{"stage", "label", "count"} of the given projects, idea → delivered, then cancelled."""
    projects = list(projects)
    return [
        {
            "stage": stage.value,
            "label": stage.label,
            "count": sum(1 for project in projects if project.stage == stage),
        }
        for stage in [*FUNNEL_STAGES, Stage.CANCELLED]
    ]


def benefit_totals(projects: Iterable[InnovationProject]) -> dict[str, Decimal]:
    """{"expected", "realised"}: the annual benefits of the given projects summed (none counts 0)."""
    projects = list(projects)
    return {
        "expected": sum((p.expected_annual_benefit or Decimal(0) for p in projects), Decimal(0)),
        "realised": sum((p.realised_annual_benefit or Decimal(0) for p in projects), Decimal(0)),
    }
