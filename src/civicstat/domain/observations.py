"""One computed value of a measure for a period and slice, before it is stored."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class ObservationRow:
    """A value with what it was computed from; the metrics engine makes it, metadata keeps it."""

    period_start: dt.date
    period_end: dt.date
    slice_key: str
    value: float | None
    numerator: float | None
    denominator: float | None
    n: int
