"""How numbers read on the pages: exact values without noise, rounded percentages, "—" for none."""

from decimal import Decimal

import pytest

from web.templatetags import portfolio_format as fmt


@pytest.mark.parametrize(
    "value,shown",
    [
        (Decimal("60.0000"), "60"),
        (Decimal("1234567.5000"), "1,234,567.5"),
        (Decimal("0.0500"), "0.05"),
        (None, "—"),
    ],
)
def test_number_shows_stored_values_without_trailing_zeros(value, shown):
    assert fmt.number(value) == shown


@pytest.mark.parametrize(
    "value,shown",
    [
        (Decimal("41.666666"), "+41.67 %"),
        (Decimal("19.047619"), "+19.05 %"),
        (Decimal("-27.005"), "−27.01 %"),  # half up, away from zero
        (Decimal("0"), "0.00 %"),
        (None, "—"),
    ],
)
def test_signed_pct_rounds_half_up_and_signs(value, shown):
    assert fmt.signed_pct(value) == shown


def test_pct_of_none_is_a_dash_never_zero():
    assert fmt.pct(None) == "—" and fmt.share_pct(None) == "—"


def test_share_pct_and_score():
    assert fmt.share_pct(Decimal("0.607143")) == "60.71 %"
    assert (fmt.score(Decimal("0.00")), fmt.score(Decimal("57.40")), fmt.score(None)) == ("0.0", "57.4", "—")


def test_trend_classes():
    assert [fmt.trend(v) for v in (Decimal("3"), Decimal("-1"), Decimal("0"), None)] == [
        "better",
        "worse",
        "flat",
        "flat",
    ]
