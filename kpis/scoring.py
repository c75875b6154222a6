"""The scoring maths of DESIGN.md §4, as pure functions on Decimal (no database access here).

Percentages are returned as percentages (41.666…, not 0.41666…) at full Decimal precision; code
that shows them rounds them for display. Weights, caps and cut-offs come from
settings.BPO_SCORING, the single place they are defined.
"""

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)

COMPONENTS = ("impact", "attainment", "realisation", "continuity")


_cached_config: dict | None = None


def _config() -> dict:
    # Read once (settings lookups dominate a roll-up's arithmetic otherwise); tests that override
    # the setting clear the cache through `setting_changed`.
    global _cached_config
    if _cached_config is None:
        _cached_config = settings.BPO_SCORING
    return _cached_config


@receiver(setting_changed)
def _forget_config(*, setting, **kwargs) -> None:
    global _cached_config
    if setting == "BPO_SCORING":
        _cached_config = None


def weights() -> dict[str, Decimal]:
    return {name: Decimal(value) for name, value in _config()["WEIGHTS"].items()}


def clamp(value: Decimal, low: Decimal, high: Decimal) -> Decimal:
    return max(low, min(high, value))


def _decimal(value) -> Decimal | None:
    """A Decimal, or None. A float (a SQLite aggregate, say) goes through its shortest decimal text,
    never through its binary expansion, so 0.1 stays 0.1 and not 0.1000000000000000055…"""
    if value is None or type(value) is Decimal:
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


# Stored figures: components (0–1) to 6 decimal places, percentages shown to 2, scores to 1.
COMPONENT_PLACES = Decimal("0.000001")
PERCENT_PLACES = Decimal("0.01")
SCORE_PLACES = Decimal("0.1")


def quantize(value: Decimal | None, places: Decimal) -> Decimal | None:
    """Round half up (the rounding people expect on a report); None stays None."""
    return None if value is None else value.quantize(places, rounding=ROUND_HALF_UP)


# --- One KPI ----------------------------------------------------------------------------------


def improvement_pct(*, baseline, latest, higher_is_better: bool) -> Decimal | None:
    """d × (a − b) / |b| as a percentage; None (shown "—", never 0) for a zero baseline or no value."""
    baseline, latest = _decimal(baseline), _decimal(latest)
    if latest is None or baseline is None or baseline == 0:
        return None
    direction = ONE if higher_is_better else -ONE
    return direction * (latest - baseline) / abs(baseline) * HUNDRED


def target_achievement_pct(*, baseline, latest, target) -> Decimal | None:
    """(a − b) / (t − b) as a percentage, unclamped; None without a value or a target ≠ baseline."""
    baseline, latest, target = _decimal(baseline), _decimal(latest), _decimal(target)
    if latest is None or target is None or baseline is None or target == baseline:
        return None
    return (latest - baseline) / (target - baseline) * HUNDRED


# --- One project ------------------------------------------------------------------------------


def project_impact_pct(improvements: Iterable[Decimal | None]) -> Decimal | None:
    """The mean of the project's KPI improvements that exist, each capped to ±100 %."""
    cap = Decimal(_config()["IMPROVEMENT_CAP_PCT"])
    capped = [clamp(value, -cap, cap) for value in improvements if value is not None]
    if not capped:
        return None
    return sum(capped, ZERO) / len(capped)


def gain_share(*, share_pct, realised_benefit, baseline) -> Decimal | None:
    """share % × (realised − agreed baseline), never below 0; None where no gain-share is agreed."""
    share_pct, realised_benefit = _decimal(share_pct), _decimal(realised_benefit)
    if share_pct is None or realised_benefit is None:
        return None
    gain = realised_benefit - (_decimal(baseline) or ZERO)
    return max(ZERO, share_pct / HUNDRED * gain)


