"""A score's explanation ("why 72?"): one typed structure, written by the roll-up and read by the pages.

The roll-up builds a `ScoreExplanation` for every relationship it scores and stores
`ScoreExplanation.to_json()` in `RelationshipScore.components`; the API returns that stored document
as the score's `inputs`; the pages read it back with `ScoreExplanation.of_score(row)`. The document
is compact JSON with figures as strings (exact decimals, never floats), in a fixed key order (the
contract is pinned by tests/kpis/test_rollup.py).

How a component is rounded is decided here once: stored to 6 decimal places (0–1), shown as a
percentage to 2 (`component_pct`: 0.607143 → 60.71), on every page that shows one.

The per-KPI and per-project entries are named tuples rather than dataclasses: a roll-up builds tens
of thousands per batch, and a frozen dataclass's __init__ costs several times a tuple's (measured).
"""

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

from kpis import scoring
from kpis.scoring import COMPONENT_PLACES, COMPONENTS, PERCENT_PLACES, quantize

ZERO = Decimal(0)
HUNDRED = Decimal(100)


def component_pct(value: Decimal | None) -> Decimal | None:
    """A 0–1 component as the percentage every page shows: 0.607143 → 60.71 (half up); None stays None."""
    return quantize(value * HUNDRED, PERCENT_PLACES) if value is not None else None


class KPIExplanation(NamedTuple):
    """One KPI of a delivered project, as of the scored month's end."""

    project_kpi_id: int
    kpi: str  # the catalogue KPI's name
    unit: str
    direction: str
    baseline: Decimal | None
    latest: Decimal | None
    latest_measured_on: dt.date | None
    improvement_pct: Decimal | None  # stored to 2 decimal places
    target: Decimal | None
    target_achievement_pct: Decimal | None  # stored to 2 decimal places


class ProjectExplanation(NamedTuple):
    """A project delivered in the window, with the KPIs behind its impact."""

    id: int
    title: str
    level: str
    level_weight: int
    delivered_on: dt.date | None
    impact_pct: Decimal | None  # stored to 2 decimal places
    kpis: tuple[KPIExplanation, ...]


class QuarterExplanation(NamedTuple):
    start: dt.date | None
    end: dt.date | None
    delivered: int


@dataclass(frozen=True)
class ComponentExplanation:
    """One component of a score: its value (0–1), its weight, and the weight it got in the score."""

    name: str
    value: Decimal | None  # None: no data, left out of the score
    weight: Decimal | None
    weight_used: Decimal | None  # the weight rescaled over the components the score rests on

    @property
    def label(self) -> str:
        return self.name.capitalize()

    @property
    def used(self) -> bool:
        return self.value is not None

    @property
    def percent(self) -> Decimal | None:
        return component_pct(self.value)

    @property
    def points(self) -> Decimal | None:
        """100 × weight used × value: the points of all components add up to the score."""
        if self.value is None or self.weight_used is None:
            return None
        return HUNDRED * self.weight_used * self.value


