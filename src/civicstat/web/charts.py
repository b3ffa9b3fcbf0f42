"""Charts as inline SVG, drawn on the server: no script, no CDN, the same on screen, in print
and in a PDF report.

Pure functions from numbers to an SVG string; every piece of text in it (titles, period
labels, units) is escaped here. Each chart says what it shows in its ``<title>`` and
``<desc>`` (read out by screen readers); the page shows the same data as a table.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

__all__ = [
    "ChartPoint",
    "Control",
    "StatusBands",
    "format_value",
    "series_chart",
    "sparkline",
]

# Colours meet WCAG 2.1 contrast on white: lines and marks 3:1 or more, text 4.5:1 or more.
INK = "#1b1f24"
MUTED = "#4a5563"
GRID = "#cfd6de"
TARGET = "#0b4f8a"
SIGNAL = "#a4161a"
BAND_FILL = {"on_target": "#e6f4ea", "near_target": "#fff4d6", "off_target": "#fde8e8"}
FONT = 'font-family="system-ui, sans-serif"'
_Scale = Callable[[float], float]  # data value (or period index) to SVG coordinate

_UNIT_SUFFIX = {
    "percent": "%",
    "seconds": " s",
    "minutes": " min",
    "hours": " h",
    "days": " days",
    "business_days": " business days",
}


@dataclass(frozen=True, slots=True)
class ChartPoint:
    label: str  # the period, e.g. 2026-10
    value: float | None
    target: float | None = None
    partial: bool = False  # the period is still running
    signal: bool = False  # an XmR signal: a change beyond routine variation


@dataclass(frozen=True, slots=True)
class StatusBands:
    """Where values are on, near or off target, drawn behind the line around each target."""

    higher_is_better: bool
    warning_band: float


@dataclass(frozen=True, slots=True)
class Control:
    """XmR natural process limits: the centre line and the upper and lower limits."""

    centre: float
    lower: float
    upper: float


def format_value(value: float | None, unit: str = "number") -> str:
    """A value as people read it: 85.2%, 1,234, $12,500, 3.4 days; an em dash if none."""
    if value is None or not math.isfinite(value):
        return "—"
    if unit == "count":
        return f"{value:,.0f}"
    if unit == "currency":
        return f"${value:,.0f}"
    return f"{value:,.1f}{_UNIT_SUFFIX.get(unit, '')}"


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
    legend, rows = _legend(left, width - right, bands is not None, control is not None, points)
    top = 16 + 18 * rows
    plot_w, plot_h = width - left - right, height - top - bottom
    lo, hi = _domain(points, bands, control)
    ticks = _ticks(lo, hi)
    lo, hi = min(lo, ticks[0]), max(hi, ticks[-1])
    step = plot_w / max(len(points), 1)

    def x(i: float) -> float:
        return left + step * (i + 0.5)

    def y(v: float) -> float:
        return top + plot_h * (1 - (v - lo) / (hi - lo))

    parts = [head]
    if bands is not None:
        parts.append(_bands(points, bands, x, y, step, top, plot_h, lo, hi))
    for t in ticks:
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y(t):.1f}" y2="{y(t):.1f}" '
            f'stroke="{GRID}" stroke-width="1"/>'
            f'<text x="{left - 6}" y="{y(t) + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="{MUTED}">{escape(format_value(t, _tick_unit(unit)))}</text>'
        )
    if control is not None:
        for value, name, dash in (
            (control.upper, "UCL", "6 4"),
            (control.centre, "Mean", "2 3"),
            (control.lower, "LCL", "6 4"),
        ):
            if lo <= value <= hi:
                parts.append(
                    f'<line class="control" x1="{left}" x2="{left + plot_w}" y1="{y(value):.1f}" '
                    f'y2="{y(value):.1f}" stroke="{MUTED}" stroke-width="1.5" '
                    f'stroke-dasharray="{dash}"/>'
                    f'<text x="{left + plot_w + 4}" y="{y(value) + 3.5:.1f}" '
                    f'font-size="10" fill="{MUTED}">{name}</text>'
                )
    target_path = _step_path([(x(i), p.target) for i, p in enumerate(points)], step, lambda v: y(v))
    if target_path:
        parts.append(
            f'<path class="target" d="{target_path}" fill="none" stroke="{TARGET}" '
            f'stroke-width="2.5"/>'
        )
    parts.append(_line([(x(i), p.value) for i, p in enumerate(points)], y))
    for i, p in enumerate(points):
        if p.value is None or not math.isfinite(p.value):
            continue
        cx, cy = x(i), y(p.value)
        if p.signal:
            parts.append(
                f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="7" fill="none" stroke="{SIGNAL}" '
                f'stroke-width="2"/>'
            )
        fill = "#ffffff" if p.partial else INK
        parts.append(
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3.5" fill="{fill}" stroke="{INK}" '
            f'stroke-width="1.5"><title>{escape(p.label)}: '
            f"{escape(format_value(p.value, unit))}{' (in progress)' if p.partial else ''}"
            f"</title></circle>"
        )
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
    target_path = _polyline(target_points, y)
    if target_path:
        parts.append(
            f'<path d="{target_path}" fill="none" stroke="{TARGET}" stroke-width="1" '
            f'stroke-dasharray="3 2"/>'
        )
    parts.append(_line([(x(i), v) for i, v in enumerate(values)], y, width_px=1.5))
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


# --- drawing helpers --------------------------------------------------------------------


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


def _domain(
    points: Sequence[ChartPoint], bands: StatusBands | None, control: Control | None
) -> tuple[float, float]:
    seen = [p.value for p in points if p.value is not None and math.isfinite(p.value)]
    seen += [p.target for p in points if p.target is not None]
    if bands is not None:
        sign = -1 if bands.higher_is_better else 1
        seen += [p.target + sign * bands.warning_band for p in points if p.target is not None]
    if control is not None:
        seen += [control.lower, control.upper]
    lo, hi = min(seen), max(seen)
    if hi - lo < 1e-9:
        lo, hi = lo - 1, hi + 1
    pad = (hi - lo) * 0.08
    return lo - pad, hi + pad


def _ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering [lo, hi]: steps of 1, 2 or 5 times a power of ten."""
    raw = (hi - lo) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    start = math.floor(lo / step) * step
    ticks: list[float] = []
    value = start
    while value <= hi + step * 0.5 and len(ticks) < 20:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _tick_unit(unit: str) -> str:
    return unit if unit in ("percent", "count", "currency") else "number"


