"""The dashboards' view work: the scoreboard's sorting, filters from the URL and paging, the
headline figures' labels, and the assembly of each dashboard from the domain's set-based reads
(kpis.dashboard_selectors), which hold every figure and its query count."""

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

import django_filters
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django_filters.constants import EMPTY_VALUES

from kpis import dashboard_selectors as reads
from kpis.dashboard_selectors import AsOf, Deliveries, Funnel, PortfolioStats
from kpis.explanation import ScoreExplanation
from kpis.models import ProjectKPI, RelationshipScore, Tier
from projects import selectors as project_selectors
from projects.filters import RelationshipFilterSet
from projects.models import InnovationProject, Relationship
from projects.sorting import parse_sort, with_id_tie_break

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
    # "Improving most": the quarter's rise, only where it is not a rebound (dashboard_selectors).
    "improving": "improving_change",
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


def narrows(filterset: PortfolioFilterSet) -> bool:
    """Whether the filter was applied with a value, i.e. may leave out visible relationships."""
    if not (filterset.is_bound and filterset.is_valid()):
        return False
    return any(value not in EMPTY_VALUES for value in filterset.form.cleaned_data.values())


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
    # The relationships the figures cover: a subquery of the filtered ones, or None for all the
    # visible live ones (`kpis.dashboard_selectors.portfolio_projects`).
    covered: QuerySet | None


def scoreboard_order(sort: str) -> tuple[str, list]:
    """The sort key actually applied (unknown keys fall back to the default) and its ordering."""
    parsed = parse_sort(sort, allowed=SCOREBOARD_SORTS, default=DEFAULT_SORT)
    # Relationships without a score (or change) come last either way; equal ones by name.
    ordering = [*parsed.ordering([SCOREBOARD_SORTS[parsed.key]], nulls_last=True), "name"]
    return parsed.param, with_id_tie_break(ordering)


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
    # The project reads cover the relationships selected: all the visible live ones (the scope the
    # project selectors apply themselves) unless the filter narrows them, then the same scoped,
    # filtered selection as a subquery. Not a list of their ids: at 1,025 relationships the ORM
    # spent about 15 ms of each render preparing it as 1,025 parameters for every query using it.
    covered = relationships.values("pk") if narrows(filterset) else None
    projects = reads.portfolio_projects(user=user, relationship_ids=covered)
    delivered, funnel = reads.deliveries_and_funnel(projects=projects, as_of=as_of)
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
        funnel=funnel,
        covered=covered,
        improvements=reads.top_improvements(user=user, relationship_ids=covered, window=as_of.window),
    )


# --- The relationship dashboard ---------------------------------------------------------------


@dataclass
class RelationshipDashboard:
    as_of: AsOf
    relationship: Relationship
    history: list[RelationshipScore]  # oldest first
    score: RelationshipScore | None  # the month explained ("why this score")
    earlier_score: RelationshipScore | None  # the score a quarter before that month
    why: ScoreExplanation | None  # "why this score", for `score`
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
        why=ScoreExplanation.of_score(history.score) if history.score is not None else None,
        projects=projects,
        stage_counts=reads.stage_counts(projects),
        delivered=delivered,
        benefits=reads.benefit_totals(delivered),
    )
