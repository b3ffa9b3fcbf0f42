"""Reading a series: change between periods, process behaviour (XmR) charts, projections.

XmR charts follow Donald Wheeler (*Understanding Variation*): natural process limits at
the mean plus or minus 2.66 average moving ranges separate routine variation from signals
worth a manager's attention.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from civicstat.domain.periods import Period

__all__ = [
    "Change",
    "Signal",
    "XmR",
    "change",
    "elapsed_fraction",
    "project",
    "xmr",
]

# Wheeler's scaling constants for individual values and their two-point moving ranges.
NATURAL_PROCESS_LIMIT = 2.66
MOVING_RANGE_LIMIT = 3.268
RUN_LENGTH = 8


@dataclass(frozen=True, slots=True)
class Change:
    """Change from a previous value: absolute, and relative to the previous magnitude."""

    absolute: float
    relative: float | None


def change(current: float | None, previous: float | None) -> Change | None:
    """Change from ``previous`` to ``current``; None when either is missing or non-finite.

    ``relative`` is ``absolute / |previous|`` (so a rise is positive even from a negative
    base) and None when ``previous`` is 0.
    """
    if current is None or previous is None:
        return None
    if not (math.isfinite(current) and math.isfinite(previous)):
        return None
    absolute = current - previous
    relative = None if previous == 0 else absolute / abs(previous)
    return Change(absolute, relative)


@dataclass(frozen=True, slots=True)
class Signal:
    """A point of the series that is unlikely to be routine variation, and why."""

    index: int
    rule: str  # "beyond_limits" or "run_of_8"


@dataclass(frozen=True, slots=True)
class XmR:
    """Limits of an individuals and moving range chart, and the signals they show."""

    centre: float
    average_moving_range: float
    upper: float
    lower: float
    moving_range_upper: float
    signals: list[Signal] = field(default_factory=list)


def xmr(values: Sequence[float], *, baseline: int | None = None) -> XmR:
    """XmR chart of ``values``, with limits from the first ``baseline`` points (or all).

    Signals are looked for across every value, baseline or not:
    ``beyond_limits`` for a point above the upper or below the lower limit, and
    ``run_of_8`` for each point that is the 8th or later in a row strictly on one side
    of the centre line (a point on the line breaks the run).
    """
    if len(values) < 2:
        raise ValueError(f"an XmR chart needs at least 2 values, got {len(values)}")
    if not all(math.isfinite(v) for v in values):
        raise ValueError("XmR values must be finite numbers")
    count = len(values) if baseline is None else baseline
    if not 2 <= count <= len(values):
        raise ValueError(f"baseline must be between 2 and {len(values)} points, got {count}")
    base = values[:count]
    centre = math.fsum(base) / count
    mr_bar = math.fsum(abs(b - a) for a, b in itertools.pairwise(base)) / (count - 1)
    upper = centre + NATURAL_PROCESS_LIMIT * mr_bar
    lower = centre - NATURAL_PROCESS_LIMIT * mr_bar

    signals: list[Signal] = []
    run_side = 0
    run_length = 0
    for i, value in enumerate(values):
        if value > upper or value < lower:
            signals.append(Signal(i, "beyond_limits"))
        side = (value > centre) - (value < centre)
        if side != 0 and side == run_side:
            run_length += 1
        else:
            run_side, run_length = side, (1 if side != 0 else 0)
        if run_length >= RUN_LENGTH:
            signals.append(Signal(i, "run_of_8"))
    return XmR(
        centre=centre,
        average_moving_range=mr_bar,
        upper=upper,
        lower=lower,
        moving_range_upper=MOVING_RANGE_LIMIT * mr_bar,
        signals=signals,
    )


def project(value: float, *, elapsed: float, total: float, additive: bool) -> float:
    """Where a running period will end at the current pace.

    Additive measures (counts, sums) scale with time: ``value * total / elapsed``.
    Non-additive ones (shares, averages, medians) have no pace, so the value stands.
    """
    if not (math.isfinite(elapsed) and elapsed > 0):
        raise ValueError(f"elapsed must be a positive number, got {elapsed}")
    if not (math.isfinite(total) and total >= elapsed):
        raise ValueError(f"total ({total}) must be at least elapsed ({elapsed})")
    if not additive:
        return value
    return value * total / elapsed


def elapsed_fraction(period: Period, as_of: dt.date) -> tuple[int, int]:
    """Days of ``period`` elapsed by the end of ``as_of``, and days in the period.

    ``as_of`` counts as elapsed; dates before the period give 0, after it the whole.
    """
    total = (period.end - period.start).days
    elapsed = (as_of - period.start).days + 1
    return min(max(elapsed, 0), total), total
