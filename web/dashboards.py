"""Set-based reads behind the executive dashboards: the whole portfolio, and one relationship.

Every figure comes from stored monthly scores (`RelationshipScore`) and a fixed number of
aggregate queries, so a dashboard costs the same number of queries for 10 relationships as for
1,000. Every read starts from `projects.access.scope` (directly or through the selectors), so a
user sees only the figures of relationships they may see.

Dates: a dashboard is read "as of" a day (today by default). The scored month is the month of that
day; "a quarter earlier" is the same point three months before — the month three months earlier
for scores and 12-month windows, the same day three months earlier for who was active.
"""

import datetime as dt
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

import django_filters
from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import (
    Case,
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
from django.db.models.functions import TruncMonth
from django.utils import timezone

from kpis import scoring
from kpis.models import ProjectKPI, RelationshipScore, Tier
from kpis.selectors import improvement_expression, score_list, with_kpi_stats, with_latest_values
from projects import selectors as project_selectors
from projects.access import scope
from projects.filters import RelationshipFilterSet
from projects.models import InnovationProject, Relationship
from projects.sorting import parse_sort, with_id_tie_break

Stage = InnovationProject.Stage
Level = InnovationProject.Level

SCOREBOARD_PAGE_SIZE = 25
TOP_IMPROVEMENTS = 10
SPARKLINE_MONTHS = 12
HISTORY_MONTHS = 24
FUNNEL_QUARTERS = 8
# Score distribution in bins of this many points (0–10, 10–20, …, 90–100).
DISTRIBUTION_BIN = 10

TIER_ORDER = [Tier.HIGH_PERFORMING, Tier.STEADY, Tier.AT_RISK]
FUNNEL_STAGES = InnovationProject.PIPELINE

# Scoreboard columns that can be sorted: the key in the URL → the annotation or field it sorts by.
SCOREBOARD_SORTS = {
    "relationship": "name",
    "client": "client__name",
    "provider": "provider__name",
    "score": "current_score",
    "tier": "current_score",  # the tier follows the score, so sorting by either is the same
    "change": "score_change",
    "impact": "current_impact",
    "attainment": "current_attainment",
    "realisation": "current_realisation",
    "continuity": "current_continuity",
    "delivered": "current_projects_delivered",
}
DEFAULT_SORT = "-score"


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
        period = scoring.month_start(today)
        earlier_period = scoring.add_months(period, -3)
        return cls(
            today=today,
            period=period,
            earlier_day=shift_day(today, -3),
            earlier_period=earlier_period,
            window=scoring.score_window(period),
            earlier_window=scoring.score_window(earlier_period),
        )


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


def _score_at(period: dt.date, column: str) -> Subquery:
    """A column of the relationship's latest stored score up to `period` (a correlated subquery)."""
    latest = RelationshipScore.objects.filter(relationship=OuterRef("pk"), period__lte=period).order_by(
        "-period"
    )
    return Subquery(latest.values(column)[:1])


def with_scores(relationships: QuerySet[Relationship], as_of: AsOf) -> QuerySet[Relationship]:
    """Annotate the current score (latest up to this month), its parts, and the score a quarter earlier."""
    decimal = DecimalField(max_digits=7, decimal_places=2)
    return relationships.annotate(
        current_period=_score_at(as_of.period, "period"),
        current_score=_score_at(as_of.period, "score"),
        current_tier=_score_at(as_of.period, "tier"),
        current_impact=_score_at(as_of.period, "impact"),
        current_attainment=_score_at(as_of.period, "attainment"),
        current_realisation=_score_at(as_of.period, "realisation"),
        current_continuity=_score_at(as_of.period, "continuity"),
        current_projects_delivered=_score_at(as_of.period, "projects_delivered"),
        earlier_score=_score_at(as_of.earlier_period, "score"),
        score_change=ExpressionWrapper(F("current_score") - F("earlier_score"), output_field=decimal),
    )


class PortfolioFilterSet(RelationshipFilterSet):
    """The relationship list's filters plus the current tier; filters the whole dashboard."""

    tier = django_filters.ChoiceFilter(
        field_name="current_tier", choices=Tier.choices, label="Tier", empty_label="All tiers"
    )

    class Meta(RelationshipFilterSet.Meta):
        fields = [*RelationshipFilterSet.Meta.fields, "tier"]


def portfolio_relationships(*, user, as_of: AsOf, params: Mapping | None = None) -> tuple:
    """(filterset, the visible live relationships it selects, annotated with their scores)."""
    relationships = with_scores(
        scope(user, Relationship.objects.filter(deleted_at__isnull=True)).select_related(
            "client", "provider"
        ),
        as_of,
    )
    filterset = PortfolioFilterSet(params or None, queryset=relationships, user=user)
    if filterset.is_bound and filterset.is_valid():
        relationships = filterset.qs
    return filterset, relationships


# --- Headline figures -------------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """A headline figure now and at the same point a quarter earlier."""

    key: str
    label: str
    value: Decimal | int | None
    earlier: Decimal | int | None
    unit: str = ""
    note: str = ""

    @property
    def change(self) -> Decimal | int | None:
        if self.value is None or self.earlier is None:
            return None
        return self.value - self.earlier


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
    unscored: int = 0
    bins: list[dict] = field(default_factory=list)
    # The relationships covered, so that project figures filter by a list rather than re-running
    # the relationships' score subqueries inside every project query.
    relationship_ids: list[int] = field(default_factory=list)


def portfolio_stats(relationships: QuerySet[Relationship], as_of: AsOf) -> PortfolioStats:
    """One query: each relationship's current and earlier score, tier and whether it is active."""
    rows = relationships.annotate(
        is_active_now=Case(When(active_on(as_of.today, today=as_of.today), then=Value(1)), default=Value(0)),
        was_active=Case(
            When(active_on(as_of.earlier_day, today=as_of.today), then=Value(1)), default=Value(0)
        ),
    ).values_list("pk", "current_score", "current_tier", "earlier_score", "is_active_now", "was_active")
    stats = PortfolioStats(tier_counts=dict.fromkeys(TIER_ORDER, 0))
    scores_now, scores_earlier = [], []
    bin_counts = defaultdict(int)
    for pk, score, tier, earlier, is_active_now, was_active in rows:
        stats.relationships += 1
        stats.relationship_ids.append(pk)
        stats.active_now += is_active_now
        stats.active_earlier += was_active
        if earlier is not None:
            scores_earlier.append(Decimal(earlier))
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


def _portfolio_projects(*, user, relationship_ids: list[int]) -> QuerySet[InnovationProject]:
    return project_selectors.project_list(user=user).filter(relationship_id__in=relationship_ids)


@dataclass
class Deliveries:
    """Delivered projects per quarter and the realised benefit they brought, by currency."""

    quarters: list[dict]
    delivered_now: int
    delivered_earlier: int
    realised_now: dict[str, Decimal]
    realised_earlier: dict[str, Decimal]


def deliveries(*, projects: QuerySet[InnovationProject], as_of: AsOf) -> Deliveries:
    """One aggregate query: delivered projects and realised benefit per month and currency."""
    first_month = scoring.add_months(as_of.period, -(FUNNEL_QUARTERS * 3 - 1))
    rows = (
        projects.filter(
            stage=Stage.DELIVERED, delivered_on__gte=first_month, delivered_on__lte=as_of.window.end
        )
        .annotate(month=TruncMonth("delivered_on"))
        .values("month", "relationship__currency")
        .annotate(delivered=Count("id"), realised=Sum("realised_annual_benefit"))
        .order_by()
    )
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
    counts = {
        (row["stage"], row["level"]): row["n"]
        for row in projects.values("stage", "level").annotate(n=Count("id")).order_by()
    }
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


def top_improvements(
    *, user, relationship_ids: list[int], window: scoring.Window, limit: int = TOP_IMPROVEMENTS
) -> list[ProjectKPI]:
    """The largest KPI improvements of projects delivered in the window, largest first (one query).

    The database orders by d × (a − b) / |b|; the figures shown come from kpis.scoring on the same
    row (`improvement_pct`), so they are exact. KPIs with a zero baseline or no measurement have no
    improvement and are left out.
    """
    project_kpis = with_latest_values(
        scope(user, ProjectKPI.objects.all()).filter(
            deleted_at__isnull=True,
            project__deleted_at__isnull=True,
            project__stage=Stage.DELIVERED,
            project__delivered_on__gte=window.start,
            project__delivered_on__lte=window.end,
            project__relationship_id__in=relationship_ids,
            project__relationship__deleted_at__isnull=True,
        )
    )
    return list(
        project_kpis.exclude(baseline_value=0)
        .filter(latest_value__isnull=False)
        .annotate(improvement_order=improvement_expression())
        .select_related("kpi", "project", "project__relationship__client", "project__relationship__provider")
        .order_by("-improvement_order", "id")[:limit]
    )


# --- The portfolio dashboard ------------------------------------------------------------------


@dataclass
class PortfolioDashboard:
    as_of: AsOf
    filterset: PortfolioFilterSet
    sort: str
    page: Page
    sparklines: dict[int, list[dict]]
    stats: PortfolioStats
    figures: list[Figure]
    realised: list[Figure]
    deliveries: Deliveries
    funnel: Funnel
    improvements: list[ProjectKPI]


def scoreboard_order(sort: str) -> tuple[str, list]:
    """The sort key actually applied (unknown keys fall back to the default) and its ordering."""
    parsed = parse_sort(sort, allowed=SCOREBOARD_SORTS, default=DEFAULT_SORT)
    # Relationships without a score (or change) come last either way; equal ones by name.
    ordering = [*parsed.ordering([SCOREBOARD_SORTS[parsed.key]], nulls_last=True), "name"]
    return parsed.param, with_id_tie_break(ordering)


def sparklines(*, user, relationship_ids: list[int], as_of: AsOf) -> dict[int, list[dict]]:
    """The last 12 months of stored scores of the given relationships, in one query."""
    first = scoring.add_months(as_of.period, -(SPARKLINE_MONTHS - 1))
    lines: dict[int, list[dict]] = {pk: [] for pk in relationship_ids}
    rows = (
        score_list(user=user)
        .filter(relationship_id__in=relationship_ids, period__gte=first, period__lte=as_of.period)
        .order_by("relationship_id", "period")
        .values_list("relationship_id", "period", "score")
    )
    for relationship_id, period, score in rows:
        lines[relationship_id].append({"period": period, "score": Decimal(score)})
    return lines


def portfolio_dashboard(
    *,
    user,
    params: Mapping | None = None,
    sort: str = DEFAULT_SORT,
    page_number=1,
    today: dt.date | None = None,
    page_size: int = SCOREBOARD_PAGE_SIZE,
) -> PortfolioDashboard:
    as_of = AsOf.of(today)
    filterset, relationships = portfolio_relationships(user=user, as_of=as_of, params=params)
    sort, ordering = scoreboard_order(sort or DEFAULT_SORT)
    page = Paginator(relationships.order_by(*ordering), page_size).get_page(page_number)
    lines = sparklines(user=user, relationship_ids=[r.pk for r in page], as_of=as_of)
    stats = portfolio_stats(relationships, as_of)
    projects = _portfolio_projects(user=user, relationship_ids=stats.relationship_ids)
    delivered = deliveries(projects=projects, as_of=as_of)
    figures = [
        Figure("active", "Active relationships", stats.active_now, stats.active_earlier),
        Figure(
            "delivered",
            "Projects delivered, last 12 months",
            delivered.delivered_now,
            delivered.delivered_earlier,
        ),
        Figure("median", "Median relationship score", stats.median_now, stats.median_earlier),
    ]
    currencies = sorted(
        set(delivered.realised_now) | set(delivered.realised_earlier),
        key=lambda currency: -delivered.realised_now.get(currency, Decimal(0)),
    )
    realised = [
        Figure(
            "realised",
            "Realised annual benefit, last 12 months",
            delivered.realised_now.get(currency, Decimal(0)),
            delivered.realised_earlier.get(currency, Decimal(0)),
            unit=currency,
        )
        for currency in currencies
    ] or [Figure("realised", "Realised annual benefit, last 12 months", Decimal(0), Decimal(0))]
    return PortfolioDashboard(
        as_of=as_of,
        filterset=filterset,
        sort=sort,
        page=page,
        sparklines=lines,
        stats=stats,
        figures=figures,
        realised=realised,
        deliveries=delivered,
        funnel=funnel(projects=projects),
        improvements=top_improvements(
            user=user, relationship_ids=stats.relationship_ids, window=as_of.window
        ),
    )


# --- The relationship dashboard ---------------------------------------------------------------


@dataclass
class RelationshipDashboard:
    as_of: AsOf
    relationship: Relationship
    history: list[RelationshipScore]  # oldest first
    score: RelationshipScore | None  # the month explained ("why this score")
    earlier_score: RelationshipScore | None  # the score a quarter before that month
    why: dict | None
    projects: list[InnovationProject]
    stage_counts: list[dict]
    delivered: list[InnovationProject]
    benefits: dict

    @property
    def score_change(self) -> Decimal | None:
        if self.score is None or self.earlier_score is None:
            return None
        return self.score.score - self.earlier_score.score


def relationship_dashboard(
    *, user, pk: int, month: dt.date | None = None, today: dt.date | None = None
) -> RelationshipDashboard:
    """One relationship in depth; raises Relationship.DoesNotExist when it is not visible."""
    as_of = AsOf.of(today)
    relationship = project_selectors.relationship_get(user=user, pk=pk)
    first = scoring.add_months(as_of.period, -(HISTORY_MONTHS - 1))
    history = list(
        score_list(user=user)
        .filter(relationship=relationship, period__gte=first, period__lte=as_of.period)
        .order_by("period")
    )
    score = None
    if month is not None:
        score = next((row for row in history if row.period == scoring.month_start(month)), None)
    if score is None and history:
        score = history[-1]
    earlier_score = None
    if score is not None:
        earlier_period = scoring.add_months(score.period, -3)
        earlier_score = next((row for row in history if row.period == earlier_period), None)
    projects = list(
        with_kpi_stats(
            project_selectors.project_list(user=user).filter(relationship=relationship).select_related(None)
        ).order_by("-delivered_on", "title", "id")
    )
    stage_counts = [
        {
            "stage": stage.value,
            "label": stage.label,
            "count": sum(1 for project in projects if project.stage == stage),
        }
        for stage in [*FUNNEL_STAGES, Stage.CANCELLED]
    ]
    delivered = [project for project in projects if project.stage == Stage.DELIVERED]
    expected = sum((p.expected_annual_benefit or Decimal(0) for p in delivered), Decimal(0))
    realised = sum((p.realised_annual_benefit or Decimal(0) for p in delivered), Decimal(0))
    return RelationshipDashboard(
        as_of=as_of,
        relationship=relationship,
        history=history,
        score=score,
        earlier_score=earlier_score,
        why=explain(score) if score is not None else None,
        projects=projects,
        stage_counts=stage_counts,
        delivered=delivered,
        benefits={"expected": expected, "realised": realised},
    )


def _decimal_or_none(value) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value))


