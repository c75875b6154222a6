"""The relationship pulse's maths: per side a count, each statement's mean and a trust index with its
"healthy middle" band, and the gap between the two sides. Pure functions on plain numbers and exact
`Decimal`s (docs/collaboration.md has the worked examples); the thresholds live in
settings.BPO_COLLAB.

Research on outsourcing relationships finds that both very low and very high trust hold innovation
back: too little and nobody risks an idea; too much and nobody questions anything. So the band is a
middle: *low* below TRUST_LOW_BELOW; *uncritical* from TRUST_UNCRITICAL_FROM when nobody answered
anything below TRUST_UNCRITICAL_MIN_ANSWER and no figure was contested in the relationship for
TRUST_PROBLEMS_MONTHS (very high agreement, no problem ever raised); *healthy* between.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings

# The four statements, in the order they are asked (each answered 1 = disagree … 5 = agree).
QUESTIONS = (
    ("ideas", "The other side brings us ideas we would not have had"),
    ("openness", "We can raise a problem openly and it gets solved"),
    ("sponsorship", "Leadership on both sides actively sponsors innovation"),
    ("trust", "I trust the other side to act in our joint interest"),
)
SCALE = (1, 5)

LOW, HEALTHY, UNCRITICAL = "low", "healthy", "uncritical"
BAND_LABELS = {LOW: "Low", HEALTHY: "Healthy", UNCRITICAL: "Uncritical"}
ONE_PLACE = Decimal("0.1")
TWO_PLACES = Decimal("0.01")


def options() -> dict:
    return settings.BPO_COLLAB


def trust_index(*, answer_sum: int, answer_count: int) -> Decimal | None:
    """0–100: the mean of every answer of a side (four per response), rescaled from 1–5 so that
    1 → 0, 3 → 50 and 5 → 100. None without answers. Exact (round only to show)."""
    if not answer_count:
        return None
    low, high = SCALE
    mean = Decimal(answer_sum) / Decimal(answer_count)
    return (mean - low) * 100 / (high - low)


def trust_band(index: Decimal | None, *, lowest_answer: int | None, problems_raised: bool) -> str | None:
    """low / healthy / uncritical (see the module's docstring)."""
    if index is None:
        return None
    config = options()
    if index < Decimal(config["TRUST_LOW_BELOW"]):
        return LOW
    if (
        index >= Decimal(config["TRUST_UNCRITICAL_FROM"])
        and lowest_answer is not None
        and lowest_answer >= config["TRUST_UNCRITICAL_MIN_ANSWER"]
        and not problems_raised
    ):
        return UNCRITICAL
    return HEALTHY


def rounded(value: Decimal | None, places: Decimal = ONE_PLACE) -> Decimal | None:
    return None if value is None else value.quantize(places, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class SideTotals:
    """What the database sums for one side of one relationship's quarter."""

    side: str
    responses: int
    sums: dict[str, int]  # statement → sum of its answers
    lowest: int | None  # the lowest answer given to any statement
    comments: tuple[str, ...] = ()  # the free texts (read only when enough answered)


@dataclass(frozen=True)
class SideResult:
    side: str
    shown: bool  # enough answers to show anything (MIN_RESPONSES)
    responses: int | None  # None when not shown: below the threshold even the count is withheld
    means: dict[str, Decimal] | None  # statement → mean, two decimals
    trust_index: Decimal | None  # one decimal
    band: str | None
    comments: tuple[str, ...] | None  # shown from MIN_RESPONSES_FOR_COMMENTS answers, in text order
    lowest: int | None = field(default=None, repr=False)  # kept for the relationship's band
    exact_index: Decimal | None = field(default=None, repr=False)


def side_result(totals: SideTotals | None, *, side: str, problems_raised: bool) -> SideResult:
    """A side's figures, or nothing at all below the anonymity threshold."""
    config = options()
    if totals is None or totals.responses < config["PULSE_MIN_RESPONSES"]:
        return SideResult(
            side=side, shown=False, responses=None, means=None, trust_index=None, band=None, comments=None
        )
    count = totals.responses
    means = {name: rounded(Decimal(totals.sums[name]) / count, TWO_PLACES) for name, _ in QUESTIONS}
    index = trust_index(answer_sum=sum(totals.sums.values()), answer_count=count * len(QUESTIONS))
    comments = None
    if count >= config["PULSE_MIN_RESPONSES_FOR_COMMENTS"]:
        # Sorted as text: the order tells nothing of who wrote what, or when.
        comments = tuple(sorted(text for text in totals.comments if text.strip()))
    return SideResult(
        side=side,
        shown=True,
        responses=count,
        means=means,
        trust_index=rounded(index),
        band=trust_band(index, lowest_answer=totals.lowest, problems_raised=problems_raised),
        comments=comments,
        lowest=totals.lowest,
        exact_index=index,
    )


@dataclass(frozen=True)
class Overall:
    trust_index: Decimal | None  # the mean of the two sides' indexes, each side counting once
    band: str | None
    gap: Decimal | None  # client's index − provider's index, in points


def overall(client: SideResult, provider: SideResult, *, problems_raised: bool) -> Overall:
    """Both sides' view together, and how far apart they are; nothing unless both sides are shown."""
    if not (client.shown and provider.shown):
        return Overall(trust_index=None, band=None, gap=None)
    index = (client.exact_index + provider.exact_index) / 2
    lowest = min(client.lowest, provider.lowest)
    return Overall(
        trust_index=rounded(index),
        band=trust_band(index, lowest_answer=lowest, problems_raised=problems_raised),
        gap=rounded(client.exact_index - provider.exact_index),
    )


def totals_of(rows: Iterable[dict], comments: dict[str, list[str]] | None = None) -> dict[str, SideTotals]:
    """SideTotals by side from aggregate rows ({"side", "responses", "<q>_sum", "<q>_min"})."""
    result = {}
    for row in rows:
        lowest = [row[f"{name}_min"] for name, _ in QUESTIONS if row[f"{name}_min"] is not None]
        result[row["side"]] = SideTotals(
            side=row["side"],
            responses=row["responses"],
            sums={name: row[f"{name}_sum"] or 0 for name, _ in QUESTIONS},
            lowest=min(lowest) if lowest else None,
            comments=tuple((comments or {}).get(row["side"], ())),
        )
    return result
