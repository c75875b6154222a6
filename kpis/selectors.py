"""Reads of KPIs, measurements and scores, scoped, with the computed figures pages and API show.

Latest values come from one correlated subquery per list (not per row); improvements, target
achievement and project impact are then computed exactly in Python by kpis.scoring from those
annotated values, so a page of any length costs a fixed number of queries.
"""

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import NamedTuple

from django.conf import settings
from django.db import connection
from django.db.models import (
    Avg,
    Case,
    ExpressionWrapper,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
    Window,
)
from django.db.models.expressions import OrderBy
from django.db.models.functions import Abs, Greatest, Least, RowNumber
from django.utils import timezone

from kpis import scoring
from kpis.models import KPI, Measurement, ProjectKPI, RelationshipScore
from projects.access import scope
from projects.models import AuditEntry, InnovationProject, Relationship, SignOff


def kpi_catalogue(*, include_deleted: bool = False) -> QuerySet[KPI]:
    """The KPI catalogue is shared reference data: every signed-in user may read it."""
    kpis = KPI.objects.all()
    return kpis if include_deleted else kpis.filter(deleted_at__isnull=True)


# A project KPI's latest measurement, its "after" value (DESIGN.md §3): the live measurement with the
# latest date, on or before a given day when there is one. Live measurements are unique per (project
# KPI, date) (constraint measurement_one_per_date), so the date alone orders them totally, and the
# probe walks that constraint's index backwards and stops at its first row; an `id` tie-break added
# a sort per KPI to every probe (measured: 35 against 25 ms for 10,500 KPIs, a third of the
# portfolio dashboard's largest query). This is the one definition: pages, API and dashboards read
# it through `with_latest_values`, the roll-up too (its PostgreSQL statement is tested against it:
# tests/kpis/test_rollup.py). Today's latest (no date) is also kept stored per KPI by the database's
# triggers (kpis.models.LatestMeasurement), held to this definition by
# tests/kpis/test_latest_measurement.py.
LATEST_FIRST = ("-measured_on",)

# Today's latest value of the outer project KPI, as stored (kpis.models.LatestMeasurement): one join.
STORED_LATEST_VALUE = F("stored_latest__value")


def live_measurements(*, as_of: dt.date | None = None) -> QuerySet[Measurement]:
    """Live measurements, dated on or before `as_of` when given: those a latest measurement is
    chosen from."""
    measurements = Measurement.objects.filter(deleted_at__isnull=True)
    return measurements if as_of is None else measurements.filter(measured_on__lte=as_of)


def latest_measurement(*, as_of: dt.date | None = None) -> QuerySet[Measurement]:
    """The measurements of the outer query's project KPI (`OuterRef("pk")`), latest first: its first
    row is the latest measurement (as of a date, or now)."""
    return live_measurements(as_of=as_of).filter(project_kpi=OuterRef("pk")).order_by(*LATEST_FIRST)


def latest_measurements(project_kpis: QuerySet[ProjectKPI], *, as_of: dt.date) -> QuerySet[Measurement]:
    """The latest measurement of each of `project_kpis` as of a date, as rows (one query): the same
    choice as `latest_measurement`, ranked by a window function for many KPIs at once."""
    ranked = (
        live_measurements(as_of=as_of)
        .filter(project_kpi__in=project_kpis)
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("project_kpi_id")],
                order_by=[
                    OrderBy(F(key.lstrip("-")), descending=key.startswith("-")) for key in LATEST_FIRST
                ],
            )
        )
    )
    return ranked.filter(rank=1).order_by()


def with_latest_values(
    project_kpis: QuerySet[ProjectKPI], *, as_of: dt.date | None = None
) -> QuerySet[ProjectKPI]:
    """Annotate `latest_value` and `latest_measured_on` of the latest measurement (as of a date, or now)."""
    # improvement_pct reads the KPI's direction: joined here, so a list costs no query per row.
    project_kpis = project_kpis.select_related("kpi")
    if as_of is None:
        # Today's latest is stored per KPI (kpis.models.LatestMeasurement): one join, no probe per KPI.
        return project_kpis.annotate(
            latest_value=STORED_LATEST_VALUE,
            latest_measured_on=F("stored_latest__measured_on"),
        )
    latest = latest_measurement(as_of=as_of)
    return project_kpis.annotate(
        latest_value=Subquery(latest.values("value")[:1]),
        latest_measured_on=Subquery(latest.values("measured_on")[:1]),
    )


