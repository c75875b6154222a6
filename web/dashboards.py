"""The dashboards' view work: the scoreboard's sorting, filters from the URL and paging, the
headline figures' labels, and the assembly of each dashboard from the domain's set-based reads
(kpis.dashboard_selectors), which hold every figure and its query count."""

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

import django_filters
from django.core.paginator import Page, Paginator
from django.db.models import F

from kpis import dashboard_selectors as reads
from kpis import scoring
from kpis.dashboard_selectors import AsOf, Deliveries, Funnel, PortfolioStats
from kpis.models import ProjectKPI, RelationshipScore, Tier
from projects import selectors as project_selectors
from projects.filters import RelationshipFilterSet
from projects.models import InnovationProject, Relationship

Stage = InnovationProject.Stage

SCOREBOARD_PAGE_SIZE = 25

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


class PortfolioFilterSet(RelationshipFilterSet):
    """The relationship list's filters plus the current tier; filters the whole dashboard."""

    tier = django_filters.ChoiceFilter(
        field_name="current_tier", choices=Tier.choices, label="Tier", empty_label="All tiers"
    )

    class Meta(RelationshipFilterSet.Meta):
        fields = [*RelationshipFilterSet.Meta.fields, "tier"]


def portfolio_relationships(*, user, as_of: AsOf, params: Mapping | None = None) -> tuple:
    """(filterset, the visible live relationships it selects, annotated with their scores)."""
    relationships = reads.portfolio_relationships(user=user, as_of=as_of)
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
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    if key not in SCOREBOARD_SORTS:
        return scoreboard_order(DEFAULT_SORT)
    column = F(SCOREBOARD_SORTS[key])
    ordering = column.desc(nulls_last=True) if descending else column.asc(nulls_last=True)
    return sort, [ordering, "name", "id"]


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
    lines = reads.sparklines(user=user, relationship_ids=[r.pk for r in page], as_of=as_of)
    stats = reads.portfolio_stats(relationships, as_of)
    projects = reads.portfolio_projects(user=user, relationship_ids=stats.relationship_ids)
    delivered = reads.deliveries(projects=projects, as_of=as_of)
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
        funnel=reads.funnel(projects=projects),
        improvements=reads.top_improvements(
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
        return reads.ScoreHistory(self.history, self.score, self.earlier_score).score_change


def relationship_dashboard(
    *, user, pk: int, month: dt.date | None = None, today: dt.date | None = None
) -> RelationshipDashboard:
    """One relationship in depth; raises Relationship.DoesNotExist when it is not visible."""
    as_of = AsOf.of(today)
    relationship = project_selectors.relationship_get(user=user, pk=pk)
    history = reads.score_history(user=user, relationship=relationship, as_of=as_of, month=month)
    projects = reads.relationship_projects(user=user, relationship=relationship)
    delivered = [project for project in projects if project.stage == Stage.DELIVERED]
    return RelationshipDashboard(
        as_of=as_of,
        relationship=relationship,
        history=history.rows,
        score=history.score,
        earlier_score=history.earlier_score,
        why=explain(history.score) if history.score is not None else None,
        projects=projects,
        stage_counts=reads.stage_counts(projects),
        delivered=delivered,
        benefits=reads.benefit_totals(delivered),
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