# --- The window -------------------------------------------------------------------------------


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def add_months(day: dt.date, months: int) -> dt.date:
    """The first day of the month `months` after the month of `day`."""
    index = day.year * 12 + (day.month - 1) + months
    return dt.date(index // 12, index % 12 + 1, 1)


def month_end(day: dt.date) -> dt.date:
    return add_months(day, 1) - dt.timedelta(days=1)


@dataclass(frozen=True)
class Window:
    """The 12 calendar months ending with the scored month, as four 3-month quarters."""

    period: dt.date  # first day of the scored month
    start: dt.date  # first day of the window
    end: dt.date  # last day of the scored month, inclusive
    quarters: tuple[tuple[dt.date, dt.date], ...]  # (first day, last day) each, oldest first

    def contains(self, day: dt.date | None) -> bool:
        return day is not None and self.start <= day <= self.end

    def quarter_of(self, day: dt.date) -> int | None:
        for index, (first, last) in enumerate(self.quarters):
            if first <= day <= last:
                return index
        return None


def score_window(period: dt.date) -> Window:
    months = _config()["WINDOW_MONTHS"]
    quarter_count = _config()["QUARTERS"]
    quarter_months = months // quarter_count
    period = month_start(period)
    start = add_months(period, -(months - 1))
    quarters = tuple(
        (
            add_months(start, index * quarter_months),
            add_months(start, (index + 1) * quarter_months) - dt.timedelta(days=1),
        )
        for index in range(quarter_count)
    )
    return Window(period=period, start=start, end=month_end(period), quarters=quarters)


def periods_counting(
    delivered_on: dt.date | None, *, through: dt.date, since: dt.date | None = None
) -> list[dt.date]:
    """The months whose score counts a project delivered on `delivered_on`: those whose window
    contains the delivery (WINDOW_MONTHS of them, from the month of the delivery on), from the month
    of `since` on (a measurement dated `since` reaches no month that ended before it), up to the
    month of `through`. Oldest first; empty for a project without a delivered date.

    This is what a change to a project, its KPIs or its measurements can move, so a change
    recomputes exactly these months, never more than WINDOW_MONTHS of them.
    """
    if delivered_on is None:
        return []
    first = month_start(delivered_on)
    if since is not None:
        first = max(first, month_start(since))
    last = min(add_months(delivered_on, _config()["WINDOW_MONTHS"] - 1), month_start(through))
    periods = []
    while first <= last:
        periods.append(first)
        first = add_months(first, 1)
    return periods


# --- Components -------------------------------------------------------------------------------


def impact_component(projects: Sequence[tuple[str, Decimal | None]]) -> tuple[Decimal | None, Decimal | None]:
    """(component 0–1, level-weighted mean impact %) over (level, impact %) pairs that have an impact."""
    level_weights = _config()["LEVEL_WEIGHTS"]
    weighted = [(Decimal(level_weights[level]), impact) for level, impact in projects if impact is not None]
    if not weighted:
        return None, None
    total_weight = sum((w for w, _ in weighted), ZERO)
    mean = sum((w * impact for w, impact in weighted), ZERO) / total_weight
    full = Decimal(_config()["IMPACT_FULL_PCT"])
    return clamp(mean / full, ZERO, ONE), mean


def attainment_component(achievements_pct: Iterable[Decimal | None]) -> Decimal | None:
    """The mean target achievement (each clamped to 0–1) of KPIs that have a target and a value."""
    clamped = [clamp(value / HUNDRED, ZERO, ONE) for value in achievements_pct if value is not None]
    if not clamped:
        return None
    return sum(clamped, ZERO) / len(clamped)


def realisation_grace_ends(period: dt.date) -> dt.date:
    """The last day of month M − REALISATION_GRACE_MONTHS: a project delivered after it whose realised
    benefit is not yet recorded is in its grace period and left out of realisation."""
    return month_end(add_months(month_start(period), -_config()["REALISATION_GRACE_MONTHS"]))


def in_realisation_grace(*, realised, delivered_on: dt.date | None, grace_ends: dt.date) -> bool:
    """True while a project's missing realised benefit is not yet held against it. A recorded value
    (0 included) always counts; so does a missing one once the grace period is over."""
    return realised is None and delivered_on is not None and delivered_on > grace_ends


class Realisation(NamedTuple):
    value: Decimal | None  # the component, 0–1; None without a project that counts
    realised_sum: Decimal
    expected_sum: Decimal
    projects_counted: int  # projects expecting a benefit whose figures went into the sums
    projects_in_grace: int  # projects expecting a benefit left out while in their grace period


def realisation_component(
    benefits: Iterable[tuple[Decimal | None, Decimal | None, dt.date | None]], *, period: dt.date
) -> Realisation:
    """Realised ÷ expected benefit over (expected, realised, delivered on) of projects expecting > 0,
    for the month `period`; capped at 1.

    A project whose realised benefit is not recorded is left out while in its grace period (see
    `in_realisation_grace`); after it, the missing benefit counts as 0.
    """
    grace_ends = realisation_grace_ends(period)
    expected_total, realised_total = ZERO, ZERO
    counted = in_grace = 0
    for expected, realised, delivered_on in benefits:
        expected, realised = _decimal(expected), _decimal(realised)
        if expected is None or expected <= 0:
            continue
        if in_realisation_grace(realised=realised, delivered_on=delivered_on, grace_ends=grace_ends):
            in_grace += 1
            continue
        counted += 1
        expected_total += expected
        realised_total += realised if realised is not None else ZERO
    value = None if expected_total == 0 else min(ONE, realised_total / expected_total)
    return Realisation(value, realised_total, expected_total, counted, in_grace)


def continuity_component(
    delivered_quarters: Iterable[int | None], quarter_count: int | None = None
) -> Decimal:
    """The share of the window's quarters with at least one delivery (indices outside it are ignored)."""
    quarter_count = quarter_count or _config()["QUARTERS"]
    covered = {index for index in delivered_quarters if index is not None and 0 <= index < quarter_count}
    return Decimal(len(covered)) / Decimal(quarter_count)


# --- The score --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreResult:
    score: Decimal  # 0–100, one decimal
    tier: str
    components: dict[str, Decimal | None]  # each 0–1, None when left out
    basis: list[str] = field(default_factory=list)  # components the score rests on
    weights_used: dict[str, Decimal] = field(default_factory=dict)  # rescaled to sum to 1


def combine(components: dict[str, Decimal | None]) -> ScoreResult:
    """100 × Σ wᵢ·cᵢ / Σ wᵢ over the components that have data (the weights are rescaled)."""
    all_weights = weights()
    for name, value in components.items():
        if value is not None and not ZERO <= value <= ONE:
            raise ValueError(f"The {name} component must lie within 0–1, not {value}.")
    basis = [name for name in COMPONENTS if components.get(name) is not None]
    total_weight = sum((all_weights[name] for name in basis), ZERO)
    if total_weight == 0:
        raw = ZERO
    else:
        raw = HUNDRED * sum((all_weights[name] * components[name] for name in basis), ZERO) / total_weight
    # Scores are stated to one decimal and the tier follows the stated figure, so a page never
    # shows "70.0" next to a lower tier.
    score = quantize(raw, SCORE_PLACES)
    return ScoreResult(
        score=score,
        tier=tier_for(score),
        components={name: components.get(name) for name in COMPONENTS},
        basis=basis,
        weights_used={name: all_weights[name] / total_weight for name in basis} if total_weight else {},
    )


def is_new_relationship(*, contract_start: dt.date | None, period: dt.date, projects_delivered: int) -> bool:
    """A relationship "new — not scored yet" in month `period`: its contract began after the last
    day of month M − NEW_RELATIONSHIP_MONTHS (under that many months before M's end) and it has
    delivered nothing yet. It has had no time to innovate, so it is not shown as 0 at risk.

    `projects_delivered` counts the projects delivered in the score's window: the window reaches
    twelve months back, so it holds everything delivered since such a recent contract began.
    """
    if contract_start is None or projects_delivered:
        return False
    new_after = month_end(add_months(month_start(period), -_config()["NEW_RELATIONSHIP_MONTHS"]))
    return contract_start > new_after


def tier_for(score: Decimal) -> str:
    for tier, cut_off in _config()["TIERS"]:
        if score >= Decimal(cut_off):
            return tier
    return _config()["TIERS"][-1][0]


# --- Peer benchmarks --------------------------------------------------------------------------


def percentile(ordered: Sequence[Decimal], fraction: Decimal) -> Decimal | None:
    """The `fraction` quantile of values sorted ascending, interpolated linearly between the two
    nearest values: PostgreSQL's percentile_cont (tests check it against the database). None for no
    values."""
    if not ordered:
        return None
    position = fraction * (len(ordered) - 1)
    lower = int(position)
    if lower + 1 >= len(ordered):
        return _decimal(ordered[-1])
    low, high = _decimal(ordered[lower]), _decimal(ordered[lower + 1])
    return low + (position - lower) * (high - low)


QUARTILES = ("top", "second", "third", "bottom")


def quartile(score: Decimal, *, p25: Decimal, median: Decimal, p75: Decimal) -> str:
    """Which quarter of its cohort a score falls in, by the cohort's quartile cut points: "top" at
    or above p75, "second" at or above the median, "third" at or above p25, else "bottom"."""
    if score >= p75:
        return "top"
    if score >= median:
        return "second"
    if score >= p25:
        return "third"
    return "bottom"
