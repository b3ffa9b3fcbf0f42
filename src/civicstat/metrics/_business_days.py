"""Business days between two dates of each row, on any engine, by joining a day index.

A duration in ``business_days`` counts weekdays that are not holidays of the workspace's
calendar as ``numpy.busday_count`` does (start day in, end day out).
"""

from __future__ import annotations

import datetime as dt

import ibis
import pyarrow as pa
from ibis.expr.types import Table

from civicstat.domain.calendars import BusinessCalendar
from civicstat.metrics.time import memtable

# Business days are counted between dates in this span (a calendar index row per day).
CALENDAR_FIRST = dt.date(1990, 1, 1)
CALENDAR_YEARS_AHEAD = 15
_INDEXES: dict[str, pa.Table] = {}


def business_days(rows: Table, start: str, end: str, calendar: BusinessCalendar) -> Table:
    """Join a business-day index on both dates: business days = index[end] - index[start].

    A date outside the calendar's span (1990 to 15 years ahead) has no business-day count,
    so a row with one has no duration.
    """
    days = memtable(_calendar_index(calendar))
    a = days.rename(_day_a="_day", _bd_a="_bd", _open_a="_open")
    b = days.rename(_day_b="_day", _bd_b="_bd", _open_b="_open")
    rows = rows.mutate(_sd=rows[start].cast("date"), _ed=rows[end].cast("date"))
    joined = rows.left_join(a, rows._sd == a._day_a).left_join(b, rows._ed == b._day_b)
    forwards = joined._bd_b - joined._bd_a
    # Backwards (end before start) numpy counts (end, start]: shift both days by one.
    backwards = forwards + joined._open_b - joined._open_a
    days_between = ibis.ifelse(joined._ed < joined._sd, backwards, forwards)
    return joined.mutate(_duration=days_between.cast("float64"))


def _calendar_index(calendar: BusinessCalendar) -> pa.Table:
    key = repr(calendar)
    if key not in _INDEXES:
        last = dt.date(dt.date.today().year + CALENDAR_YEARS_AHEAD, 12, 31)
        index = calendar.index(CALENDAR_FIRST, last)
        _INDEXES[key] = pa.table(
            {
                "_day": pa.array([d for d, _ in index], pa.date32()),
                "_bd": pa.array([i for _, i in index], pa.int64()),
                "_open": pa.array([int(calendar.is_business_day(d)) for d, _ in index], pa.int64()),
            }
        )
    return _INDEXES[key]
