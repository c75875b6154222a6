"""Charts drawn on the server as SVG, from the same selectors' rows that feed the dashboards.

Readable in greyscale: series differ by line style and marker shape as well as shade, bands are
labelled, and every value a chart shows is also printed as text beside it or in a table. The SVG
is built from numbers and escaped text only (no user markup passes through), so it is safe to put
inline in a page or a PDF.
"""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from xml.sax.saxutils import escape

from django.utils.safestring import SafeString, mark_safe

from presentation import formatting

INK = "#111"
MID = "#555"
LIGHT = "#999"
# Tier bands, highest first: shades a greyscale print tells apart.
BAND_FILLS = ("#e4e4e4", "#f2f2f2", "#d6d6d6")


def _number(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _text(
    x: float, y: float, text: str, *, size: float = 9, anchor: str = "middle", weight: str = "normal"
) -> str:
    return (
        f'<text x="{_number(x)}" y="{_number(y)}" font-size="{size}" text-anchor="{anchor}" '
        f'font-weight="{weight}" fill="{INK}">{escape(text)}</text>'
    )


def _svg(width: int, height: int, label: str, body: list[str]) -> SafeString:
    return mark_safe(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{escape(label, {chr(34): "&quot;"})}" '
        f'font-family="DejaVu Sans, sans-serif">{"".join(body)}</svg>'
    )


@dataclass(frozen=True)
class TrendPoint:
    period: dt.date
    score: Decimal | None  # None: new, not scored yet (a gap, not a 0)


def score_trend(
    points: Sequence[TrendPoint], *, bands: Sequence[dict], width: int = 640, height: int = 220
) -> SafeString:
    """Monthly scores (0–100) as a line over the tier bands, each point labelled with its value."""
    left, right, top, bottom = 34, 12, 10, 30
    plot_width, plot_height = width - left - right, height - top - bottom

    def y(score: float) -> float:
        return top + plot_height * (1 - score / 100)

    step = plot_width / max(len(points) - 1, 1)

    def x(index: int) -> float:
        return left + (index * step if len(points) > 1 else plot_width / 2)

    body = []
    for fill, band in zip(BAND_FILLS, bands, strict=False):
        high, low = float(band["high"]), float(band["low"])
        body.append(
            f'<rect x="{left}" y="{_number(y(high))}" width="{plot_width}" '
            f'height="{_number(y(low) - y(high))}" fill="{fill}"/>'
        )
        body.append(_text(left + plot_width - 4, y(high) + 10, band["label"], size=8, anchor="end"))
    for tick in (0, 20, 40, 60, 80, 100):
        level = _number(y(tick))
        body.append(f'<line x1="{left - 3}" x2="{left}" y1="{level}" y2="{level}" stroke="{MID}"/>')
        body.append(_text(left - 5, y(tick) + 3, str(tick), size=8, anchor="end"))
    axis = f'x1="{left}" x2="{left}" y1="{top}" y2="{top + plot_height}"'
    body.append(f'<line {axis} stroke="{MID}" stroke-width="0.8"/>')
    segments: list[list[tuple[float, float]]] = [[]]
    for index, point in enumerate(points):
        body.append(_text(x(index), height - bottom + 14, f"{point.period:%b}", size=8))
        if index == 0 or point.period.month == 1:
            body.append(_text(x(index), height - bottom + 25, f"{point.period:%Y}", size=8))
        if point.score is None:
            segments.append([])
            body.append(_text(x(index), y(4), "new", size=7))
            continue
        segments[-1].append((x(index), y(float(point.score))))
    for segment in segments:
        if len(segment) > 1:
            path = " ".join(f"{_number(px)},{_number(py)}" for px, py in segment)
            body.append(f'<polyline points="{path}" fill="none" stroke="{INK}" stroke-width="1.8"/>')
    for index, point in enumerate(points):
        if point.score is None:
            continue
        px, py = x(index), y(float(point.score))
        body.append(f'<circle cx="{_number(px)}" cy="{_number(py)}" r="2.6" fill="{INK}"/>')
        body.append(_text(px, py - 6, formatting.score(point.score), size=7.5))
    first, last = (points[0].period, points[-1].period) if points else (None, None)
    label = (
        f"Monthly score from {formatting.month(first)} to {formatting.month(last)} over the tier bands"
        if points
        else "No stored scores"
    )
    return _svg(width, height, label, body)


def benchmark_strip(
    *,
    score: Decimal,
    p25: Decimal,
    median: Decimal,
    p75: Decimal,
    width: int = 320,
    height: int = 44,
) -> SafeString:
    """A 0–100 scale with the cohort's middle half (p25–p75) as a box, its median as a bar and this
    relationship's score as a black diamond, each labelled."""
    left, right, axis = 8, 8, 24
    span = width - left - right

    def x(value: Decimal) -> float:
        return left + span * float(value) / 100

    body = [
        f'<line x1="{left}" x2="{left + span}" y1="{axis}" y2="{axis}" stroke="{LIGHT}" stroke-width="1"/>',
        f'<rect x="{_number(x(p25))}" y="{axis - 7}" width="{_number(max(x(p75) - x(p25), 1))}" height="14" '
        f'fill="#d9d9d9" stroke="{MID}" stroke-width="0.8"/>',
        f'<line x1="{_number(x(median))}" x2="{_number(x(median))}" y1="{axis - 9}" y2="{axis + 9}" '
        f'stroke="{MID}" stroke-width="2" stroke-dasharray="3,1.5"/>',
    ]
    for tick in (0, 50, 100):
        body.append(_text(x(Decimal(tick)), axis + 18, str(tick), size=7.5))
    cx = x(score)
    body.append(
        f'<polygon points="{_number(cx)},{axis - 8} {_number(cx + 6)},{axis} {_number(cx)},{axis + 8} '
        f'{_number(cx - 6)},{axis}" fill="{INK}" stroke="#fff" stroke-width="0.8"/>'
    )
    body.append(_text(cx, axis - 11, f"this relationship {formatting.score(score)}", size=7.5, weight="bold"))
    label = (
        f"Score {formatting.score(score)} against the cohort's middle half "
        f"{formatting.score(p25)}–{formatting.score(p75)}, median {formatting.score(median)}"
    )
    return _svg(width, height, label, body)
