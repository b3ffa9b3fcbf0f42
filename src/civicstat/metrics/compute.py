"""Compute a measure's observations over one data version of its dataset.

:func:`expression` builds one Ibis query returning every (period, slice) aggregate of a
row-kind measure; :func:`observations` turns its result into observation rows. The
all-slice total and each breakdown are grouped separately and stacked, so totals are
computed from rows, never re-added from slices.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import ibis
from ibis.expr.types import Table

from civicstat.domain.observations import ObservationRow
from civicstat.domain.periods import period_of
from civicstat.metrics import _backlog, kinds
from civicstat.metrics._backlog import AGE
from civicstat.metrics._rows import ALL, BLANK, bound, day, groupings, shaped, slice_key, stack
from civicstat.metrics.expressions import to_ibis
from civicstat.metrics.time import period_start, spine, window_bounds
from civicstat.spec.language import parse
from civicstat.spec.models import Measure

# A rate's denominator for a (period start, dimension, value); None when unknown.
Denominators = Callable[[dt.date, str, str | None], float | None]


def row_kind(measure: Measure) -> kinds.RowKind:
    kind = kinds.get(measure.kind)
    if not isinstance(kind, kinds.RowKind):
        raise TypeError(
            f"measure {measure.id!r} of kind {measure.kind!r} is not computed from rows"
        )
    return kind


def expression(
    measure: Measure,
    rows: Table,
    env: kinds.Env | None = None,
    from_period: dt.date | None = None,
    *,
    through: dt.date | None = None,
) -> Table:
    """One Ibis query with columns ``_period, dim, dim_value, num, den, val, n``.

    With ``from_period`` only the periods from that one on are computed (an incremental
    refresh); the rows they need (including a window's earlier rows) are all read. A
    backlog's refresh is the exception: it returns what changed since the end of the
    period before (see :func:`_backlog_changes`), which :func:`observations` adds to the
    counts open then. ``through`` ends a refresh's periods of a window or a backlog at the
    one holding that day (see :func:`latest_period`) instead of asking the rows.
    """
    env = env or kinds.Env()
    kind = row_kind(measure)
    time = kind.time_column(measure)
    rows = _measured(measure, rows)
    if through is not None and from_period is not None:
        span: tuple[Any, Any] = (from_period, through)
    elif spanned(measure):
        span = data_range(measure, rows, from_period)
    else:
        span = (None, None)
    if kind.flow and from_period is not None:
        return _backlog.changes(measure, rows, span, env, from_period)
    if from_period is not None:
        rows = _rows_for_refresh(measure, rows, time, env, from_period)
    rows = kind.prepare(measure, rows, env)
    dimensions: list[str] = list(measure.breakdowns)
    if kind.flow:
        rows = _backlog.open_at_period_end(measure, rows, span, env, from_period)
        if measure.aging:
            dimensions.append(AGE)
    elif measure.window is not None and kind.decomposes(measure):
        return _windows_of_periods(measure, kind, rows, time, dimensions, span, env, from_period)
    elif measure.window is not None:
        rows = _in_windows(measure, rows, time, span, env, from_period)
    else:
        rows = rows.mutate(_period=period_start(rows[time], measure.grain, env.fiscal_start_month))

    return stack(
        [shaped(_aggregate(kind, measure, rows, keys), dim) for keys, dim in groupings(dimensions)]
    )


def spanned(measure: Measure) -> bool:
    """A window or a backlog: a value at every period from the data's first to its latest,
    rows in it or not, so computing one asks the rows for their time span."""
    return measure.window is not None or row_kind(measure).flow


def latest_period(
    measure: Measure, rows: Table, env: kinds.Env, from_period: dt.date
) -> dt.date | None:
    """For a refresh of a window or a backlog from ``from_period``: the start of the last
    period to compute, the one holding the latest time of the measure's rows (a backlog's
    latest opening or closing); None when no row is that late."""
    latest = data_range(measure, _measured(measure, rows), from_period)[1]
    if latest is None:
        return None
    return period_of(day(latest), measure.grain, env.fiscal_start_month).start


def _measured(measure: Measure, rows: Table) -> Table:
    """The rows a measure counts: its filter's, with a time."""
    if measure.filter:
        rows = rows.filter(to_ibis(parse(measure.filter), rows).fill_null(False))
    time = row_kind(measure).time_column(measure)
    return rows.filter(rows[time].notnull())


