"""Measure kinds: how a measure's rows (or other measures) become one value per period.

A *row kind* turns the rows of a (period, slice) group into aggregates: a value directly
(median, latest) or a numerator and denominator whose quotient is the value, so every
observation can show what it was computed from. A *composite kind* (ratio, derived,
cumulative) is computed from other measures. Kinds register through the
``civicstat.measure_kinds`` entry point group, the built-in ones too, so a plugin adds a
kind exactly the same way: subclass :class:`RowKind` and name it in its package metadata.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points
from typing import Any, ClassVar

import ibis
import pyarrow as pa
from ibis.expr.types import Table, Value

from civicstat.domain.calendars import BusinessCalendar
from civicstat.metrics.expressions import parse, parse_value, to_ibis
from civicstat.metrics.time import memtable
from civicstat.spec.models import DURATION_UNITS, Measure

GROUP = "civicstat.measure_kinds"

# Fields every measure may have, whatever its kind.
BASE_FIELDS = frozenset({"id", "title", "description", "kind", "grain", "unit"})
_ROWS = frozenset({"dataset", "time"})
_ROWS_OPTIONAL = frozenset({"filter", "breakdowns", "window"})
_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}


@dataclass(frozen=True)
class Env:
    """What a computation needs from the workspace besides the measure and its rows."""

    fiscal_start_month: int = 1
    calendar: BusinessCalendar = field(default_factory=lambda: BusinessCalendar(None))


@dataclass(frozen=True)
class Aggregates:
    """Aggregate expressions over a group of rows.

    With ``value`` set, it is the observation's value; otherwise the value is
    ``numerator / denominator × scale`` (computed once, in Python, so it is correctly
    rounded and the same on every engine).
    """

    n: Any
    numerator: Any = None
    denominator: Any = None
    value: Any = None
    scale: float = 1.0


class Kind:
    """A measure kind: the fields it needs and how it is computed."""

    name: ClassVar[str]
    required: ClassVar[frozenset[str]] = frozenset()
    optional: ClassVar[frozenset[str]] = frozenset()
    default_unit: ClassVar[str] = "number"
    #: True when values add up over time (counts, sums): the period-end projection scales
    #: the value so far by the period's length; otherwise the current value is the pace.
    additive: ClassVar[bool] = False
    #: True when a group's aggregates are sums of its parts' (count, sum, share, mean), so a
    #: window can add up per-period aggregates instead of re-reading every row per period.
    decomposable: ClassVar[bool] = False
    #: True when ``value`` must be a number (a sum, a mean...); a distinct count takes any.
    numeric_value: ClassVar[bool] = False

    def problems(self, measure: Measure) -> list[tuple[str, str]]:
        """Problems beyond field presence, as (field, message)."""
        return []

    def decomposes(self, measure: Measure) -> bool:
        """Whether this measure's aggregates add up over parts (by default the kind's
        ``decomposable``): then a window adds up its periods, and an append adds the new
        rows' aggregates to the stored ones. Such a measure's aggregates are a value, or a
        numerator over a denominator that is never NULL (a count), each a sum."""
        return self.decomposable

    def depends_on(self, measure: Measure) -> list[str]:
        """Ids of the measures this one is computed from."""
        return []

    def unit(self, measure: Measure) -> str:
        return measure.unit or self.default_unit


class RowKind(Kind):
    """A kind computed from the rows of the measure's dataset."""

    required = _ROWS
    optional = _ROWS_OPTIONAL

    def prepare(self, measure: Measure, rows: Table, env: Env) -> Table:
        """Add the columns the aggregates use (e.g. a duration); by default nothing."""
        return rows

    def time_column(self, measure: Measure) -> str:
        assert measure.time is not None  # required by the kind, checked by validate
        return measure.time

    def aggregate(self, measure: Measure, rows: Table) -> Aggregates:
        raise NotImplementedError


class CompositeKind(Kind):
    """A kind computed from other measures' observations, period by period."""


def _value(measure: Measure, rows: Table) -> Value:
    assert measure.value is not None
    value: Value = to_ibis(parse_value(measure.value), rows)
    return value


class Count(RowKind):
    name = "count"
    decomposable = True
    default_unit = "count"
    additive = True

    def aggregate(self, measure: Measure, rows: Table) -> Aggregates:
        return Aggregates(n=rows.count(), value=rows.count())