@dataclass(frozen=True)
class ScoreExplanation:
    """What a month's score was computed from, component by component, with the projects behind it."""

    weights: Mapping[str, Decimal]
    weights_used: Mapping[str, Decimal]  # as stored (6 decimal places); `components` has them exact
    window_start: dt.date | None
    window_end: dt.date | None
    impact: Decimal | None
    mean_impact_pct: Decimal | None
    projects: tuple[ProjectExplanation, ...]
    attainment: Decimal | None
    kpis_with_target: int | None
    realisation: Decimal | None
    realised_sum: Decimal | None
    expected_sum: Decimal | None
    projects_counted: int | None
    continuity: Decimal | None
    quarters: tuple[QuarterExplanation, ...]
    # Projects expecting a benefit left out of realisation while in their grace period (DESIGN §4).
    projects_in_grace: int = 0
    # From the score row, not the document (of_score): why a score is what it is before any
    # component — new (not scored yet), or nothing delivered in the 12 months.
    is_new: bool = False
    projects_delivered: int | None = None

    @property
    def no_delivery(self) -> bool:
        """Nothing delivered in the window: continuity 0 and no other data, so the score is 0."""
        return not self.is_new and self.projects_delivered == 0

    # --- Read by the pages ----------------------------------------------------------------------

    @property
    def basis(self) -> list[str]:
        """The components the score rests on (the others had no data)."""
        return [name for name in COMPONENTS if getattr(self, name) is not None]

    @property
    def weight_total(self) -> Decimal:
        return sum((self.weights.get(name) or ZERO for name in self.basis), ZERO)

    @property
    def components(self) -> tuple[ComponentExplanation, ...]:
        weight_total = self.weight_total
        rows = []
        for name in COMPONENTS:
            value, weight, used = getattr(self, name), self.weights.get(name), None
            if value is not None:
                # The exact rescaled weight, as the score was combined (the stored weights_used
                # are rounded), so that the points add up to the unrounded score.
                used = (
                    weight / weight_total
                    if weight_total and weight is not None
                    else self.weights_used.get(name)
                )
            rows.append(ComponentExplanation(name=name, value=value, weight=weight, weight_used=used))
        return tuple(rows)

    @property
    def terms(self) -> tuple[ComponentExplanation, ...]:
        """The components the score rests on, in order."""
        return tuple(component for component in self.components if component.used)

    @property
    def points_total(self) -> Decimal:
        return sum((c.points for c in self.components if c.points is not None), ZERO)

    @classmethod
    def of_score(cls, score) -> "ScoreExplanation":
        """A stored RelationshipScore's explanation. Its component columns are authoritative (a row
        whose document lacks something still explains itself): values from the columns, weights
        from the settings where the document has none."""
        explanation = cls.from_json(score.components)
        columns = {name: getattr(score, name) for name in COMPONENTS}
        return replace(
            explanation,
            **{name: Decimal(value) for name, value in columns.items() if value is not None},
            weights=explanation.weights or scoring.weights(),
            is_new=bool(getattr(score, "is_new", False)),
            projects_delivered=score.projects_delivered,
        )

    # --- The stored document --------------------------------------------------------------------

    @classmethod
    def from_json(cls, document: Mapping | str | None) -> "ScoreExplanation":
        """Read a stored document (its JSON text or the decoded dict); missing parts read as none."""
        if isinstance(document, str):
            document = json.loads(document)
        document = document or {}
        window = document.get("window") or {}
        impact = document.get("impact") or {}
        attainment = document.get("attainment") or {}
        realisation = document.get("realisation") or {}
        continuity = document.get("continuity") or {}
        return cls(
            weights={name: _decimal(value) for name, value in (document.get("weights") or {}).items()},
            weights_used={
                name: _decimal(value) for name, value in (document.get("weights_used") or {}).items()
            },
            window_start=_date(window.get("start")),
            window_end=_date(window.get("end")),
            impact=_decimal(impact.get("value")),
            mean_impact_pct=_decimal(impact.get("mean_impact_pct")),
            projects=tuple(_project(project) for project in impact.get("projects") or ()),
            attainment=_decimal(attainment.get("value")),
            kpis_with_target=attainment.get("kpis_with_target"),
            realisation=_decimal(realisation.get("value")),
            realised_sum=_decimal(realisation.get("realised_sum")),
            expected_sum=_decimal(realisation.get("expected_sum")),
            projects_counted=realisation.get("projects_counted"),
            projects_in_grace=realisation.get("projects_in_grace") or 0,
            continuity=_decimal(continuity.get("value")),
            quarters=tuple(
                QuarterExplanation(_date(q.get("start")), _date(q.get("end")), q.get("delivered", 0))
                for q in continuity.get("quarters") or ()
            ),
        )

    def to_json(self) -> str:
        """The stored document: exactly `json.dumps(document, separators=(",", ":"))` of the same
        dict, written as text directly (building the dicts and encoding them cost twice as much,
        measured on a roll-up)."""
        weights = ",".join(f"{_string(name)}:{_figure(weight)}" for name, weight in self.weights.items())
        weights_used = ",".join(
            f"{_string(name)}:{_figure(weight, COMPONENT_PLACES)}"
            for name, weight in self.weights_used.items()
        )
        names: dict[tuple[str, str, str], str] = {}
        projects = ",".join([_project_json(project, names) for project in self.projects])
        quarters = ",".join(
            f'{{"start":{_day(q.start)},"end":{_day(q.end)},"delivered":{q.delivered}}}'
            for q in self.quarters
        )
        return (
            f'{{"weights":{{{weights}}},"weights_used":{{{weights_used}}},'
            f'"window":{{"start":{_day(self.window_start)},"end":{_day(self.window_end)}}},'
            f'"impact":{{"value":{_figure(self.impact, COMPONENT_PLACES)},'
            f'"mean_impact_pct":{_figure(self.mean_impact_pct, PERCENT_PLACES)},"projects":[{projects}]}},'
            f'"attainment":{{"value":{_figure(self.attainment, COMPONENT_PLACES)},'
            f'"kpis_with_target":{_count(self.kpis_with_target)}}},'
            f'"realisation":{{"value":{_figure(self.realisation, COMPONENT_PLACES)},'
            f'"realised_sum":{_figure(self.realised_sum, PERCENT_PLACES)},'
            f'"expected_sum":{_figure(self.expected_sum, PERCENT_PLACES)},'
            f'"projects_counted":{_count(self.projects_counted)},'
            f'"projects_in_grace":{_count(self.projects_in_grace)}}},'
            f'"continuity":{{"value":{_figure(self.continuity, COMPONENT_PLACES)},"quarters":[{quarters}]}}}}'
        )


