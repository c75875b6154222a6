"""What a quarterly business review pack shows, gathered from the selectors that feed the dashboards.

A pack covers one relationship and one calendar quarter. Its score figures are the stored monthly
scores (the same rows the relationship dashboard and the API's `scores` read, so the pack, the page
and the API never disagree), "why this score" is the stored explanation of the quarter's last
month, and the benchmark comes from `kpis.benchmarks`. Projects, benefits and the pipeline are as
recorded when the pack is generated; the pack says so, and a stored pack keeps what it showed.

Hooks for figures other features add (`pack_sections`): the contested-figure markers and the
relationship pulse / trust index are not part of the pack yet; a feature that has them registers a
provider with `register_pack_section`, and the pack template places what it returns in its slot.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from kpis import benchmarks, dashboard_selectors, scoring
from kpis import selectors as kpi_selectors
from kpis.explanation import ProjectExplanation, ScoreExplanation
from kpis.models import RelationshipScore
from projects.models import AuditEntry, InnovationProject, LeadershipPair, Relationship
from reviews import charts
from reviews.quarters import Quarter

Stage = InnovationProject.Stage
TREND_MONTHS = 12


def _options() -> dict:
    return settings.BPO_QBR


# --- Hooks for other features ----------------------------------------------------------------------

# Slots a section can fill: after the score, after "why this score", at the end.
SLOTS = ("after_score", "after_why", "end")


@dataclass(frozen=True)
class PackSection:
    """A section another feature adds to the pack: a title and rows of (label, value) text, or a
    template of its own with its context."""

    slot: str
    title: str
    rows: tuple[tuple[str, str], ...] = ()
    template_name: str | None = None
    context: dict = field(default_factory=dict)


_section_providers: list[Callable[["PackData"], PackSection | None]] = []


def register_pack_section(provider: Callable[["PackData"], PackSection | None]) -> None:
    """Add a section to every pack: `provider(pack)` returns one (or None to add nothing).

    Meant for the relationship pulse and trust index, and for listing contested figures; those
    features call this from their AppConfig.ready().
    """
    if provider not in _section_providers:
        _section_providers.append(provider)


_contested_figures: list[Callable[["PackData"], set[int]]] = []


def register_contested_figures(provider: Callable[["PackData"], set[int]]) -> None:
    """Mark figures as contested in the pack: `provider(pack)` returns the ids of project KPIs whose
    figures are disputed; the pack marks them (†) wherever it shows them."""
    if provider not in _contested_figures:
        _contested_figures.append(provider)


# --- The pack's data ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreMonth:
    row: RelationshipScore | None
    period: dt.date


@dataclass(frozen=True)
class BenefitLine:
    project: InnovationProject
    gain_share: Decimal | None
    delivered_this_quarter: bool


@dataclass(frozen=True)
class StuckProject:
    project: InnovationProject
    since: dt.date
    days: int


@dataclass
class PackData:
    relationship: Relationship
    quarter: Quarter
    generated_at: dt.datetime
    leadership: LeadershipPair | None  # the pair leading at the quarter's end
    months: list[ScoreMonth]  # the quarter's three months
    score: RelationshipScore | None  # the quarter's last month
    why: ScoreExplanation | None
    previous_quarter: RelationshipScore | None
    year_ago: RelationshipScore | None
    trend: list[RelationshipScore]  # the 12 months ending with the quarter, oldest first
    trend_svg: str
    counted: list[ProjectExplanation]  # the projects behind the score
    delivered_this_quarter: set[int]
    benefits: list[BenefitLine]
    benefit_totals: dict[str, dict[str, Decimal]]  # currency → expected, realised, gain_share
    stage_counts: list[dict]
    next_to_deliver: list[InnovationProject]
    next_to_start: list[InnovationProject]
    stuck: list[StuckProject]
    cancelled: list[tuple[InnovationProject, dt.date]]
    benchmarks: list[dict]  # {"benchmark": Benchmark, "strip": svg or None}
    contested: set[int] = field(default_factory=set)
    sections: dict[str, list[PackSection]] = field(default_factory=dict)

    @property
    def currency(self) -> str:
        return self.relationship.currency

    @property
    def change_on_quarter(self) -> Decimal | None:
        return _change(self.score, self.previous_quarter)

    @property
    def change_on_year(self) -> Decimal | None:
        return _change(self.score, self.year_ago)


def _change(score: RelationshipScore | None, earlier: RelationshipScore | None) -> Decimal | None:
    if score is None or earlier is None or score.is_new or earlier.is_new:
        return None
    return score.score - earlier.score


def _leadership_at(relationship: Relationship, day: dt.date) -> LeadershipPair | None:
    for pair in relationship.leadership_pairs.all():
        if pair.started_on <= day and (pair.ended_on is None or pair.ended_on >= day):
            return pair
    return None


def _stage_since(projects: list[InnovationProject]) -> dict[int, dt.date]:
    """When each project entered its current stage: the stage's own date where it has one (started
    on, proposed on), else its latest stage change in the audit (or its creation)."""
    if not projects:
        return {}
    dated = {}
    for project in projects:
        field_name = InnovationProject.STAGE_DATE_FIELDS.get(project.stage)
        if field_name and getattr(project, field_name):
            dated[project.pk] = getattr(project, field_name)
    rows = (
        AuditEntry.objects.filter(
            content_type__app_label="projects",
            content_type__model="innovationproject",
            object_id__in=[project.pk for project in projects],
            action__in=[AuditEntry.Action.CREATE, AuditEntry.Action.TRANSITION],
        )
        .values("object_id")
        .annotate(at=Max("at"))
        .values_list("object_id", "at")
    )
    return {object_id: timezone.localtime(at).date() for object_id, at in rows} | dated


def pack_data(relationship: Relationship, quarter: Quarter, *, now: dt.datetime | None = None) -> PackData:
    """Everything the pack of `relationship` for `quarter` shows. The relationship must come from the
    scoped selectors (projects.selectors.relationship_get) or a job that may read every one."""
    now = now or timezone.now()
    last_month = quarter.last_month
    first_trend = scoring.add_months(last_month, -(TREND_MONTHS - 1))
    year_ago_month = scoring.add_months(last_month, -12)
    previous_month = quarter.shifted(-1).last_month
    rows = {
        row.period: row
        for row in kpi_selectors.scores_up_to(last_month).filter(
            relationship=relationship, period__gte=year_ago_month
        )
    }
    score = rows.get(last_month)
    trend = [rows[period] for period in sorted(rows) if period >= first_trend]
    why = ScoreExplanation.of_score(score) if score is not None else None
    counted = list(why.projects) if why is not None else []

    projects = list(
        kpi_selectors.with_kpi_stats(
            InnovationProject.objects.filter(relationship=relationship, deleted_at__isnull=True)
        ).order_by("-delivered_on", "title", "id")
    )
    delivered = [project for project in projects if project.stage == Stage.DELIVERED]
    benefits = [
        BenefitLine(
            project=project,
            gain_share=kpi_selectors.project_gain_share(project),
            delivered_this_quarter=quarter.contains(project.delivered_on),
        )
        for project in delivered
        if project.delivered_on is not None and project.delivered_on <= quarter.last_day
    ]
    totals: dict[str, dict[str, Decimal]] = {}
    for line in benefits:
        currency = totals.setdefault(
            relationship.currency, {"expected": Decimal(0), "realised": Decimal(0), "gain_share": Decimal(0)}
        )
        currency["expected"] += line.project.expected_annual_benefit or 0
        currency["realised"] += line.project.realised_annual_benefit or 0
        currency["gain_share"] += line.gain_share or 0

    open_projects = [project for project in projects if project.stage in InnovationProject.OPEN_STAGES]
    closing = [project for project in projects if project.stage == Stage.CANCELLED]
    since = _stage_since(open_projects + closing)
    stuck_after = _options()["STUCK_DAYS"]
    reference = min(quarter.last_day, now.date())
    stuck = sorted(
        (
            StuckProject(project, since[project.pk], (reference - since[project.pk]).days)
            for project in open_projects
            if project.stage != Stage.IDEA
            and project.pk in since
            and (reference - since[project.pk]).days > stuck_after
        ),
        key=lambda row: -row.days,
    )
    cancelled = [
        (project, since[project.pk]) for project in closing if quarter.contains(since.get(project.pk))
    ]

    peer_rows = []
    if score is not None:
        for benchmark in benchmarks.relationship_benchmarks(relationship, period=last_month):
            strip = None
            if benchmark.available:
                strip = charts.benchmark_strip(
                    score=benchmark.score, p25=benchmark.p25, median=benchmark.median, p75=benchmark.p75
                )
            peer_rows.append({"benchmark": benchmark, "strip": strip})

    pack = PackData(
        relationship=relationship,
        quarter=quarter,
        generated_at=now,
        leadership=_leadership_at(relationship, quarter.last_day),
        months=[ScoreMonth(rows.get(month), month) for month in quarter.months],
        score=score,
        why=why,
        previous_quarter=rows.get(previous_month),
        year_ago=rows.get(year_ago_month),
        trend=trend,
        trend_svg=charts.score_trend(
            [
                charts.TrendPoint(
                    period, None if rows.get(period) is None or rows[period].is_new else rows[period].score
                )
                for period in (scoring.add_months(first_trend, offset) for offset in range(TREND_MONTHS))
                if rows.get(period) is not None
            ],
            bands=dashboard_selectors.tier_bands(),
        ),
        counted=counted,
        delivered_this_quarter={project.id for project in counted if quarter.contains(project.delivered_on)},
        benefits=benefits,
        benefit_totals=totals,
        stage_counts=dashboard_selectors.stage_counts(projects),
        next_to_deliver=[project for project in open_projects if project.stage == Stage.IN_PROGRESS],
        next_to_start=[project for project in open_projects if project.stage == Stage.APPROVED],
        stuck=stuck,
        cancelled=cancelled,
        benchmarks=peer_rows,
    )
    for provider in _contested_figures:
        pack.contested |= set(provider(pack))
    for provider in _section_providers:
        section = provider(pack)
        if section is not None and section.slot in SLOTS:
            pack.sections.setdefault(section.slot, []).append(section)
    return pack