class DistinctCount(RowKind):
    name = "distinct_count"
    required = _ROWS | {"value"}
    default_unit = "count"

    def aggregate(self, measure: Measure, rows: Table) -> Aggregates:
        value = _value(measure, rows)
        return Aggregates(n=value.count(), value=value.nunique())


class Sum(RowKind):
    name = "sum"
    decomposable = True
    required = _ROWS | {"value"}
    numeric_value = True
    additive = True

    def aggregate(self, measure: Measure, rows: Table) -> Aggregates:
        value = _value(measure, rows)
        return Aggregates(n=value.count(), value=value.sum())


class Mean(RowKind):
    name = "mean"
    decomposable = True
    required = _ROWS | {"value"}
    numeric_value = True

    def aggregate(self, measure: Measure, rows: Table) -> Aggregates:
        value = _value(measure, rows)
        count = value.count()
        return Aggregates(n=count, numerator=value.sum(), denominator=count)


class Median(RowKind):
    """The middle value, interpolated between the two middle ones (continuous)."""

    name = "median"
    required = _ROWS | {"value"}
    numeric_value = True

    def aggregate(self, measure: Measure, rows: Table) -> Aggregates:
        value = _value(measure, rows)
        return Aggregates(n=value.count(), value=value.quantile(0.5))


class Percentile(RowKind):
    """The p-th percentile, interpolated linearly (PERCENTILE_CONT) on every engine."""

    name = "percentile"
    required = _ROWS | {"value", "percentile"}
    numeric_value = True

    def aggregate(self, measure: Measure, rows: Table) -> Aggregates:
        assert measure.percentile is not None
        value = _value(measure, rows)
        return Aggregates(n=value.count(), value=value.quantile(measure.percentile / 100))


class Share(RowKind):
    """Share of rows meeting ``condition``: a row where it is NULL does not meet it."""

    name = "share"
    decomposable = True
    required = _ROWS | {"condition"}
    default_unit = "percent"

    def aggregate(self, measure: Measure, rows: Table) -> Aggregates:
        assert measure.condition is not None
        met = to_ibis(parse(measure.condition), rows).fill_null(False)
        scale = 100.0 if self.unit(measure) == "percent" else 1.0
        # Ibis sums a boolean through INT on every engine; PostgreSQL has no boolean → bigint.
        return Aggregates(
            n=rows.count(), numerator=met.sum(), denominator=rows.count(), scale=scale
        )


class Latest(RowKind):
    """The value on the period's last row by time (e.g. a reading or a balance)."""

    name = "latest"
    required = _ROWS | {"value"}
    numeric_value = True

    def aggregate(self, measure: Measure, rows: Table) -> Aggregates:
        value = _value(measure, rows)
        latest = value.argmax(rows[self.time_column(measure)])
        return Aggregates(n=rows.count(), value=latest)


class Duration(RowKind):
    """Time from ``start`` to ``end`` per row, summarised by its median, mean or a percentile.

    Units are seconds to days, or business days: weekdays that are not holidays of the
    workspace's calendar, counted as ``numpy.busday_count`` does (start day in, end day out).
    A row missing either timestamp has no duration and is not counted.
    """

    name = "duration"
    required = frozenset({"dataset", "start", "end"})
    optional = _ROWS_OPTIONAL | {"time", "statistic", "percentile"}
    default_unit = "seconds"

    def problems(self, measure: Measure) -> list[tuple[str, str]]:
        out = []
        if self.unit(measure) not in DURATION_UNITS:
            out.append(("unit", f"a duration's unit is one of {', '.join(DURATION_UNITS)}"))
        if (measure.statistic == "percentile") != (measure.percentile is not None):
            out.append(("percentile", "give 'percentile' exactly when statistic is percentile"))
        return out

    def time_column(self, measure: Measure) -> str:
        assert measure.start is not None
        return measure.time or measure.start

    def decomposes(self, measure: Measure) -> bool:
        return measure.statistic == "mean"  # a sum over a count; medians and percentiles not

    def prepare(self, measure: Measure, rows: Table, env: Env) -> Table:
        assert measure.start is not None
        assert measure.end is not None
        start, end = rows[measure.start], rows[measure.end]
        unit = self.unit(measure)
        if unit == "business_days":
            return _business_days(rows, measure.start, measure.end, env.calendar)
        if start.type().is_date() and end.type().is_date():
            seconds = end.delta(start, unit="day") * 86400
        else:
            millis = end.delta(start, unit="millisecond")
            seconds = millis / 1000.0
        return rows.mutate(_duration=seconds / _SECONDS[unit])

    def aggregate(self, measure: Measure, rows: Table) -> Aggregates:
        duration = rows["_duration"]
        n = duration.count()
        match measure.statistic or "median":
            case "mean":
                return Aggregates(n=n, numerator=duration.sum(), denominator=n)
            case "percentile":
                assert measure.percentile is not None
                p = measure.percentile / 100
                return Aggregates(n=n, value=duration.quantile(p))
        return Aggregates(n=n, value=duration.quantile(0.5))


