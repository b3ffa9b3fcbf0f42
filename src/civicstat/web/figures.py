"""From what services return to what pages show: charts and sparklines (see ``charts``),
and values written the way people read them. Registered as template filters and globals.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup

from civicstat.services.measures.series import Point, Series
from civicstat.services.trends import TrendPoint
from civicstat.web import charts

_SIGNALS = {"beyond_limits": "beyond the control limits", "run_of_8": "a run of 8 on one side"}


def value(number: float | None, unit: str = "number") -> str:
    return charts.format_value(number, unit)


def change(number: float | None, unit: str = "number", direction: str | None = None) -> str:
    """A change with its sign, in points for percentages, and whether it is better or worse:
    "+1.2 pts, better"; colour is never the only sign."""
    if number is None:
        return "—"
    size = abs(number)
    if round(size, 0 if unit in ("count", "currency") else 1) == 0:
        return "no change"
    shown = f"{size:,.1f} pts" if unit == "percent" else charts.format_value(size, unit)
    text = ("+" if number > 0 else "−") + shown
    if direction in ("higher_is_better", "lower_is_better"):
        better = (number > 0) == (direction == "higher_is_better")
        text += ", better" if better else ", worse"
    return text


def relative(number: float | None) -> str:
    return "—" if number is None else f"{number * 100:+.1f}%".replace("-", "−")


def signal_rule(rule: str) -> str:
    return _SIGNALS.get(rule, rule)


def trend_sparkline(trend: Sequence[TrendPoint], unit: str) -> Markup:
    """A table cell's trend line; what it shows is said in its label."""
    labels = [p.period for p in trend]
    values = [p.value for p in trend]
    label = charts.trend_label(labels, values, unit)
    svg = charts.sparkline(values, label=label, targets=[p.target for p in trend])
    return Markup(svg)  # noqa: S704 - charts escapes every text it writes


def points_sparkline(points: Sequence[Point], unit: str) -> Markup:
    """A sparkline of a series' points (a withheld value leaves a gap); said in its label."""
    labels = [p.period for p in points]
    values = [p.value for p in points]
    label = charts.trend_label(labels, values, unit)
    svg = charts.sparkline(values, label=label, targets=[p.target for p in points])
    return Markup(svg)  # noqa: S704 - charts escapes every text it writes


def trend_chart(
    trend: Sequence[TrendPoint],
    *,
    title: str,
    unit: str,
    direction: str,
    warning_band: float,
    chart_id: str,
) -> Markup:
    """A trend with its target and status bands (no control limits: too few periods)."""
    points = [charts.ChartPoint(p.period, p.value, p.target, p.partial) for p in trend]
    bands = charts.StatusBands(direction == "higher_is_better", warning_band)
    svg = charts.series_chart(
        points, title=title, unit=unit, bands=bands, chart_id=chart_id, height=220
    )
    return Markup(svg)  # noqa: S704 - charts escapes every text it writes


def series_chart(
    series: Series, *, direction: str | None, warning_band: float, chart_id: str = "series"
) -> Markup:
    """A measure's whole series: value, target, status bands and XmR control limits."""
    flagged = {s.period for s in series.control.signals} if series.control else set()
    points = [
        charts.ChartPoint(p.period, p.value, p.target, p.partial, p.period in flagged)
        for p in series.points
    ]
    bands = None
    if direction is not None:
        bands = charts.StatusBands(direction == "higher_is_better", warning_band)
    control = None
    if series.control is not None:
        c = series.control
        control = charts.Control(centre=c.centre, lower=c.lower, upper=c.upper)
    title = series.title + (f" — {series.slice}" if series.slice else "")
    svg = charts.series_chart(
        points, title=title, unit=series.unit, bands=bands, control=control, chart_id=chart_id
    )
    return Markup(svg)  # noqa: S704 - charts escapes every text it writes