def _rows_for_refresh(
    measure: Measure,
    rows: Table,
    time: str,
    env: kinds.Env,
    from_period: dt.date,
) -> Table:
    """Only the rows that can count in a period from ``from_period`` on."""
    first = period_of(from_period, measure.grain, env.fiscal_start_month)
    return rows.filter(rows[time] >= bound(rows, time, window_bounds(first, measure.window)))


def _aggregate(kind: kinds.RowKind, measure: Measure, rows: Table, keys: list[str]) -> Table:
    agg = kind.aggregate(measure, rows)
    return rows.group_by(keys).aggregate(
        n=agg.n,
        num=agg.numerator if agg.numerator is not None else ibis.null("float64"),
        den=agg.denominator if agg.denominator is not None else ibis.null("float64"),
        val=agg.value if agg.value is not None else ibis.null("float64"),
    )


def _windows_of_periods(
    measure: Measure,
    kind: kinds.RowKind,
    rows: Table,
    time: str,
    dimensions: list[str],
    span: tuple[Any, Any],
    env: kinds.Env,
    from_period: dt.date | None,
) -> Table:
    """A window over a decomposable kind: aggregate each period once, then add up the
    periods each window spans (far fewer rows than joining every row to its windows)."""
    lo, hi = span
    periods = spine(
        day(lo) if lo is not None else dt.date.today(),
        day(hi) if hi is not None else dt.date.today(),
        measure.grain,
        env.fiscal_start_month,
        window=measure.window,
        from_period=from_period,
        timestamps=False,
    )
    rows = rows.mutate(_p=period_start(rows[time], measure.grain, env.fiscal_start_month))
    parts = []
    for keys, dimension in groupings(dimensions):
        inner = [*keys[1:], "_p"]
        per_period = _aggregate(kind, measure, rows, inner)
        joined = per_period.join(
            periods, [per_period._p >= periods._lo, per_period._p < periods._hi]
        )
        out = joined.group_by(["_period", *keys[1:]]).aggregate(
            n=joined.n.sum(), num=joined.num.sum(), den=joined.den.sum(), val=joined.val.sum()
        )
        parts.append(shaped(out, dimension))
    return stack(parts)


def observations(
    measure: Measure,
    result: Any,
    env: kinds.Env | None = None,
    denominators: Denominators | None = None,
    opening: Mapping[str, float | None] | None = None,
) -> Iterator[ObservationRow]:
    """Turn the query's Arrow result into observation rows.

    A backlog's refresh needs ``opening``: its current observations (by slice key) for the
    period just before the first one refreshed, absent slices being none open.
    """
    env = env or kinds.Env()
    kind = row_kind(measure)
    if _backlog.CARRY in result.column_names:
        if opening is None:
            raise ValueError(
                f"refreshing backlog {measure.id!r} needs the items open when its first "
                "refreshed period began"
            )
        yield from _backlog.carried_forward(measure, result, env, opening)
        return
    yield from _observations(measure, kind, result.to_pylist(), env, denominators)


