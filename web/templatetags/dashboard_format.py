"""Display of dashboard figures: exact Decimals rounded only for display, "—" for no value."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template

from kpis.explanation import component_pct

register = template.Library()

DASH = "—"
MINUS = "−"
UNIT_SUFFIX = {"percent": " %", "hours": " h", "days": " d"}


def _decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _fixed(value: Decimal, places: int) -> str:
    rounded = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    if rounded == 0:
        rounded = abs(rounded)  # never "-0.0"
    text = f"{abs(rounded):,.{places}f}"
    return f"{MINUS}{text}" if rounded < 0 else text


@register.filter
def fixed(value, places=1) -> str:
    """A number to `places` decimals with thousands separators; "—" when there is none."""
    number = _decimal(value)
    return DASH if number is None else _fixed(number, int(places))


@register.filter
def signed(value, places=1) -> str:
    """A change with its sign: +3.2, −1.5, ±0.0; "—" when there is none."""
    number = _decimal(value)
    if number is None:
        return DASH
    text = _fixed(number, int(places))
    if text.lstrip(MINUS).strip("0.,") == "":
        return f"±{text}"
    return text if text.startswith(MINUS) else f"+{text}"


@register.filter
def pct(value, places=2) -> str:
    """A percentage (already × 100): 41.67 %."""
    number = _decimal(value)
    return DASH if number is None else f"{_fixed(number, int(places))} %"


@register.filter
def signed_pct(value, places=2) -> str:
    text = signed(value, places)
    return text if text == DASH else f"{text} %"


@register.filter
def share(value, places=0) -> str:
    """A 0–1 component as a percentage: 0.607143 → 61 %."""
    number = _decimal(value)
    return DASH if number is None else f"{_fixed(number * 100, int(places))} %"


@register.filter
def component(value) -> str:
    """A score component (0–1) as every page shows it, rounded by kpis.explanation: 0.607143 → 60.71 %."""
    return pct(component_pct(_decimal(value)), 2)


@register.filter
def measure(value, unit="") -> str:
    """A KPI value in its unit: 85 %, 17 h, 4.10 (trailing zeros of the stored scale trimmed)."""
    number = _decimal(value)
    if number is None:
        return DASH
    text = _fixed(number, 2)
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text}{UNIT_SUFFIX.get(unit, '')}"


@register.filter
def money(value, currency="") -> str:
    """A compact amount for headlines: 12.4 M USD, 950 k USD, 1.2 bn USD."""
    number = _decimal(value)
    if number is None:
        return DASH
    magnitude = abs(number)
    for threshold, suffix in ((Decimal("1e9"), " bn"), (Decimal("1e6"), " M"), (Decimal("1e3"), " k")):
        if magnitude >= threshold:
            text = _fixed(number / threshold, 1 if magnitude < threshold * 100 else 0) + suffix
            break
    else:
        text = _fixed(number, 0)
    return f"{text} {currency}".strip()


@register.filter
def signed_money(value, currency="") -> str:
    """A compact change in money with its sign: +1.2 M USD, −350 k USD."""
    number = _decimal(value)
    if number is None:
        return DASH
    text = money(number, currency)
    return text if number < 0 else f"+{text}" if number > 0 else f"±{text}"


@register.filter
def ratio_pct(value, whole) -> str:
    """value ÷ whole as a percentage to one decimal: 1,050,000 of 1,200,000 → 87.5 %."""
    number, whole = _decimal(value), _decimal(whole)
    if number is None or not whole:
        return DASH
    return pct(number / whole * 100, 1)


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if mapping else None
