"""The maths of DESIGN.md §4 on the published cases and the worked example."""

import datetime as dt
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


@pytest.mark.parametrize(
    "missing,expected_score,basis",
    [
        # impact 0.5, attainment 0.25, realisation 1, continuity 0.75; weights 0.4/0.2/0.2/0.2
        (None, "60.0", ["impact", "attainment", "realisation", "continuity"]),  # 0.6 / 1
        ("impact", "66.7", ["attainment", "realisation", "continuity"]),  # 0.4 / 0.6
        ("attainment", "68.8", ["impact", "realisation", "continuity"]),  # 0.55 / 0.8
        ("realisation", "50.0", ["impact", "attainment", "continuity"]),  # 0.4 / 0.8
    ],
)
def test_missing_component_is_left_out_and_weights_rescaled(missing, expected_score, basis):
    components = {
        "impact": Decimal("0.5"),
        "attainment": Decimal("0.25"),
        "realisation": Decimal("1"),
        "continuity": Decimal("0.75"),
    }
    if missing:
        components[missing] = None
    result = scoring.combine(components)
    assert result.basis == basis
    assert abs(sum(result.weights_used.values()) - 1) < Decimal("1e-20")
    expected = scoring.quantize(
        100
        * sum(scoring.weights()[name] * components[name] for name in basis)
        / sum(scoring.weights()[name] for name in basis),
        Decimal("0.1"),
    )
    assert result.score == expected == Decimal(expected_score)


def test_continuity_alone_when_nothing_else_has_data():
    result = scoring.combine({"continuity": Decimal("0.5")})
    assert (result.score, result.tier, result.basis) == (Decimal("50.0"), "steady", ["continuity"])
    assert scoring.combine({"continuity": Decimal(0)}).tier == "at_risk"


def test_combine_refuses_a_component_outside_0_to_1():
    with pytest.raises(ValueError, match="impact"):
        scoring.combine({"impact": Decimal("1.2"), "continuity": Decimal(0)})


@pytest.mark.parametrize(
    "impacts,component,mean",
    [
        ([("process", Decimal(60))], Decimal(1), Decimal(60)),  # +50 % or better → 1
        ([("process", Decimal(-30))], Decimal(0), Decimal(-30)),  # 0 % or worse → 0
        ([("operational", Decimal(10)), ("strategic", Decimal(30))], Decimal("0.5"), Decimal(25)),
        ([("process", None)], None, None),
    ],
)
def test_impact_component_level_weights_and_caps(impacts, component, mean):
    assert scoring.impact_component(impacts) == (component, mean)


def test_attainment_clamps_each_kpi_to_0_and_1():
    assert scoring.attainment_component([Decimal(150), Decimal(-40), Decimal(50), None]) == Decimal("0.5")
    assert scoring.attainment_component([None]) is None


NOVEMBER_2025 = dt.date(2025, 11, 1)  # M − 6 is May 2025: its last day, 31 May, ends the grace period
LONG_AGO = dt.date(2025, 1, 15)  # delivered before the grace period ended


def test_realisation_sums_projects_expecting_a_benefit_and_caps_at_1():
    # The projects were delivered before the grace period (DESIGN §4) ended, so a missing realised
    # benefit counts as 0, as it always did.
    value, realised, expected, counted, in_grace = scoring.realisation_component(
        [
            (Decimal(100), Decimal(50), LONG_AGO),
            (Decimal(100), None, LONG_AGO),
            (Decimal(0), Decimal(500), LONG_AGO),
            (None, Decimal(9), LONG_AGO),
        ],
        period=NOVEMBER_2025,
    )
    assert (value, realised, expected) == (Decimal("0.25"), Decimal(50), Decimal(200))
    assert (counted, in_grace) == (2, 0)
    assert (
        scoring.realisation_component([(Decimal(100), Decimal(300), LONG_AGO)], period=NOVEMBER_2025)[0] == 1
    )
    assert scoring.realisation_component([(None, Decimal(300), LONG_AGO)], period=NOVEMBER_2025)[0] is None


def test_realisation_grace_period_ends_on_the_last_day_of_month_m_minus_6():
    assert scoring.realisation_grace_ends(NOVEMBER_2025) == dt.date(2025, 5, 31)
    assert scoring.realisation_grace_ends(dt.date(2026, 8, 17)) == dt.date(2026, 2, 28)


@pytest.mark.parametrize(
    "delivered_on,realised,counted",
    [
        # Missing realised benefit: counted as 0 when delivered on or before 31 May 2025 …
        (dt.date(2025, 5, 31), None, True),
        (dt.date(2024, 12, 1), None, True),
        # … left out when delivered the day after or later.
        (dt.date(2025, 6, 1), None, False),
        (dt.date(2025, 11, 30), None, False),
        # A recorded value always counts, 0 included, however recent the delivery.
        (dt.date(2025, 11, 30), "0", True),
        (dt.date(2025, 6, 1), "40", True),
    ],
)
def test_realisation_grace_period_window_edges(delivered_on, realised, counted):
    realised = Decimal(realised) if realised is not None else None
    assert scoring.in_realisation_grace(
        realised=realised, delivered_on=delivered_on, grace_ends=dt.date(2025, 5, 31)
    ) is (not counted)
    # With one other project, expected 100 and realised 80, delivered long ago:
    result = scoring.realisation_component(
        [(Decimal(100), Decimal(80), LONG_AGO), (Decimal(100), realised, delivered_on)], period=NOVEMBER_2025
    )
    if counted:
        # (80 + realised or 0) / 200
        assert result.value == (Decimal(80) + (realised or 0)) / Decimal(200)
        assert (result.expected_sum, result.projects_counted, result.projects_in_grace) == (200, 2, 0)
    else:
        assert result.value == Decimal("0.8")  # 80 / 100: the new project is left out
        assert (result.expected_sum, result.projects_counted, result.projects_in_grace) == (100, 1, 1)