# Business days are counted between dates in this span (a calendar index row per day).
CALENDAR_FIRST = dt.date(1990, 1, 1)
CALENDAR_YEARS_AHEAD = 15
_INDEXES: dict[str, pa.Table] = {}


def _business_days(rows: Table, start: str, end: str, calendar: BusinessCalendar) -> Table:
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


class Rate(RowKind):
    """Rows per ``per`` of a population: a fixed number or a dataset by period and slice."""

    name = "rate"
    required = _ROWS | {"per", "population"}
    default_unit = "rate"
    additive = True

    def aggregate(self, measure: Measure, rows: Table) -> Aggregates:
        assert measure.per is not None
        population = measure.population if isinstance(measure.population, float | int) else None
        # A bare float literal is NUMERIC to PostgreSQL (ibis#11947); a cast from its exact
        # decimal text is a double on every engine.
        denominator = (
            ibis.literal(repr(float(population))).cast("float64")
            if population is not None
            else None
        )
        return Aggregates(
            n=rows.count(), numerator=rows.count(), denominator=denominator, scale=measure.per
        )


class Backlog(RowKind):
    """Items open at the end of each period: opened before it ends, not closed by then.

    ``aging`` buckets the open items by how long they have been open (days) as an extra
    breakdown named ``age``.
    """

    name = "backlog"
    required = frozenset({"dataset", "start", "end"})
    optional = frozenset({"filter", "breakdowns", "aging"})
    default_unit = "count"

    def problems(self, measure: Measure) -> list[tuple[str, str]]:
        aging = measure.aging
        if any(b <= 0 for b in aging) or aging != sorted(set(aging)):
            return [("aging", "aging bounds are positive whole days in ascending order")]
        return []

    def time_column(self, measure: Measure) -> str:
        assert measure.start is not None
        return measure.start

    def aggregate(self, measure: Measure, rows: Table) -> Aggregates:
        return Aggregates(n=rows.count(), value=rows.count())


def aging_labels(bounds: Sequence[int]) -> list[str]:
    """``[30, 60]`` → ``['0-30', '31-60', 'over 60']`` (days open at the period's end)."""
    labels, low = [], 0
    for high in bounds:
        labels.append(f"{low}-{high}")
        low = high + 1
    labels.append(f"over {bounds[-1]}")
    return labels


class Ratio(CompositeKind):
    """One measure's value divided by another's, period by period and slice by slice."""

    name = "ratio"
    required = frozenset({"numerator", "denominator"})

    def depends_on(self, measure: Measure) -> list[str]:
        assert measure.numerator is not None
        assert measure.denominator is not None
        return [measure.numerator, measure.denominator]


class Derived(CompositeKind):
    """Arithmetic over other measures' values, e.g. ``(this_year - last_year) / last_year``."""

    name = "derived"
    required = frozenset({"inputs", "expression"})

    def depends_on(self, measure: Measure) -> list[str]:
        return list(measure.inputs.values())


class Cumulative(CompositeKind):
    """Another measure accumulated from the start of each (fiscal) year: year to date.

    It is computed from rows, not by adding up values, so a median or a share to date is
    right too.
    """

    name = "cumulative"
    required = frozenset({"of"})
    optional = frozenset({"reset"})

    def depends_on(self, measure: Measure) -> list[str]:
        assert measure.of is not None
        return [measure.of]


@cache
def available() -> Mapping[str, Kind]:
    kinds: dict[str, Kind] = {}
    for ep in entry_points(group=GROUP):
        loaded = ep.load()
        kinds[ep.name] = loaded() if isinstance(loaded, type) else loaded
    return kinds


def get(name: str) -> Kind:
    kinds = available()
    if name not in kinds:
        raise KeyError(f"unknown measure kind {name!r} (installed: {', '.join(sorted(kinds))})")
    return kinds[name]