def improvement_expression(
    *, latest: str = "latest_value", baseline: str = "baseline_value", direction: str = "kpi__direction"
) -> ExpressionWrapper:
    """kpis.scoring.improvement_pct, d × (a − b) / |b| in %, as a database expression.

    For ordering and filtering in SQL only; figures shown still come from kpis.scoring. Rows with a
    zero baseline or no value must be excluded by the caller (SQL would divide by zero or give
    NULL). tests/kpis/test_scoring_sql.py checks it against the Python definition."""
    sign = Case(
        When(**{direction: KPI.Direction.HIGHER_IS_BETTER}, then=Value(1)),
        default=Value(-1),
        output_field=IntegerField(),
    )
    # A float constant: SQLite keeps whole-number decimals as integers and would divide them as
    # integers (25 × 100 / 60 = 41, not 41.67). A double is exact enough to order by.
    return ExpressionWrapper(
        sign * (F(latest) - F(baseline)) * Value(100.0) / Abs(F(baseline)),
        output_field=FloatField(),
    )


def project_impact_expression() -> Subquery:
    """kpis.scoring.project_impact_pct in SQL, on projects: the mean improvement of the project's
    live KPIs that have one (a latest value and a non-zero baseline), each capped to ±the cap.

    For sorting a list by impact only; the figures shown still come from kpis.scoring (tested
    against it in tests/kpis/test_scoring_sql.py). NULL for a project without any improvement."""
    cap = float(settings.BPO_SCORING["IMPROVEMENT_CAP_PCT"])
    measured = (
        ProjectKPI.objects.filter(project=OuterRef("pk"), deleted_at__isnull=True)
        .exclude(baseline_value=0)
        .annotate(latest_value=STORED_LATEST_VALUE)
        .filter(latest_value__isnull=False)
        .annotate(capped=Greatest(Least(improvement_expression(), Value(cap)), Value(-cap)))
        .order_by()
        .values("project")
        .annotate(mean=Avg("capped"))
        .values("mean")
    )
    return Subquery(measured, output_field=FloatField())


def project_kpi_list(*, user, include_deleted: bool = False) -> QuerySet[ProjectKPI]:
    project_kpis = scope(user, ProjectKPI.objects.all()).select_related("kpi", "project")
    if not include_deleted:
        project_kpis = project_kpis.filter(deleted_at__isnull=True, project__deleted_at__isnull=True)
    return with_latest_values(project_kpis)


def measurement_list(*, user, include_deleted: bool = False) -> QuerySet[Measurement]:
    measurements = scope(user, Measurement.objects.all()).select_related("project_kpi")
    if include_deleted:
        return measurements
    return measurements.filter(deleted_at__isnull=True, project_kpi__deleted_at__isnull=True)


def with_kpi_stats(projects: QuerySet[InnovationProject]) -> QuerySet[InnovationProject]:
    """Prefetch each project's live KPIs with latest values, so `project_impact_pct` costs no query."""
    live_kpis = with_latest_values(ProjectKPI.objects.filter(deleted_at__isnull=True).select_related("kpi"))
    return projects.prefetch_related(Prefetch("project_kpis", queryset=live_kpis, to_attr="live_kpis"))


def project_impact_pct(project: InnovationProject) -> Decimal | None:
    """The project's impact from KPIs prefetched by `with_kpi_stats`."""
    return scoring.project_impact_pct(project_kpi.improvement_pct for project_kpi in project.live_kpis)


class KPIImprovement(NamedTuple):
    """What `project_impact_pct` reads of a project KPI."""

    improvement_pct: Decimal | None


def live_kpi_figures_queryset(project_ids: Iterable[int]) -> QuerySet:
    """(project id, baseline, today's latest value, direction) of each live KPI of these projects,
    in the order `with_kpi_stats` prefetches them: what `project_impact_pct` rests on."""
    return (
        ProjectKPI.objects.filter(deleted_at__isnull=True, project_id__in=project_ids)
        .annotate(latest_value=STORED_LATEST_VALUE)
        .values_list("project_id", "baseline_value", "latest_value", "kpi__direction")
    )


# `live_kpi_figures_queryset` written once as SQL (PostgreSQL): its text depends neither on who asks
# nor on how many projects, so a request sends it without building and compiling a queryset, which
# was most of its cost (measured in process: a project's API answer 7.9–10.2 ms with the queryset,
# 5.4–6.3 ms with no KPI query at all). tests/kpis/test_live_kpi_figures.py holds the two equal.
LIVE_KPI_FIGURES_SQL = """
SELECT pk.project_id, pk.baseline_value, latest.value, k.direction
FROM kpis_projectkpi pk
JOIN kpis_kpi k ON k.id = pk.kpi_id
LEFT JOIN kpis_latestmeasurement latest ON latest.project_kpi_id = pk.id
WHERE pk.deleted_at IS NULL AND pk.project_id = ANY(%s)
ORDER BY pk.project_id, k.name, pk.id
"""


