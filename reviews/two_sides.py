"""The two sides at the table in the pack: the contested figures of the quarter (marked † where the
pack shows them, and listed with their outcome) and the quarter's relationship pulse.

Only what both sides may read enters a pack: contests (never internal to a side) and the pulse's
published aggregates (no individual answer, no free-text comment, nothing below the anonymity
thresholds). Registered with the pack in ReviewsConfig.ready().
"""

from collab import selectors as collab_selectors
from collab.models import Contest
from presentation import formatting
from reviews.pack import PackData, PackSection, register_contested_figures, register_pack_section

Kind = Contest.Kind


def _contests(pack: PackData) -> list[Contest]:
    # Computed once per pack: both providers below read it.
    cached = getattr(pack, "_two_sides_contests", None)
    if cached is None:
        cached = collab_selectors.pack_contests(
            relationship=pack.relationship, quarter=pack.quarter.first_day
        )
        pack._two_sides_contests = cached
    return cached


def contested_project_kpis(pack: PackData) -> set[int]:
    """The tracked KPIs whose baseline or a measurement is contested and unresolved."""
    marked = set()
    for contest in _contests(pack):
        if not contest.is_unresolved:
            continue
        if contest.kind == Kind.BASELINE and contest.project_kpi_id:
            marked.add(contest.project_kpi_id)
        elif contest.kind == Kind.MEASUREMENT and contest.measurement_id:
            marked.add(contest.measurement.project_kpi_id)
    return marked


def _figure(contest: Contest) -> str:
    if contest.kind == Kind.SCORE:
        return f"score of {formatting.month(contest.period)}"
    if contest.kind == Kind.BASELINE and contest.project_kpi_id:
        return f"{contest.project_kpi.kpi} baseline, {contest.project.title}"
    if contest.kind == Kind.MEASUREMENT and contest.measurement_id:
        measurement = contest.measurement
        when = formatting.day(measurement.measured_on)
        return f"{measurement.project_kpi.kpi} on {when}, {contest.project.title}"
    label = contest.get_kind_display().lower()
    return f"{label}, {contest.project.title}" if contest.project_id else label


def contests_section(pack: PackData) -> PackSection | None:
    contests = _contests(pack)
    if not contests:
        return None
    rows = []
    for contest in contests:
        state = (
            f"{contest.get_outcome_display().lower()} on {formatting.day(contest.resolved_at)}"
            if contest.resolved_at
            else contest.get_status_display().lower()
        )
        rows.append(
            (
                _figure(contest),
                f"raised by the {contest.raised_side} side on {formatting.day(contest.created_at)}; {state}",
            )
        )
    if pack.score is not None and collab_selectors.contests_feeding_score(
        relationship=pack.relationship, period=pack.score.period
    ):
        rows.append(("The score", f"of {formatting.month(pack.score.period)} rests on contested figures"))
    return PackSection(slot="after_why", title="Contested figures", rows=tuple(rows))


def pulse_section(pack: PackData) -> PackSection | None:
    results = collab_selectors.pulse_results(relationship=pack.relationship, quarter=pack.quarter.first_day)
    if not results.published:
        return None
    rows = []
    for side in results.sides:
        if side.shown:
            rows.append(
                (
                    f"{side.side.capitalize()} side",
                    f"trust index {formatting.fixed(side.trust_index)} ({side.band}), "
                    f"{formatting.count(side.responses)} answers",
                )
            )
        else:
            rows.append((f"{side.side.capitalize()} side", "too few answers to show (anonymity)"))
    overall = results.overall
    if overall.trust_index is not None:
        rows.append(
            (
                "Both sides",
                f"trust index {formatting.fixed(overall.trust_index)} ({overall.band}); the client side's "
                f"index less the provider side's: {formatting.signed(overall.gap)}",
            )
        )
    return PackSection(slot="after_score", title="Relationship pulse", rows=tuple(rows))


def register() -> None:
    register_contested_figures(contested_project_kpis)
    register_pack_section(pulse_section)
    register_pack_section(contests_section)