def added_to(
    measure: Measure,
    stored: Sequence[ObservationRow],
    result: Any,
    env: kinds.Env | None = None,
) -> Iterator[ObservationRow]:
    """A measure whose aggregates add up, after rows were appended: its ``stored``
    observations of the periods refreshed plus ``result``, the :func:`expression` over the
    appended rows alone (a window's periods through the last one stored).

    Unchanged slices keep their observations; a slice seen only in the appended rows is new.
    """
    env = env or kinds.Env()
    kind = row_kind(measure)
    if not kind.decomposes(measure):
        raise ValueError(f"measure {measure.id!r}: its aggregates do not add up over rows")
    before = {(o.period_start, o.slice_key): o for o in stored}
    merged = []
    for row in result.to_pylist():
        key = slice_key(row["dim"], row["dim_value"]) if row["dim"] else ALL
        old = before.pop((row["_period"], key), None)
        if old is not None:
            value_is_sum = row["den"] is None and old.denominator is None
            row |= {
                "num": _plus(row["num"], old.numerator),
                "den": _plus(row["den"], old.denominator),
                "val": _plus(row["val"], old.value) if value_is_sum else None,
                "n": row["n"] + old.n,
            }
        merged.append(row)
    yield from before.values()
    yield from _observations(measure, kind, merged, env, None)


def _plus(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else a + b


def _observations(
    measure: Measure,
    kind: kinds.RowKind,
    rows: Iterable[dict[str, Any]],
    env: kinds.Env,
    denominators: Denominators | None,
) -> Iterator[ObservationRow]:
    scale = kind.scale(measure)
    for row in rows:
        period = period_of(row["_period"], measure.grain, env.fiscal_start_month)
        num, den, value = row["num"], row["den"], row["val"]
        dim, dim_value = row["dim"], row["dim_value"]
        if denominators is not None:
            den = denominators(period.start, dim, dim_value)
        if value is None and num is not None and den:
            # num × scale is exact for counts, so the one division is correctly rounded.
            value = num * scale / den
        if value is not None and not math.isfinite(value):
            value = None
        key = slice_key(dim, dim_value) if dim else ALL
        yield ObservationRow(period.start, period.end, key, value, num, den, row["n"])


def data_range(
    measure: Measure, rows: Table, from_period: dt.date | None = None
) -> tuple[Any, Any]:
    """The earliest and latest time of the measure's rows (None, None when there are none);
    a backlog's latest is its latest opening or closing.

    For a refresh from ``from_period`` the earliest is that day and only later values are
    read for the latest, which on time-ordered files skips most of them.
    """
    kind = row_kind(measure)
    columns = [kind.time_column(measure)]
    if kind.flow:
        assert measure.end is not None
        columns.append(measure.end)
    if from_period is None:
        time = rows[columns[0]]
        latest = (
            ibis.greatest(*[rows[c].max() for c in columns]) if len(columns) > 1 else time.max()
        )
        first = rows.aggregate(lo=time.min(), hi=latest).to_pyarrow().to_pylist()[0]
        return first["lo"], first["hi"]
    parts = [
        rows.filter(rows[c] >= bound(rows, c, from_period)).aggregate(hi=rows[c].max())
        for c in columns
    ]
    his = [h for h in stack(parts).to_pyarrow().column("hi").to_pylist() if h is not None]
    return (from_period, max(his)) if his else (None, None)


def _in_windows(
    measure: Measure,
    rows: Table,
    time: str,
    span: tuple[Any, Any],
    env: kinds.Env,
    from_period: dt.date | None,
) -> Table:
    """Each row once per period whose window holds it (rolling or to date)."""
    lo, hi = span
    if lo is None:
        return rows.mutate(_period=ibis.null("date")).limit(0)
    timestamps = rows.schema()[time].is_timestamp()
    periods = spine(
        day(lo),
        day(hi),
        measure.grain,
        env.fiscal_start_month,
        window=measure.window,
        from_period=from_period,
        timestamps=timestamps,
    )
    joined = rows.join(periods, [rows[time] >= periods._lo, rows[time] < periods._hi])
    return joined


__all__ = [
    "ALL",
    "BLANK",
    "Denominators",
    "added_to",
    "data_range",
    "expression",
    "latest_period",
    "observations",
    "row_kind",
    "slice_key",
    "spanned",
]
