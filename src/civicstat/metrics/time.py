"""Placing rows in periods, as Ibis expressions every engine runs the same way.

Calendar grains use ``truncate``; fiscal grains count months from the fiscal year's first
month and rebuild the start date with ``make_date``, so no engine needs a fiscal calendar.
Windows (rolling, to date) and period-end snapshots (backlog) join the rows to a *spine*:
one row per period with the bounds that period aggregates over.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import ibis
import pyarrow as pa
from ibis.expr.types import DateValue, Table, Value

from civicstat.domain.periods import Grain, Period, periods_between, window_start
from civicstat.recent import Recent
from civicstat.spec.models import Window

_TRUNCATE = {Grain.DAY: "D", Grain.WEEK: "W", Grain.MONTH: "M", Grain.QUARTER: "Q", Grain.YEAR: "Y"}
_FISCAL_MONTHS = {Grain.FISCAL_QUARTER: 3, Grain.FISCAL_YEAR: 12}


def period_start(time: Value, grain: Grain, fiscal_start_month: int = 1) -> DateValue:
    """The first day of the period (at ``grain``) that contains ``time``."""
    if grain in _TRUNCATE:
        start: DateValue = time.truncate(_TRUNCATE[grain]).cast("date")
        return start
    months = _FISCAL_MONTHS[grain]
    # Months since year 0, shifted so that the fiscal year starts a block of `months`.
    index = time.year() * 12 + time.month() - fiscal_start_month
    first = index - index % months + fiscal_start_month - 1
    return ibis.date(first // 12, first % 12 + 1, 1)


def spine(
    first: dt.date,
    last: dt.date,
    grain: Grain,
    fiscal_start_month: int,
    *,
    window: Window | None = None,
    from_period: dt.date | None = None,
    timestamps: bool = True,
) -> Table:
    """One row per period from ``first`` to ``last``: ``_period`` and the ``[_lo, _hi)``
    bounds its rows come from (the period itself, or its window)."""
    periods = periods_between(first, last, grain, fiscal_start_month)
    if from_period is not None:
        periods = [p for p in periods if p.start >= from_period]
    lows = [window_bounds(p, window) for p in periods]
    as_bound = _as_timestamp if timestamps else (lambda d: d)
    kind = pa.timestamp("us") if timestamps else pa.date32()
    return memtable(
        pa.table(
            {
                "_period": pa.array([p.start for p in periods], pa.date32()),
                "_lo": pa.array([as_bound(lo) for lo in lows], kind),
                "_hi": pa.array([as_bound(p.end) for p in periods], kind),
            }
        )
    )


def memtable(data: pa.Table) -> Table:
    """An in-memory table; the same content gives the very same Ibis table (its nodes
    compare by identity), so queries built over it are equal and the warehouse reuses
    their compiled SQL."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, data.schema) as writer:
        writer.write_table(data)
    digest = hashlib.sha256(sink.getvalue().to_pybytes()).digest()
    return _MEMTABLES.get(digest, lambda: ibis.memtable(data))


_MEMTABLES: Recent[bytes, Table] = Recent(256)


def window_bounds(period: Period, window: Window | None) -> dt.date:
    """Start of the rows that count towards ``period`` (its own start without a window)."""
    if window is None:
        return period.start
    if window.trailing is not None:
        return window_start(period, trailing=window.trailing)
    assert window.to_date is not None
    return window_start(period, to_date=Grain(window.to_date))


def _as_timestamp(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time())
