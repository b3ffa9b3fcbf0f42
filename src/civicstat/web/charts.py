"""Charts as inline SVG, drawn on the server: no script, no CDN, the same on screen, in print
and in a PDF report.

Pure functions from numbers to an SVG string; every piece of text in it (titles, period
labels, units) is escaped here. Each chart says what it shows in its ``<title>`` and
``<desc>`` (read out by screen readers); the page shows the same data as a table.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from civicstat.web import _chart_marks as marks
from civicstat.web._chart_base import (
    BAND_FILL,
    FONT,
    GRID,
    INK,
    MUTED,
    SIGNAL,
    TARGET,
    ChartPoint,
    Control,
    Scale,
    StatusBands,
    format_value,
)

__all__ = [
    "BAND_FILL",
    "GRID",
    "INK",
    "MUTED",
    "SIGNAL",
    "TARGET",
    "ChartPoint",
    "Control",
    "StatusBands",
    "format_value",
    "series_chart",
    "sparkline",
    "trend_label",
]


def series_chart(
    points: Sequence[ChartPoint],
    *,
    title: str,
    unit: str = "number",
    bands: StatusBands | None = None,
    control: Control | None = None,
    chart_id: str = "chart",
    width: int = 760,
    height: int = 280,
) -> str:
    """A measure's values by period, with its target line, status bands and XmR limits."""
    cid = _id(chart_id)
    summary = _summary(points, title, unit, control)
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
        f'role="img" aria-labelledby="{cid}-title {cid}-desc" focusable="false" {FONT}>'
        f'<title id="{cid}-title">{escape(title)}</title>'
        f'<desc id="{cid}-desc">{escape(summary)}</desc>'
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>'
    )
    valued = [p.value for p in points if p.value is not None and math.isfinite(p.value)]
    if not valued:
        note = "No data yet"
        return (
            f'{head}<text x="{width / 2}" y="{height / 2}" text-anchor="middle" '
            f'font-size="14" fill="{MUTED}">{note}</text></svg>'
        )
    left, right, bottom = 64, 44 if control is not None else 16, 28
    legend, rows = marks.legend(left, width - right, bands is not None, control is not None, points)
    top = 16 + 18 * rows
    plot_w, plot_h = width - left - right, height - top - bottom
    lo, hi = marks.domain(points, bands, control)
    ticks = marks.ticks(lo, hi)
    lo, hi = min(lo, ticks[0]), max(hi, ticks[-1])
    step = plot_w / max(len(points), 1)

    def x(i: float) -> float:
        return left + step * (i + 0.5)

    def y(v: float) -> float:
        return top + plot_h * (1 - (v - lo) / (hi - lo))

    parts = [head]
    if bands is not None:
        parts.append(marks.bands(points, bands, x, y, step, top, plot_h, lo, hi))
    parts += _grid(ticks, left, plot_w, y, unit)
    if control is not None:
        parts += _control_lines(control, lo, hi, left, plot_w, y)
    target_path = marks.step_path([(x(i), p.target) for i, p in enumerate(points)], step, y)
    if target_path:
        parts.append(
            f'<path class="target" d="{target_path}" fill="none" stroke="{TARGET}" '
            f'stroke-width="2.5"/>'
        )
    parts.append(marks.line([(x(i), p.value) for i, p in enumerate(points)], y))
    parts += _dots(points, x, y, unit)
    every = max(1, math.ceil(len(points) / max(plot_w // 64, 1)))
    for i, p in enumerate(points):
        if (len(points) - 1 - i) % every == 0:  # the latest period always has its label
            parts.append(
                f'<text x="{x(i):.1f}" y="{height - bottom + 16}" text-anchor="middle" '
                f'font-size="11" fill="{MUTED}">{escape(p.label)}</text>'
            )
    parts.append(legend)
    parts.append("</svg>")
    return "".join(parts)


def _grid(ticks: list[float], left: float, plot_w: float, y: Scale, unit: str) -> list[str]:
    """A grid line and a label on the value axis at each tick."""
    return [
        f'<line x1="{left}" x2="{left + plot_w}" y1="{y(t):.1f}" y2="{y(t):.1f}" '
        f'stroke="{GRID}" stroke-width="1"/>'
        f'<text x="{left - 6}" y="{y(t) + 4:.1f}" text-anchor="end" font-size="11" '
        f'fill="{MUTED}">{escape(format_value(t, _tick_unit(unit)))}</text>'
        for t in ticks
    ]


def _control_lines(
    control: Control, lo: float, hi: float, left: float, plot_w: float, y: Scale
) -> list[str]:
    """The XmR centre line and limits, those within the plotted range."""
    out = []
    for value, name, dash in (
        (control.upper, "UCL", "6 4"),
        (control.centre, "Mean", "2 3"),
        (control.lower, "LCL", "6 4"),
    ):
        if lo <= value <= hi:
            out.append(
                f'<line class="control" x1="{left}" x2="{left + plot_w}" y1="{y(value):.1f}" '
                f'y2="{y(value):.1f}" stroke="{MUTED}" stroke-width="1.5" '
                f'stroke-dasharray="{dash}"/>'
                f'<text x="{left + plot_w + 4}" y="{y(value) + 3.5:.1f}" '
                f'font-size="10" fill="{MUTED}">{name}</text>'
            )
    return out


def _dots(points: Sequence[ChartPoint], x: Scale, y: Scale, unit: str) -> list[str]:
    """A dot per known value (hollow while its period runs), ringed where it is a signal."""
    out = []
    for i, p in enumerate(points):
        if p.value is None or not math.isfinite(p.value):
            continue
        cx, cy = x(i), y(p.value)
        if p.signal:
            out.append(
                f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="7" fill="none" stroke="{SIGNAL}" '
                f'stroke-width="2"/>'
            )
        fill = "#ffffff" if p.partial else INK
        out.append(
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3.5" fill="{fill}" stroke="{INK}" '
            f'stroke-width="1.5"><title>{escape(p.label)}: '
            f"{escape(format_value(p.value, unit))}{' (in progress)' if p.partial else ''}"
            f"</title></circle>"
        )
    return out


def sparkline(
    values: Sequence[float | None],
    *,
    label: str,
    targets: Sequence[float | None] = (),
    width: int = 120,
    height: int = 30,
) -> str:
    """A small trend line (with its target, if any) for a table cell; ``label`` is what a
    screen reader says instead, e.g. "Trend over 12 months: 81.0% to 88.5%"."""
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="sparkline" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}" focusable="false"><title>{escape(label)}</title>'
    )
    finite = [v for v in (*values, *targets) if v is not None and math.isfinite(v)]
    if not [v for v in values if v is not None and math.isfinite(v)]:
        return head + "</svg>"
    lo, hi = min(finite), max(finite)
    if hi - lo < 1e-9:
        lo, hi = lo - 1, hi + 1
    pad = 3
    step = (width - 2 * pad) / max(len(values) - 1, 1)

    def x(i: int) -> float:
        return pad + step * i

    def y(v: float) -> float:
        return pad + (height - 2 * pad) * (1 - (v - lo) / (hi - lo))

    parts = [head]
    target_points = [(x(i), t) for i, t in enumerate(targets)]
    target_path = marks.polyline(target_points, y)
    if target_path:
        parts.append(
            f'<path d="{target_path}" fill="none" stroke="{TARGET}" stroke-width="1" '
            f'stroke-dasharray="3 2"/>'
        )
    parts.append(marks.line([(x(i), v) for i, v in enumerate(values)], y, width_px=1.5))
    last = next(((i, v) for i, v in reversed(list(enumerate(values))) if v is not None), None)
    if last is not None and math.isfinite(last[1]):
        parts.append(f'<circle cx="{x(last[0]):.1f}" cy="{y(last[1]):.1f}" r="2.5" fill="{INK}"/>')
    parts.append("</svg>")
    return "".join(parts)


def trend_label(labels: Sequence[str], values: Sequence[float | None], unit: str) -> str:
    """What a sparkline shows, in words: its span, first and last value, low and high."""
    known = [(lab, v) for lab, v in zip(labels, values, strict=True) if v is not None]
    if not known:
        return "Trend: no data yet"
    (first_label, first), (last_label, last) = known[0], known[-1]
    low = min(v for _, v in known)
    high = max(v for _, v in known)
    return (
        f"Trend from {first_label} to {last_label}: {format_value(first, unit)} to "
        f"{format_value(last, unit)}, lowest {format_value(low, unit)}, "
        f"highest {format_value(high, unit)}"
    )


# --- drawing helpers ------------------------------------------------------------------


def _id(text: str) -> str:
    """An XML id from any text: letters, digits, '-' and '_' kept, the rest dropped."""
    cleaned = "".join(c for c in text if c.isascii() and (c.isalnum() or c in "-_"))
    return cleaned if cleaned[:1].isalpha() else f"c{cleaned}"


def _summary(points: Sequence[ChartPoint], title: str, unit: str, control: Control | None) -> str:
    known = [(p, p.value) for p in points if p.value is not None and math.isfinite(p.value)]
    if not known:
        return f"{title}: no data yet."
    (first, _), (last, last_value) = known[0], known[-1]
    low, low_value = min(known, key=lambda pv: pv[1])
    high, high_value = max(known, key=lambda pv: pv[1])
    text = (
        f"{title}: {len(known)} periods from {first.label} to {last.label}. "
        f"Latest, {last.label}{' (in progress)' if last.partial else ''}: "
        f"{format_value(last_value, unit)}"
    )
    if last.target is not None:
        text += f" against a target of {format_value(last.target, unit)}"
    text += (
        f". Lowest {format_value(low_value, unit)} in {low.label}; "
        f"highest {format_value(high_value, unit)} in {high.label}."
    )
    if control is not None:
        text += (
            f" Routine variation (XmR limits) from {format_value(control.lower, unit)} "
            f"to {format_value(control.upper, unit)}."
        )
    signals = [p.label for p, _ in known if p.signal]
    if signals:
        text += f" Signals of change in {', '.join(signals)}."
    return text


def _tick_unit(unit: str) -> str:
    return unit if unit in ("percent", "count", "currency") else "number"
