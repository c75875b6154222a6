"""How every number and date reads, on every page, in the CSV export and in the QBR pack (PDF).

Plain functions on plain values: no template machinery, so exports and documents call exactly
what the pages show through `presentation.templatetags.display`. Values are exact `Decimal`s rounded only
here, half up (away from zero), never shown as "-0"; a missing value is "—", never 0.
"""

import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.utils import timezone

DASH = "—"
MINUS = "−"  # the true minus sign: a hyphen reads as a dash next to digits

# A KPI's unit as people write it after a number; units without a symbol (count, ratio, index,
# score) show the bare number. "currency" takes the relationship's currency code.
UNIT_SYMBOLS = {"percent": "%", "hours": "h", "days": "d"}

MONTH_FORMAT = "%b %Y"  # Dec 2026
TIME_FORMAT = "%H:%M"

_COMPACT_STEPS = ((Decimal("1e9"), "bn"), (Decimal("1e6"), "M"), (Decimal("1e3"), "k"))


def to_decimal(value) -> Decimal | None:
    """A number as an exact Decimal; None for no value (None, "", or not a number)."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _rounded(number: Decimal, places: int) -> Decimal:
    rounded = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return abs(rounded) if rounded == 0 else rounded  # never "-0.0"


def _grouped(number: Decimal, places: int) -> str:
    rounded = _rounded(number, places)
    text = f"{abs(rounded):,.{places}f}"
    return f"{MINUS}{text}" if rounded < 0 else text


def _with_sign(number: Decimal, text: str, places: int) -> str:
    if _rounded(number, places) == 0:
        return f"±{text}"
    return text if text.startswith(MINUS) else f"+{text}"


def fixed(value, places: int = 1) -> str:
    """A number to `places` decimals with thousands separators: 1,234,567.5 → "1,234,567.5"."""
    number = to_decimal(value)
    return DASH if number is None else _grouped(number, int(places))


def signed(value, places: int = 1) -> str:
    """A change with its sign: +3.2, −1.5, ±0.0."""
    number = to_decimal(value)
    return DASH if number is None else _with_sign(number, _grouped(number, int(places)), int(places))


def count(value) -> str:
    """A count with thousands separators: 12345 → "12,345"."""
    return fixed(value, 0)


def exact(value) -> str:
    """A stored value as typed, without the column's trailing zeros: 60.0000 → "60"."""
    number = to_decimal(value)
    if number is None:
        return DASH
    text = f"{abs(number).normalize():,f}"
    return f"{MINUS}{text}" if number < 0 else text


def percent(value, places: int = 2) -> str:
    """A percentage (already × 100) to two decimals: 83.333 → "83.33 %"."""
    text = fixed(value, places)
    return text if text == DASH else f"{text} %"


def improvement(value) -> str:
    """An improvement (a percentage, already × 100) with its sign: +41.67 %, −27.01 %, ±0.00 %."""
    text = signed(value, 2)
    return text if text == DASH else f"{text} %"


def component(value) -> str:
    """A 0–1 score component as a percentage of its full mark: 0.607143 → "60.71 %"."""
    number = to_decimal(value)
    return DASH if number is None else percent(number * 100)


def ratio(value, whole) -> str:
    """value ÷ whole as a percentage: 1,050,000 of 1,200,000 → "87.50 %"; "—" without a whole."""
    number, whole = to_decimal(value), to_decimal(whole)
    if number is None or not whole:
        return DASH
    return percent(number / whole * 100)


def ordinal(value) -> str:
    """A whole rank as people say it, rounded half up: 62.5 → "63rd", 1 → "1st", 11 → "11th"."""
    number = to_decimal(value)
    if number is None:
        return DASH
    whole = int(_rounded(number, 0))
    suffix = "th" if 10 <= abs(whole) % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(abs(whole) % 10, "th")
    return f"{fixed(whole, 0)}{suffix}"


def score(value) -> str:
    """A 0–100 relationship score to one decimal: 48.75 → "48.8"."""
    return fixed(value, 1)


