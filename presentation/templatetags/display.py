"""The one template library for showing numbers and dates: thin filters over `presentation.formatting`.

Load it with `{% load display %}`. Each filter is the formatting function of the same rule, so a
page, the CSV export and a document can never disagree on how a figure reads.
"""

from django import template
from django.utils.html import format_html

from presentation import formatting

register = template.Library()

register.filter("fixed", formatting.fixed)
register.filter("signed", formatting.signed)
register.filter("count", formatting.count)
register.filter("exact", formatting.exact)
register.filter("percent", formatting.percent)
register.filter("improvement", formatting.improvement)
register.filter("component", formatting.component)
register.filter("ratio", formatting.ratio)
register.filter("score", formatting.score)
register.filter("ordinal", formatting.ordinal)
register.filter("money", formatting.money)
register.filter("unit_symbol", formatting.unit_symbol)
register.filter("day", formatting.day)
register.filter("month", formatting.month)
register.filter("moment", formatting.moment)


@register.simple_tag(name="measure")
def measure_tag(value, unit, currency=""):
    """{% measure value unit relationship.currency %}: "85 %", "17.5 h", "4,100 USD"."""
    return formatting.measure(value, unit, currency)


def _with_tooltip(exact: str, compact: str):
    return format_html('<span title="{}">{}</span>', exact, compact)


@register.simple_tag
def headline_money(value, currency=""):
    """A compact headline amount with the exact amount as its tooltip: 10.9 M USD."""
    return _with_tooltip(formatting.money(value, currency), formatting.money_compact(value, currency))


@register.simple_tag
def headline_money_change(value, currency=""):
    """A compact change of a headline amount with its exact value as the tooltip: +30.0 k USD."""
    return _with_tooltip(
        formatting.signed_money(value, currency), formatting.signed_money_compact(value, currency)
    )


@register.filter
def trend(value) -> str:
    """CSS class for an improvement: better, worse or flat."""
    number = formatting.to_decimal(value)
    if number is None or number == 0:
        return "flat"
    return "better" if number > 0 else "worse"


@register.filter
def field_label(name: str) -> str:
    """An audited field name for people: delivered_on → delivered on."""
    return str(name).replace("_", " ")


@register.filter
def audit_value(value) -> str:
    if value is None or value == "":
        return formatting.DASH
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or formatting.DASH
    return str(value)


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if mapping else None