def explain(score: RelationshipScore) -> dict:
    """ "Why this score", read from the stored components (the trace to the rows it came from).

    Returns each component with its value, its weight, the weight actually used once components
    without data are left out, and the points it contributes (100 × weight used × value), which add
    up to the score; plus the inputs of each component and the projects and KPIs behind them.
    """
    components = score.components or {}
    weights = {name: _decimal_or_none(v) for name, v in (components.get("weights") or {}).items()}
    weights = weights or scoring.weights()
    values = {}
    for name in scoring.COMPONENTS:
        stored = getattr(score, name)
        detail_value = (components.get(name) or {}).get("value")
        values[name] = Decimal(stored) if stored is not None else _decimal_or_none(detail_value)
    basis = [name for name in scoring.COMPONENTS if values[name] is not None]
    weight_total = sum((weights.get(name) or Decimal(0) for name in basis), Decimal(0))
    weights_used = {name: _decimal_or_none(v) for name, v in (components.get("weights_used") or {}).items()}
    rows = []
    for name in scoring.COMPONENTS:
        value, used = values[name], None
        if value is not None:
            # The exact rescaled weight, as the score was combined (the stored weights_used are
            # rounded), so that the points add up to the unrounded score.
            if weight_total and weights.get(name) is not None:
                used = weights[name] / weight_total
            else:
                used = weights_used.get(name)
        rows.append(
            {
                "name": name,
                "label": name.capitalize(),
                "value": value,
                "weight": weights.get(name),
                "weight_used": used,
                # 100 × (weight ÷ Σ weights of the basis) × value: the points add up to the score.
                "points": Decimal(100) * used * value if used is not None else None,
                "detail": components.get(name) or {},
            }
        )
    impact = components.get("impact") or {}
    projects = []
    for project in impact.get("projects") or []:
        kpis = [
            {
                **kpi,
                "baseline": _decimal_or_none(kpi.get("baseline")),
                "latest": _decimal_or_none(kpi.get("latest")),
                "target": _decimal_or_none(kpi.get("target")),
                "improvement_pct": _decimal_or_none(kpi.get("improvement_pct")),
                "target_achievement_pct": _decimal_or_none(kpi.get("target_achievement_pct")),
                "latest_measured_on": _date_or_none(kpi.get("latest_measured_on")),
            }
            for kpi in project.get("kpis") or []
        ]
        projects.append(
            {
                **project,
                "impact_pct": _decimal_or_none(project.get("impact_pct")),
                "delivered_on": _date_or_none(project.get("delivered_on")),
                "kpis": kpis,
            }
        )
    window = components.get("window") or {}
    realisation = components.get("realisation") or {}
    continuity = components.get("continuity") or {}
    return {
        "components": rows,
        "terms": [row for row in rows if row["value"] is not None],
        "basis": basis,
        "weight_total": weight_total,
        "points_total": sum((row["points"] for row in rows if row["points"] is not None), Decimal(0)),
        "window_start": _date_or_none(window.get("start")),
        "window_end": _date_or_none(window.get("end")),
        "mean_impact_pct": _decimal_or_none(impact.get("mean_impact_pct")),
        "projects": projects,
        "kpis_with_target": (components.get("attainment") or {}).get("kpis_with_target"),
        "realised_sum": _decimal_or_none(realisation.get("realised_sum")),
        "expected_sum": _decimal_or_none(realisation.get("expected_sum")),
        "projects_counted": realisation.get("projects_counted"),
        "quarters": [
            {
                "start": _date_or_none(quarter.get("start")),
                "end": _date_or_none(quarter.get("end")),
                "delivered": quarter.get("delivered", 0),
            }
            for quarter in continuity.get("quarters") or []
        ],
    }


def _date_or_none(value) -> dt.date | None:
    if not value:
        return None
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
