"""What every chart shares: its points and reference marks, its colours, and how a value
reads (85.2%, 1,234, 3.4 days)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

# Colours meet WCAG 2.1 contrast on white: lines and marks 3:1 or more, text 4.5:1 or more.
INK = "#1b1f24"
MUTED = "#4a5563"
GRID = "#cfd6de"
TARGET = "#0b4f8a"
SIGNAL = "#a4161a"
BAND_FILL = {"on_target": "#e6f4ea", "near_target": "#fff4d6", "off_target": "#fde8e8"}
FONT = 'font-family="system-ui, sans-serif"'
Scale = Callable[[float], float]  # data value (or period index) to SVG coordinate

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
