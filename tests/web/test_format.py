"""How every number and date reads (presentation.formatting): one rule per kind of figure, "—" for none."""

import datetime
from decimal import Decimal

import pytest
from django.template import Context, Template

from presentation import formatting as fmt


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Decimal("60.0000"), "60"),
        (Decimal("1234567.5000"), "1,234,567.5"),
        (Decimal("0.0500"), "0.05"),
        (Decimal("-12.50"), "−12.5"),
        (None, "—"),
        ("", "—"),
        ("not a number", "—"),
    ],
)
def test_exact_shows_stored_values_without_trailing_zeros(value, shown):
    assert fmt.exact(value) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Decimal(25) / 60 * 100, "+41.67 %"),  # fill rate 60 → 85
        (Decimal(4) / 21 * 100, "+19.05 %"),  # turnaround 21 h → 17 h
        (Decimal("41.666666"), "+41.67 %"),
        (Decimal("-27.005"), "−27.01 %"),  # half up, away from zero
        (Decimal("0.004"), "±0.00 %"),
        (Decimal("-0.004"), "±0.00 %"),  # never "−0.00"
        (Decimal("12345.675"), "+12,345.68 %"),
        (None, "—"),
    ],
)
def test_improvement_rounds_half_up_to_two_decimals_with_a_sign(value, shown):
    assert fmt.improvement(value) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Decimal("83.33333"), "83.33 %"),
        (Decimal("104"), "104.00 %"),
        (Decimal("0.005"), "0.01 %"),
        (Decimal("-0.005"), "−0.01 %"),
        (None, "—"),
    ],
)
def test_percent_has_two_decimals_and_no_sign_for_positives(value, shown):
    assert fmt.percent(value) == shown


def test_component_is_the_same_percentage_everywhere():
    assert fmt.component(Decimal("0.607143")) == "60.71 %"
    assert fmt.component(Decimal("0.25")) == "25.00 %"
    assert fmt.component(Decimal("1")) == "100.00 %"
    assert fmt.component(None) == "—"


def test_ratio_of_two_amounts():
    assert fmt.ratio(Decimal("1050000"), Decimal("1200000")) == "87.50 %"
    assert fmt.ratio(Decimal("5"), Decimal("0")) == "—"
    assert fmt.ratio(None, Decimal("10")) == "—"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Decimal("48.75"), "48.8"),  # half up
        (Decimal("48.749"), "48.7"),
        (Decimal("0.00"), "0.0"),
        (Decimal("57.40"), "57.4"),
        (Decimal("100"), "100.0"),
        (None, "—"),
    ],
)
def test_score_has_one_decimal(value, shown):
    assert fmt.score(value) == shown


@pytest.mark.parametrize(
    ("function", "value", "places", "shown"),
    [
        (fmt.fixed, Decimal("-0.04"), 1, "0.0"),
        (fmt.fixed, Decimal("1234567"), 0, "1,234,567"),
        (fmt.signed, Decimal("12.5"), 1, "+12.5"),
        (fmt.signed, Decimal("-6.2"), 1, "−6.2"),
        (fmt.signed, Decimal("0"), 0, "±0"),
        (fmt.signed, Decimal("-0.04"), 1, "±0.0"),
        (fmt.signed, None, 1, "—"),
    ],
)
def test_fixed_and_signed_changes(function, value, places, shown):
    assert function(value, places) == shown


def test_counts_have_thousands_separators():
    assert (fmt.count(0), fmt.count(1234), fmt.count(12345678), fmt.count(None)) == (
        "0",
        "1,234",
        "12,345,678",
        "—",
    )


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Decimal("1000000.00"), "1,000,000 USD"),
        (Decimal("387000"), "387,000 USD"),
        (Decimal("1234567.5"), "1,234,567.50 USD"),
        (Decimal("0.005"), "0.01 USD"),
        (Decimal("-350000.00"), "−350,000 USD"),
        (Decimal("123456789012.34"), "123,456,789,012.34 USD"),
        (None, "—"),
    ],
)
def test_money_is_exact_with_separators_and_currency_code(value, shown):
    assert fmt.money(value, "USD") == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Decimal("10900000"), "10.9 M USD"),
        (Decimal("11349999"), "11.3 M USD"),
        (Decimal("150000"), "150 k USD"),
        (Decimal("950"), "950 USD"),
        (Decimal("1250000000"), "1.3 bn USD"),
        (Decimal("-350000"), "−350 k USD"),
        (None, "—"),
    ],
)
def test_money_compact_for_headlines(value, shown):
    assert fmt.money_compact(value, "USD") == shown