def live_kpi_figures(project_ids: Iterable[int]) -> list[tuple]:
    """`live_kpi_figures_queryset`'s rows, by its written-once SQL where the database has it."""
    ids = list(project_ids)
    if connection.vendor != "postgresql":
        return list(live_kpi_figures_queryset(ids))
    with connection.cursor() as cursor:
        cursor.execute(LIVE_KPI_FIGURES_SQL, [ids])
        return cursor.fetchall()


def live_kpi_improvements(project_ids: Iterable[int]) -> dict[int, list[KPIImprovement]]:
    """The improvements of each project's live KPIs, by project id, in the order `with_kpi_stats`
    prefetches them: what a page of projects read as rows needs for `project_impact_pct`, in one
    query of values rather than two model instances per KPI."""
    improvements: dict[int, list[KPIImprovement]] = {}
    higher = KPI.Direction.HIGHER_IS_BETTER
    for project_id, baseline, latest, direction in live_kpi_figures(project_ids):
        figure = scoring.improvement_pct(
            baseline=baseline, latest=latest, higher_is_better=direction == higher
        )
        improvements.setdefault(project_id, []).append(KPIImprovement(figure))
    return improvements


def scored_month(today: dt.date | None = None) -> dt.date:
    """The month whose score is current on `today` (its first day): today's month. A score stored
    for a later month is not current yet."""
    return scoring.month_start(today or timezone.localdate())


def scores_up_to(month: dt.date) -> QuerySet[RelationshipScore]:
    """Stored scores of `month` and before, newest first.

    The one definition of a relationship's current score: its first row here for the scored month
    (its latest stored score up to that month). Pages and the API read it with
    `with_current_score`, the dashboards sort and filter by it with `current_score_value`.
    """
    return RelationshipScore.objects.filter(period__lte=scoring.month_start(month)).order_by("-period")


def with_current_score(relationships: QuerySet[Relationship], *, today: dt.date | None = None) -> QuerySet:
    """Prefetch each relationship's current score (`scores_up_to`); read it with current_score()."""
    # A sliced prefetch: Django picks the newest row per relationship with a window function.
    latest = scores_up_to(scored_month(today))[:1]
    return relationships.prefetch_related(Prefetch("scores", queryset=latest, to_attr="latest_scores"))


def current_score(relationship: Relationship) -> RelationshipScore | None:
    latest = getattr(relationship, "latest_scores", None)
    if latest is None:
        raise AttributeError("Use kpis.selectors.with_current_score() before current_score().")
    return latest[0] if latest else None


def current_score_value(column: str, *, month: dt.date) -> Subquery:
    """A column of each relationship's current score as of `month` (`scores_up_to`), as a correlated
    subquery on relationships, for sorting and filtering by it in SQL."""
    return Subquery(scores_up_to(month).filter(relationship=OuterRef("pk")).values(column)[:1])


def score_list(*, user) -> QuerySet[RelationshipScore]:
    return scope(user, RelationshipScore.objects.all()).select_related("relationship")


def project_gain_share(project: InnovationProject) -> Decimal | None:
    """The provider's gain-share of a project (share % × (realised − agreed baseline), never below
    0), or None where none is agreed or nothing is realised yet."""
    return scoring.gain_share(
        share_pct=project.gain_share_pct,
        realised_benefit=project.realised_annual_benefit,
        baseline=project.gain_share_baseline,
    )


def gain_share_by_currency(projects: Iterable[tuple[InnovationProject, str]]) -> dict[str, Decimal]:
    """The gain-share of the projects where one is earned, summed per currency. Takes (project,
    currency) pairs: a project's amounts are in its relationship's currency, and sums never mix
    currencies."""
    totals: dict[str, Decimal] = {}
    for project, currency in projects:
        share = project_gain_share(project)
        if share is not None:
            totals[currency] = totals.get(currency, Decimal(0)) + share
    return totals


def project_history(*, project: InnovationProject, limit: int | None = 100) -> QuerySet[AuditEntry]:
    """Audit entries of a project, of its tracked KPIs and their measurements and of its client
    sign-offs, newest first:
    the history the project page and the API's project history both show (`limit=None`: all of
    it, for a paginated reader).

    The caller has read `project` through a scoped selector; its children's entries belong to it.
    Content types are matched by name (a join), not through the content-type cache, so the cost is
    one query whatever the cache holds.
    """

    def of(model, ids) -> Q:
        return Q(
            content_type__app_label=model._meta.app_label,
            content_type__model=model._meta.model_name,
            object_id__in=ids,
        )

    entries = AuditEntry.objects.filter(
        of(InnovationProject, [project.pk])
        | of(ProjectKPI, ProjectKPI.objects.filter(project=project).values("pk"))
        | of(Measurement, Measurement.objects.filter(project_kpi__project=project).values("pk"))
        | of(SignOff, SignOff.objects.filter(project=project).values("pk"))
    )
    entries = entries.select_related("actor", "content_type").order_by("-at", "-id")
    return entries if limit is None else entries[:limit]