def test_realisation_with_only_projects_in_grace_has_no_data():
    result = scoring.realisation_component([(Decimal(100), None, dt.date(2025, 10, 1))], period=NOVEMBER_2025)
    assert (result.value, result.projects_counted, result.projects_in_grace) == (None, 0, 1)
    # … so the component is left out of the score and the weights rescaled, not held at 0.
    assert scoring.combine({"realisation": result.value, "continuity": Decimal("0.25")}).basis == [
        "continuity"
    ]


def test_grace_length_comes_from_the_settings_block(settings):
    settings.BPO_SCORING = {**settings.BPO_SCORING, "REALISATION_GRACE_MONTHS": 2}
    assert scoring.realisation_grace_ends(NOVEMBER_2025) == dt.date(2025, 9, 30)


@pytest.mark.parametrize(
    "contract_start,projects_delivered,is_new",
    [
        # M = November 2025; M − 3 is August, whose last day is 31 Aug.
        (dt.date(2025, 9, 1), 0, True),  # began under three months before 30 Nov
        (dt.date(2025, 11, 30), 0, True),
        (dt.date(2026, 1, 1), 0, True),  # not begun yet in November
        (dt.date(2025, 8, 31), 0, False),  # exactly three months: scored (0, at risk, if nothing came)
        (dt.date(2025, 9, 1), 1, False),  # new but already delivered: scored on its merits
        (None, 0, False),
    ],
)
def test_new_relationship_edges(contract_start, projects_delivered, is_new):
    assert (
        scoring.is_new_relationship(
            contract_start=contract_start, period=NOVEMBER_2025, projects_delivered=projects_delivered
        )
        is is_new
    )


def test_continuity_counts_quarters_not_deliveries():
    assert scoring.continuity_component([3, 3, 3]) == Decimal("0.25")
    assert scoring.continuity_component([0, 1, 2, 3, None, 7]) == 1


def test_lower_is_better_improvement_and_worsening():
    assert scoring.improvement_pct(baseline=Decimal(21), latest=Decimal(25), higher_is_better=False) < 0
    assert pct(
        scoring.improvement_pct(baseline=Decimal("4.10"), latest=Decimal("2.60"), higher_is_better=False)
    ) == Decimal("36.59")


def test_floats_are_taken_at_their_decimal_text():
    assert scoring.improvement_pct(baseline=0.1, latest=0.3, higher_is_better=True) == Decimal(200)


def test_weights_and_cut_offs_come_from_the_one_settings_block(settings):
    settings.BPO_SCORING = {
        **settings.BPO_SCORING,
        "TIERS": [("high_performing", "50"), ("steady", "20"), ("at_risk", "0")],
    }
    assert scoring.tier_for(Decimal("55")) == "high_performing"
    settings.BPO_SCORING = {**settings.BPO_SCORING, "IMPROVEMENT_CAP_PCT": "50"}
    assert scoring.project_impact_pct([Decimal(80)]) == Decimal(50)


def test_docs_worked_example_of_the_grace_period():
    """docs/scoring.md: November 2025, projects A–D; C (1 Jun, not recorded) is left out."""
    projects = [
        (Decimal(500), Decimal(400), dt.date(2025, 1, 10)),  # A: recorded
        (Decimal(500), None, dt.date(2025, 5, 31)),  # B: grace over that day → counts as 0
        (Decimal(500), None, dt.date(2025, 6, 1)),  # C: in its grace period → left out
        (Decimal(500), Decimal(0), dt.date(2025, 11, 20)),  # D: a recorded 0 always counts
    ]
    result = scoring.realisation_component(projects, period=NOVEMBER_2025)
    assert (result.realised_sum, result.expected_sum) == (Decimal(400), Decimal(1500))
    assert scoring.quantize(result.value, Decimal("0.001")) == Decimal("0.267")
    assert (result.projects_counted, result.projects_in_grace) == (3, 1)
    # In February 2026 C's grace period (to 31 Aug 2025) is over and it counts as 0: 400 / 2,000.
    february = scoring.realisation_component(projects, period=dt.date(2026, 2, 1))
    assert (february.value, february.projects_in_grace) == (Decimal("0.2"), 0)


def test_docs_worked_example_of_new_relationships():
    """docs/scoring.md: Harbour (1 Sep 2025, nothing delivered) is new September–November only."""

    def harbour_is_new(period):
        return scoring.is_new_relationship(
            contract_start=dt.date(2025, 9, 1), period=period, projects_delivered=0
        )

    assert [harbour_is_new(dt.date(2025, month, 1)) for month in (9, 10, 11, 12)] == [True, True, True, False]
    quay = scoring.is_new_relationship(
        contract_start=dt.date(2025, 8, 31), period=NOVEMBER_2025, projects_delivered=0
    )
    dock = scoring.is_new_relationship(
        contract_start=dt.date(2025, 9, 1), period=NOVEMBER_2025, projects_delivered=1
    )
    assert (quay, dock) == (False, False)