def _bands(
    points: Sequence[ChartPoint],
    bands: StatusBands,
    x: _Scale,
    y: _Scale,
    step: float,
    top: float,
    plot_h: float,
    lo: float,
    hi: float,
) -> str:
    """Columns behind each period, coloured by the status a value there would have."""
    out = ['<g class="bands">']
    runs: list[tuple[int, int, float]] = []  # consecutive periods with the same target
    for i, p in enumerate(points):
        if p.target is None:
            continue
        if runs and runs[-1][1] == i - 1 and runs[-1][2] == p.target:
            runs[-1] = (runs[-1][0], i, p.target)
        else:
            runs.append((i, i, p.target))
    for first, last, target in runs:
        x0 = x(first) - step / 2
        w = step * (last - first + 1)
        edge = (
            target - bands.warning_band if bands.higher_is_better else target + bands.warning_band
        )
        if bands.higher_is_better:
            zones = [
                ("on_target", target, hi),
                ("near_target", edge, target),
                ("off_target", lo, edge),
            ]
        else:
            zones = [
                ("on_target", lo, target),
                ("near_target", target, edge),
                ("off_target", edge, hi),
            ]
        for status, low, high in zones:
            low, high = max(low, lo), min(high, hi)
            if high <= low:
                continue
            out.append(
                f'<rect x="{x0:.1f}" y="{y(high):.1f}" width="{w:.1f}" '
                f'height="{y(low) - y(high):.1f}" fill="{BAND_FILL[status]}"/>'
            )
    out.append("</g>")
    return "".join(out)