# --- Reading --------------------------------------------------------------------------------------


def _decimal(value) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value))


def _date(value) -> dt.date | None:
    if not value:
        return None
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def _project(entry: Mapping) -> ProjectExplanation:
    return ProjectExplanation(
        id=entry.get("id"),
        title=entry.get("title"),
        level=entry.get("level"),
        level_weight=entry.get("level_weight"),
        delivered_on=_date(entry.get("delivered_on")),
        impact_pct=_decimal(entry.get("impact_pct")),
        kpis=tuple(
            KPIExplanation(
                project_kpi_id=kpi.get("project_kpi_id"),
                kpi=kpi.get("kpi"),
                unit=kpi.get("unit"),
                direction=kpi.get("direction"),
                baseline=_decimal(kpi.get("baseline")),
                latest=_decimal(kpi.get("latest")),
                latest_measured_on=_date(kpi.get("latest_measured_on")),
                improvement_pct=_decimal(kpi.get("improvement_pct")),
                target=_decimal(kpi.get("target")),
                target_achievement_pct=_decimal(kpi.get("target_achievement_pct")),
            )
            for kpi in entry.get("kpis") or ()
        ),
    )


# --- Writing: JSON text, exactly as the compact json.dumps gives it --------------------------------

# Strings are encoded by the encoder json.dumps itself uses.
_string = json.encoder.encode_basestring_ascii


def _figure(value: Decimal | None, places: Decimal | None = None) -> str:
    """A figure as a JSON string ("41.67"), or null; Decimal text never needs escaping."""
    if value is None:
        return "null"
    # str(), as json.dumps of str(value) has it (and faster than format() in an f-string, measured).
    return f'"{value if places is None else quantize(value, places)!s}"'


def _day(value: dt.date | None) -> str:
    return f'"{value.isoformat()}"' if value is not None else "null"


def _count(value: int | None) -> str:
    return "null" if value is None else str(int(value))


def _project_json(project: ProjectExplanation, names: dict[tuple[str, str, str], str]) -> str:
    """One project's entry. A roll-up writes tens of thousands of KPI entries, so their figures are
    formatted inline, exactly as `_figure` and `_day` would, and the KPI, unit and direction text,
    which repeat across the catalogue's few KPIs, is encoded once per document and kept in `names`
    (the 1,000 documents of the benchmark's roll-up: 68 ms of CPU before, 61 ms after; the same
    text, byte for byte)."""
    kpis = []
    for pk_id, kpi, unit, direction, baseline, latest, on, improvement, target, achievement in project.kpis:
        key = (kpi, unit, direction)
        identity = names.get(key)
        if identity is None:
            identity = f'"kpi":{_string(kpi)},"unit":{_string(unit)},"direction":{_string(direction)}'
            names[key] = identity
        baseline = "null" if baseline is None else '"' + str(baseline) + '"'
        latest = "null" if latest is None else '"' + str(latest) + '"'
        on = "null" if on is None else '"' + on.isoformat() + '"'
        if improvement is None:
            improvement = "null"
        else:
            improvement = '"' + str(improvement.quantize(PERCENT_PLACES, rounding=ROUND_HALF_UP)) + '"'
        target = "null" if target is None else '"' + str(target) + '"'
        if achievement is None:
            achievement = "null"
        else:
            achievement = '"' + str(achievement.quantize(PERCENT_PLACES, rounding=ROUND_HALF_UP)) + '"'
        kpis.append(
            f'{{"project_kpi_id":{pk_id},{identity},"baseline":{baseline},"latest":{latest},'
            f'"latest_measured_on":{on},"improvement_pct":{improvement},"target":{target},'
            f'"target_achievement_pct":{achievement}}}'
        )
    return (
        f'{{"id":{project.id},"title":{_string(project.title)},"level":{_string(project.level)},'
        f'"level_weight":{project.level_weight},"delivered_on":{_day(project.delivered_on)},'
        f'"impact_pct":{_figure(project.impact_pct, PERCENT_PLACES)},"kpis":[{",".join(kpis)}]}}'
    )
