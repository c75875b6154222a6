"""The pack as HTML (a Django template over the pack's data) and as PDF (WeasyPrint).

WeasyPrint rather than headless Chromium's print-to-PDF: it is a Python library that runs inside
the web and worker processes (no browser to install, start and supervise on every worker), it
implements the CSS paged-media rules a report needs (`@page` margin boxes with "page X of Y",
page-break control) and draws SVG natively, and on Debian it needs only Pango, which the system
already has. Charts are server-side SVG (reviews.charts), so nothing runs JavaScript.
"""

from dataclasses import dataclass

from django.conf import settings
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from kpis import benchmarks, dashboard_selectors
from reviews.pack import PackData


@dataclass(frozen=True)
class RenderedPack:
    pdf: bytes
    pages: int


def css_string(text: str) -> str:
    """Text for a CSS string literal inside the page's <style> (the footer's margin box): quotes,
    backslashes, markup characters and control characters as CSS escapes, so that no name can end
    the string or the style element."""
    escaped = "".join(f"\\{ord(char):X} " if char in "\\\"'<>&" or ord(char) < 32 else char for char in text)
    return mark_safe(escaped)


def pack_html(pack: PackData) -> str:
    relationship = pack.relationship
    context = {
        "pack": pack,
        "areas": sorted(relationship.process_areas.all(), key=lambda area: area.name),
        "managers": list(relationship.account_managers.all()),
        "previous_quarter": pack.quarter.shifted(-1),
        "next_quarter": pack.quarter.shifted(1),
        "year_ago_month": pack.year_ago.period if pack.year_ago else None,
        "bands": dashboard_selectors.tier_bands(),
        "stuck_days": settings.BPO_QBR["STUCK_DAYS"],
        "minimums": benchmarks.thresholds(),
        "footer": css_string(f"{relationship.name} · quarterly business review {pack.quarter.label}"),
    }
    return render_to_string("reviews/pack.html", context)


class RenderingUnavailable(RuntimeError):
    """The machine lacks what WeasyPrint needs (Pango): packs cannot be rendered here."""


def pack_pdf(pack: PackData) -> RenderedPack:
    try:
        import weasyprint  # imported here: only the processes that render packs load it
    except OSError as missing:  # WeasyPrint loads Pango when imported
        raise RenderingUnavailable(
            "QBR packs cannot be rendered on this server: WeasyPrint needs Pango "
            "(Debian: apt-get install libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core)."
        ) from missing

    document = weasyprint.HTML(string=pack_html(pack)).render()
    return RenderedPack(pdf=document.write_pdf(), pages=len(document.pages))