def money(value, currency: str = "") -> str:
    """An exact amount with its currency code: "1,234,567.50 USD"; whole amounts without cents."""
    number = to_decimal(value)
    if number is None:
        return DASH
    places = 0 if _rounded(number, 2) == _rounded(number, 0) else 2
    return f"{_grouped(number, places)} {currency}".strip()


def _signed_amount(value, amount, currency: str) -> str:
    """An amount written by `amount` (money or money_compact) with its sign: +, −, or ± for 0."""
    number = to_decimal(value)
    if number is None:
        return DASH
    text = amount(number, currency)
    if number == 0:
        return f"±{text}"
    return text if number < 0 else f"+{text}"


def signed_money(value, currency: str = "") -> str:
    """An exact change of an amount with its sign: +30,000 USD, −350,000.50 USD, ±0 USD."""
    return _signed_amount(value, money, currency)


def money_compact(value, currency: str = "") -> str:
    """A headline amount: 10.9 M USD, 950 k USD, 1.2 bn USD. Only for headline cards, beside
    the exact amount (see `money`) in a tooltip."""
    number = to_decimal(value)
    if number is None:
        return DASH
    magnitude = abs(number)
    for threshold, suffix in _COMPACT_STEPS:
        if magnitude >= threshold:
            scaled = number / threshold
            text = f"{_grouped(scaled, 1 if magnitude < threshold * 100 else 0)} {suffix}"
            break
    else:
        text = _grouped(number, 0)
    return f"{text} {currency}".strip()


def signed_money_compact(value, currency: str = "") -> str:
    """A compact change of a headline amount: +1.2 M USD, −350 k USD, ±0 USD."""
    return _signed_amount(value, money_compact, currency)


def unit_symbol(unit: str, currency: str = "") -> str:
    """A KPI unit as a symbol: %, h, d, the relationship's currency; "" for count and the like."""
    if unit == "currency":
        return currency
    return UNIT_SYMBOLS.get(unit, "")


def measure(value, unit: str = "", currency: str = "") -> str:
    """A KPI value in its unit: "85 %", "17.5 h", "4,100 USD", "12" (a count)."""
    text = exact(value)
    symbol = unit_symbol(unit, currency)
    return text if text == DASH or not symbol else f"{text} {symbol}"


def _as_date(value) -> datetime.date | None:
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value if isinstance(value, datetime.date) else None


def day(value) -> str:
    """A date as people read it: "1 Dec 2026"."""
    date = _as_date(value)
    return DASH if date is None else f"{date.day} {date.strftime(MONTH_FORMAT)}"


def month(value) -> str:
    """A month (a score's period): "Dec 2026"."""
    date = _as_date(value)
    return DASH if date is None else date.strftime(MONTH_FORMAT)


def moment(value) -> str:
    """A point in time in local time: "1 Dec 2026 14:02"."""
    if not isinstance(value, datetime.datetime):
        return day(value)
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    return f"{day(local)} {local.strftime(TIME_FORMAT)}"


# Exports: machine-readable values that spreadsheets parse (no separators, ASCII minus, ISO dates).


def export_number(value, places: int = 2) -> str:
    """A number for a file: -27.01, 1234567.50; "" for no value."""
    number = to_decimal(value)
    return "" if number is None else str(_rounded(number, int(places)))


def export_date(value) -> str:
    """A date for a file, in ISO 8601: 2026-12-01; "" for no date."""
    date = _as_date(value)
    return "" if date is None else date.isoformat()


# --- Spreadsheet text -----------------------------------------------------------------------------

# Text that a spreadsheet would take as the start of a formula (or of a cell's control).
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")


def csv_text(value) -> str:
    """Text as a spreadsheet will take it, never as a formula: a leading =, +, -, @ is escaped.
    (The exports write it; the imports take the apostrophe off again.)"""
    text = "" if value is None else str(value)
    return f"'{text}" if text[:1] in FORMULA_LEADS else text
