"""The maths of DESIGN.md §4 on the published cases and the worked example."""

from decimal import Decimal

import pytest

from kpis import scoring


def pct(value):
    return value.quantize(Decimal("0.01"))


@pytest.mark.parametrize(
    "baseline,latest,higher_is_better,expected",
    [
        ("60", "85", True, "41.67"),  # aerospace: order fill rate
        ("21", "17", False, "19.05"),  # aerospace: turnaround hours
        ("80", "95", True, "18.75"),  # supermarket: stock fill rate
        ("100", "73", False, "27.00"),  # supermarket: inventory index
        ("100", "50", False, "50.00"),  # supermarket: error index
        ("60", "50", True, "-16.67"),  # a worsening
        ("-20", "-10", True, "50.00"),  # negative baseline uses |b|
    ],
)
def test_improvement_of_published_cases(baseline, latest, higher_is_better, expected):
    value = scoring.improvement_pct(
        baseline=Decimal(baseline), latest=Decimal(latest), higher_is_better=higher_is_better
    )
    assert pct(value) == Decimal(expected)


@pytest.mark.parametrize("baseline,latest", [("0", "52"), ("60", None)])
def test_improvement_undefined_for_zero_baseline_or_no_measurement(baseline, latest):
    assert scoring.improvement_pct(baseline=Decimal(baseline), latest=latest, higher_is_better=True) is None


def test_target_achievement():
    assert scoring.target_achievement_pct(
        baseline=Decimal(0), latest=Decimal(52), target=Decimal(50)
    ) == Decimal(104)
    assert scoring.target_achievement_pct(
        baseline=Decimal(21), latest=Decimal(17), target=Decimal(13)
    ) == Decimal(50)
    assert scoring.target_achievement_pct(baseline=Decimal(5), latest=Decimal(6), target=Decimal(5)) is None
    assert scoring.target_achievement_pct(baseline=Decimal(5), latest=None, target=Decimal(8)) is None


def test_project_impact_caps_each_kpi_at_100_percent():
    assert scoring.project_impact_pct([Decimal(300), Decimal(0)]) == Decimal(50)
    assert scoring.project_impact_pct([Decimal(-250), Decimal(50)]) == Decimal(-25)
    assert scoring.project_impact_pct([None, None]) is None


def test_worked_example_scores_48_8_steady():
    fill = scoring.improvement_pct(baseline=Decimal(60), latest=Decimal(85), higher_is_better=True)
    turnaround = scoring.improvement_pct(baseline=Decimal(21), latest=Decimal(17), higher_is_better=False)
    impact_pct = scoring.project_impact_pct([fill, turnaround])
    assert pct(impact_pct) == Decimal("30.36")
    impact, _mean = scoring.impact_component([("process", impact_pct)])
    assert impact.quantize(Decimal("0.001")) == Decimal("0.607")
    result = scoring.combine(
        {
            "impact": impact,
            "attainment": None,
            "realisation": None,
            "continuity": scoring.continuity_component([2]),
        }
    )
    assert result.score == Decimal("48.8")
    assert result.tier == "steady"
    assert result.basis == ["impact", "continuity"]


@pytest.mark.parametrize(
    "score,tier",
    [
        ("70.0", "high_performing"),
        ("69.9", "steady"),
        ("40.0", "steady"),
        ("39.9", "at_risk"),
        ("0", "at_risk"),
    ],
)
def test_tier_cut_offs(score, tier):
    assert scoring.tier_for(Decimal(score)) == tier


def test_gain_share_never_negative():
    assert scoring.gain_share(
        share_pct=Decimal(25), realised_benefit=Decimal(1000), baseline=Decimal(600)
    ) == Decimal(100)
    assert scoring.gain_share(
        share_pct=Decimal(25), realised_benefit=Decimal(400), baseline=Decimal(600)
    ) == Decimal(0)
    assert scoring.gain_share(share_pct=None, realised_benefit=Decimal(400), baseline=None) is None


def test_window_is_twelve_months_in_four_quarters():
    import datetime as dt

    window = scoring.score_window(dt.date(2026, 11, 15))
    assert (window.start, window.end) == (dt.date(2025, 12, 1), dt.date(2026, 11, 30))
    assert window.quarters[0] == (dt.date(2025, 12, 1), dt.date(2026, 2, 28))
    assert window.quarters[3] == (dt.date(2026, 9, 1), dt.date(2026, 11, 30))