def _segments(
    points: Sequence[tuple[float, float | None]], y: _Scale
) -> list[list[tuple[float, float]]]:
    """Runs of consecutive known values: a gap in the data is a gap in the line."""
    runs: list[list[tuple[float, float]]] = [[]]
    for px, v in points:
        if v is None or not math.isfinite(v):
            if runs[-1]:
                runs.append([])
            continue
        runs[-1].append((px, y(v)))
    return [r for r in runs if r]


def _polyline(points: Sequence[tuple[float, float | None]], y: _Scale) -> str:
    return " ".join(
        "M" + " L".join(f"{px:.1f},{py:.1f}" for px, py in run) for run in _segments(points, y)
    )


def _line(points: Sequence[tuple[float, float | None]], y: _Scale, width_px: float = 2.5) -> str:
    path = _polyline(points, y)
    if not path:
        return ""
    return (
        f'<path class="series" d="{path}" fill="none" stroke="{INK}" '
        f'stroke-width="{width_px}" stroke-linejoin="round"/>'
    )


def _step_path(points: Sequence[tuple[float, float | None]], step: float, y: _Scale) -> str:
    """A target drawn as a flat step across each period's column."""
    parts = []
    for run in _segments(points, y):
        moves = [f"M{run[0][0] - step / 2:.1f},{run[0][1]:.1f}"]
        for px, py in run:
            moves.append(f"L{px - step / 2:.1f},{py:.1f} L{px + step / 2:.1f},{py:.1f}")
        parts.append(" ".join(moves))
    return " ".join(parts)


def _legend(
    left: float, right: float, bands: bool, control: bool, points: Sequence[ChartPoint]
) -> tuple[str, int]:
    """The key to the chart's marks, wrapped onto as many rows as it needs."""
    entries: list[tuple[str, str]] = [
        (f'<line x1="0" x2="20" y1="0" y2="0" stroke="{INK}" stroke-width="2.5"/>', "Value")
    ]
    if any(p.target is not None for p in points):
        mark = f'<line x1="0" x2="20" y1="0" y2="0" stroke="{TARGET}" stroke-width="2.5"/>'
        entries.append((mark, "Target"))
    if control:
        mark = (
            f'<line x1="0" x2="20" y1="0" y2="0" stroke="{MUTED}" stroke-width="1.5" '
            f'stroke-dasharray="6 4"/>'
        )
        entries.append((mark, "Control limits (XmR)"))
    if any(p.partial for p in points):
        mark = f'<circle cx="10" cy="0" r="3.5" fill="#ffffff" stroke="{INK}" stroke-width="1.5"/>'
        entries.append((mark, "In progress"))
    if any(p.signal for p in points):
        mark = f'<circle cx="10" cy="0" r="6" fill="none" stroke="{SIGNAL}" stroke-width="2"/>'
        entries.append((mark, "Signal"))
    if bands:
        for status, text in (("on_target", "On"), ("near_target", "Near"), ("off_target", "Off")):
            mark = (
                f'<rect x="2" y="-6" width="16" height="12" fill="{BAND_FILL[status]}" '
                f'stroke="{MUTED}"/>'
            )
            entries.append((mark, f"{text} target"))
    items: list[str] = []
    cursor, row = left, 0
    for mark, text in entries:
        size = 34 + 6.2 * len(text)
        if cursor > left and cursor + size > right:
            cursor, row = left, row + 1
        items.append(f'<g transform="translate({cursor:.0f},{14 + 18 * row})">{mark}')
        items.append(f'<text x="26" y="4" font-size="11" fill="{INK}">{escape(text)}</text></g>')
        cursor += size
    return '<g class="legend">' + "".join(items) + "</g>", row + 1
