"""Display filters for numbers on the pages: exact values without noise, percentages with signs."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template

register = template.Library()

DASH = "—"


def _decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


@register.filter
def number(value) -> str:
    """A stored value as typed: 60.0000 → 60, 1234567.5 → 1,234,567.5; None → —."""
    value = _decimal(value)
    if value is None:
        return DASH
    return f"{value.normalize():,f}"


@register.filter
def score(value) -> str:
    """A 0–100 score as stated, to one decimal: 0 → 0.0, 57.40 → 57.4."""
    value = _decimal(value)
    return DASH if value is None else str(value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


@register.filter
def money(value) -> str:
    value = _decimal(value)
    if value is None:
        return DASH
    return f"{value.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,}"


@register.filter
def pct(value, signed: bool = False) -> str:
    """A percentage rounded to two places (half up): 41.6666 → 41.67 %, or +41.67 % when signed."""
    value = _decimal(value)
    if value is None:
        return DASH
    shown = value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    sign = "+" if signed and shown > 0 else ""
    return f"{sign}{shown} %".replace("-", "−")


@register.filter
def signed_pct(value) -> str:
    return pct(value, signed=True)


@register.filter
def share_pct(value) -> str:
    """A 0–1 share as a percentage: 0.607142 → 60.71 %."""
    value = _decimal(value)
    return DASH if value is None else pct(value * 100)


@register.filter
def trend(value) -> str:
    """CSS class for an improvement: better, worse or none."""
    value = _decimal(value)
    if value is None or value == 0:
        return "flat"
    return "better" if value > 0 else "worse"


@register.filter
def field_label(name: str) -> str:
    """An audited field name for people: delivered_on → delivered on."""
    return str(name).replace("_", " ")


@register.filter
def audit_value(value) -> str:
    if value is None or value == "":
        return DASH
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or DASH
    return str(value)
