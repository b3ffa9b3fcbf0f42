"""The pieces charts are drawn from: the value axis's range and ticks, then status bands,
lines with gaps, the target's steps and the legend as SVG markup (text escaped here)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from civicstat.web._chart_base import (
    BAND_FILL,
    INK,
    MUTED,
    SIGNAL,
    TARGET,
    ChartPoint,
    Control,
    Scale,
    StatusBands,
)


def domain(
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


def ticks(lo: float, hi: float, count: int = 5) -> list[float]:
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


def bands(
    points: Sequence[ChartPoint],
    bands: StatusBands,
    x: Scale,
    y: Scale,
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


def segments(
    points: Sequence[tuple[float, float | None]], y: Scale
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


def polyline(points: Sequence[tuple[float, float | None]], y: Scale) -> str:
    return " ".join(
        "M" + " L".join(f"{px:.1f},{py:.1f}" for px, py in run) for run in segments(points, y)
    )


def line(points: Sequence[tuple[float, float | None]], y: Scale, width_px: float = 2.5) -> str:
    path = polyline(points, y)
    if not path:
        return ""
    return (
        f'<path class="series" d="{path}" fill="none" stroke="{INK}" '
        f'stroke-width="{width_px}" stroke-linejoin="round"/>'
    )


def step_path(points: Sequence[tuple[float, float | None]], step: float, y: Scale) -> str:
    """A target drawn as a flat step across each period's column."""
    parts = []
    for run in segments(points, y):
        moves = [f"M{run[0][0] - step / 2:.1f},{run[0][1]:.1f}"]
        for px, py in run:
            moves.append(f"L{px - step / 2:.1f},{py:.1f} L{px + step / 2:.1f},{py:.1f}")
        parts.append(" ".join(moves))
    return " ".join(parts)


def legend(
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