def test_money_changes_carry_their_sign():
    assert fmt.signed_money_compact(Decimal("30000"), "USD") == "+30.0 k USD"
    assert fmt.signed_money_compact(Decimal("-350000"), "USD") == "−350 k USD"
    assert fmt.signed_money_compact(Decimal("0"), "USD") == "±0 USD"
    assert fmt.signed_money(Decimal("30000"), "USD") == "+30,000 USD"
    assert fmt.signed_money(Decimal("-0.5"), "EUR") == "−0.50 EUR"


@pytest.mark.parametrize(
    ("unit", "symbol"),
    [("percent", "%"), ("hours", "h"), ("days", "d"), ("currency", "EUR"), ("count", ""), ("ratio", "")],
)
def test_unit_symbol_never_the_code(unit, symbol):
    assert fmt.unit_symbol(unit, "EUR") == symbol


@pytest.mark.parametrize(
    ("value", "unit", "shown"),
    [
        (Decimal("85.0000"), "percent", "85 %"),
        (Decimal("17.5000"), "hours", "17.5 h"),
        (Decimal("3"), "days", "3 d"),
        (Decimal("4100.0000"), "currency", "4,100 EUR"),
        (Decimal("1200"), "count", "1,200"),
        (None, "percent", "—"),
    ],
)
def test_measure_shows_a_kpi_value_in_its_unit(value, unit, shown):
    assert fmt.measure(value, unit, "EUR") == shown


def test_dates_in_one_style_and_iso_in_exports():
    assert fmt.day(datetime.date(2026, 12, 1)) == "1 Dec 2026"
    assert fmt.month(datetime.date(2026, 12, 1)) == "Dec 2026"
    assert fmt.moment(datetime.datetime(2026, 12, 1, 14, 2, tzinfo=datetime.UTC)) == "1 Dec 2026 14:02"
    assert fmt.day(None) == "—"
    assert fmt.export_date(datetime.date(2026, 12, 1)) == "2026-12-01"
    assert fmt.export_date(None) == ""


def test_export_numbers_are_machine_readable():
    assert fmt.export_number(Decimal("-27.005")) == "-27.01"
    assert fmt.export_number(Decimal("1234567.5")) == "1234567.50"
    assert fmt.export_number(None) == ""


def test_headline_money_tag_shows_the_exact_amount_as_tooltip():
    html = Template(
        "{% load display %}{% headline_money amount 'USD' %} {% headline_money_change change 'USD' %}"
    )
    rendered = html.render(Context({"amount": Decimal("10912345.60"), "change": Decimal("30000")}))
    assert rendered == (
        '<span title="10,912,345.60 USD">10.9 M USD</span> <span title="+30,000 USD">+30.0 k USD</span>'
    )


def test_display_filters_are_the_formatting_functions():
    html = Template(
        "{% load display %}{{ a|improvement }}|{{ c|component }}|{{ s|score }}|{{ m|money:'USD' }}|"
        "{% measure v 'hours' %}|{{ d|day }}"
    )
    rendered = html.render(
        Context(
            {
                "a": Decimal("30.357"),
                "c": Decimal("0.607143"),
                "s": Decimal("48.75"),
                "m": Decimal("350000"),
                "v": Decimal("17"),
                "d": datetime.date(2026, 12, 1),
            }
        )
    )
    assert rendered == "+30.36 %|60.71 %|48.8|350,000 USD|17 h|1 Dec 2026"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0th"),
        (1, "1st"),
        (2, "2nd"),
        (3, "3rd"),
        (4, "4th"),
        (11, "11th"),
        (12, "12th"),
        (13, "13th"),
        (21, "21st"),
        (62.5, "63rd"),
        (Decimal("99.4"), "99th"),
        (100, "100th"),
        (None, "—"),
    ],
)
def test_ordinal_ranks_read_as_people_say_them(value, text):
    assert fmt.ordinal(value) == text
