"""Compute a measure's observations over one data version of its dataset.

:func:`expression` builds one Ibis query returning every (period, slice) aggregate of a
row-kind measure; :func:`observations` turns its result into observation rows. The
all-slice total and each breakdown are grouped separately and stacked, so totals are
computed from rows, never re-added from slices.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import ibis
from ibis.expr.types import Table

from civicstat.domain.observations import ObservationRow
from civicstat.domain.periods import period_of
from civicstat.metrics import kinds
from civicstat.metrics.expressions import to_ibis
from civicstat.metrics.time import period_start, spine, window_bounds
from civicstat.spec.language import parse
from civicstat.spec.models import Measure

ALL = ""  # slice key of the all-rows total
BLANK = "(blank)"  # how a NULL breakdown value is named in a slice key
AGE = "age"  # the backlog's aging breakdown
_FAR_FUTURE = dt.datetime(9999, 12, 31)
_CARRY = "_carry"  # in a backlog refresh's result: a change to carry on, or a count

# A rate's denominator for a (period start, dimension, value); None when unknown.
Denominators = Callable[[dt.date, str, str | None], float | None]


def slice_key(column: str, value: object) -> str:
    return f"{column}={BLANK if value is None else value}"


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
        return _backlog_changes(measure, rows, span, env, from_period)
    if from_period is not None:
        rows = _rows_for_refresh(measure, rows, time, env, from_period)
    rows = kind.prepare(measure, rows, env)
    dimensions: list[str] = list(measure.breakdowns)
    if kind.flow:
        rows = _open_at_period_end(measure, rows, span, env, from_period)
        if measure.aging:
            dimensions.append(AGE)
    elif measure.window is not None and kind.decomposes(measure):
        return _windows_of_periods(measure, kind, rows, time, dimensions, span, env, from_period)
    elif measure.window is not None:
        rows = _in_windows(measure, rows, time, span, env, from_period)
    else:
        rows = rows.mutate(_period=period_start(rows[time], measure.grain, env.fiscal_start_month))

    return _stack(
        [
            _shaped(_aggregate(kind, measure, rows, keys), dim)
            for keys, dim in _groupings(dimensions)
        ]
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
    return period_of(_day(latest), measure.grain, env.fiscal_start_month).start


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
    return rows.filter(rows[time] >= _bound(rows, time, window_bounds(first, measure.window)))


def _groupings(dimensions: list[str]) -> list[tuple[list[str], str | None]]:
    """The all-rows total, then one grouping per breakdown."""
    return [(["_period"], None)] + [(["_period", d], d) for d in dimensions]


def _aggregate(kind: kinds.RowKind, measure: Measure, rows: Table, keys: list[str]) -> Table:
    agg = kind.aggregate(measure, rows)
    return rows.group_by(keys).aggregate(
        n=agg.n,
        num=agg.numerator if agg.numerator is not None else ibis.null("float64"),
        den=agg.denominator if agg.denominator is not None else ibis.null("float64"),
        val=agg.value if agg.value is not None else ibis.null("float64"),
    )


def _shaped(out: Table, dimension: str | None) -> Table:
    value = out[dimension].cast("string") if dimension else ibis.null("string")
    return out.select(
        "_period",
        dim=ibis.literal(dimension or "", "string"),
        dim_value=value,
        num=out.num.cast("float64"),
        den=out.den.cast("float64"),
        val=out.val.cast("float64"),
        n=out.n.cast("int64"),
    )


def _stack(parts: list[Table]) -> Table:
    return ibis.union(*parts) if len(parts) > 1 else parts[0]


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
        _day(lo) if lo is not None else dt.date.today(),
        _day(hi) if hi is not None else dt.date.today(),
        measure.grain,
        env.fiscal_start_month,
        window=measure.window,
        from_period=from_period,
        timestamps=False,
    )
    rows = rows.mutate(_p=period_start(rows[time], measure.grain, env.fiscal_start_month))
    parts = []
    for keys, dimension in _groupings(dimensions):
        inner = [*keys[1:], "_p"]
        per_period = _aggregate(kind, measure, rows, inner)
        joined = per_period.join(
            periods, [per_period._p >= periods._lo, per_period._p < periods._hi]
        )
        out = joined.group_by(["_period", *keys[1:]]).aggregate(
            n=joined.n.sum(), num=joined.num.sum(), den=joined.den.sum(), val=joined.val.sum()
        )
        parts.append(_shaped(out, dimension))
    return _stack(parts)


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
    if _CARRY in result.column_names:
        if opening is None:
            raise ValueError(
                f"refreshing backlog {measure.id!r} needs the items open when its first "
                "refreshed period began"
            )
        yield from _carried_forward(measure, result, env, opening)
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


def _carried_forward(
    measure: Measure, result: Any, env: kinds.Env, opening: Mapping[str, float | None]
) -> Iterator[ObservationRow]:
    """A backlog refresh's observations: the items open when it began plus the change since,
    per slice; the last aging bucket is the total less the bounded buckets."""
    changes: dict[dt.date, dict[str, int]] = defaultdict(dict)
    buckets: dict[dt.date, dict[str, int]] = defaultdict(dict)
    for row in result.to_pylist():
        key = slice_key(row["dim"], row["dim_value"]) if row["dim"] else ALL
        (changes if row[_CARRY] else buckets)[row["_period"]][key] = row["n"]
    carried = {k: round(v or 0) for k, v in opening.items() if not k.startswith(f"{AGE}=")}
    last_bucket = slice_key(AGE, kinds.aging_labels(measure.aging)[-1]) if measure.aging else None
    for start, change in sorted(changes.items()):
        period = period_of(start, measure.grain, env.fiscal_start_month)
        counts = {k: carried.get(k, 0) + change.get(k, 0) for k in carried.keys() | change.keys()}
        if last_bucket is not None:
            bounded = buckets.get(start, {})
            counts |= bounded
            counts[last_bucket] = counts.get(ALL, 0) - sum(bounded.values())
        if any(n < 0 for n in counts.values()):
            raise ValueError(
                f"backlog {measure.id!r} would have fewer than no items open at the end of "
                f"{period.label}: the observations it carries on from do not fit the data"
            )
        for key, n in sorted(counts.items()):
            if n:
                yield ObservationRow(period.start, period.end, key, float(n), None, None, n)


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
        rows.filter(rows[c] >= _bound(rows, c, from_period)).aggregate(hi=rows[c].max())
        for c in columns
    ]
    his = [h for h in _stack(parts).to_pyarrow().column("hi").to_pylist() if h is not None]
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
        _day(lo),
        _day(hi),
        measure.grain,
        env.fiscal_start_month,
        window=measure.window,
        from_period=from_period,
        timestamps=timestamps,
    )
    joined = rows.join(periods, [rows[time] >= periods._lo, rows[time] < periods._hi])
    return joined


def _open_at_period_end(
    measure: Measure,
    rows: Table,
    span: tuple[Any, Any],
    env: kinds.Env,
    from_period: dt.date | None,
) -> Table:
    """Each item once per period at whose end it is open, with its age then (days)."""
    assert measure.start is not None
    assert measure.end is not None
    lo, hi = span
    if lo is None:
        return rows.mutate(_period=ibis.null("date"), age=ibis.null("string")).limit(0)
    end = rows[measure.end]
    timestamps = rows.schema()[measure.start].is_timestamp()
    periods = spine(
        _day(lo),
        _day(hi),
        measure.grain,
        env.fiscal_start_month,
        from_period=from_period,
        timestamps=timestamps,
    )
    far = _FAR_FUTURE if timestamps else _FAR_FUTURE.date()
    rows = rows.mutate(_closed=ibis.coalesce(end, ibis.literal(far).cast(end.type())))
    joined = rows.join(
        periods,
        [rows[measure.start] < periods._hi, rows._closed >= periods._hi],
    )
    if not measure.aging:
        return joined
    age = periods_age(joined, measure.start)
    labels = kinds.aging_labels(measure.aging)
    branches = [(age <= bound, label) for bound, label in zip(measure.aging, labels, strict=False)]
    return joined.mutate(**{AGE: ibis.cases(*branches, else_=labels[-1])})


def _backlog_changes(
    measure: Measure,
    rows: Table,
    span: tuple[Any, Any],
    env: kinds.Env,
    from_period: dt.date,
) -> Table:
    """A backlog's refresh from ``from_period`` (B): for each period end E from then on, how
    many more items are open at E than at B, and the bounded aging buckets at E outright.

    open(E) − open(B) = #{opened in [B, E), open at E} − #{opened before B, closed in
    [B, E)}, so only items opened or closed since B are read, never the long tail of items
    still open (which a count at E reads whole). Each row says whether it is such a change
    (``_carry``) or a count; the last aging bucket is left to :func:`observations`.
    """
    assert measure.start is not None
    assert measure.end is not None
    hi = span[1]
    timestamps = rows.schema()[measure.start].is_timestamp()
    periods = spine(
        from_period,
        _day(hi) if hi is not None else from_period,
        measure.grain,
        env.fiscal_start_month,
        from_period=from_period,
        timestamps=timestamps,
    )
    if hi is None:  # nothing opened or closed since: no period to count at
        periods = periods.limit(0)
    dims = list(measure.breakdowns)
    start, end = rows[measure.start], rows[measure.end]
    far = ibis.literal(_FAR_FUTURE if timestamps else _FAR_FUTURE.date()).cast(end.type())
    begun = _bound(rows, measure.start, from_period)
    opened = rows.filter(start >= begun).mutate(_closed=ibis.coalesce(end, far))
    opened = opened.join(
        periods, [opened[measure.start] < periods._hi, opened._closed >= periods._hi]
    )
    closed = rows.filter(end >= _bound(rows, measure.end, from_period), start < begun)
    closed = closed.join(periods, [closed[measure.end] < periods._hi])
    columns = ["_period", *dims]
    changes = ibis.union(
        opened.select(*columns, _w=ibis.literal(1, "int64")),
        closed.select(*columns, _w=ibis.literal(-1, "int64")),
    )
    # Every period shows in the total, changed or not.
    unchanged = periods.select(
        "_period",
        *[ibis.null(rows.schema()[d]).name(d) for d in dims],
        _w=ibis.literal(0, "int64"),
    )
    parts = []
    for keys, dim in _groupings(dims):
        of = ibis.union(changes, unchanged) if dim is None else changes
        counted = of.group_by(keys).aggregate(n=of._w.sum())
        parts.append(_counts(counted, dim, carry=True))
    if measure.aging:
        labels = kinds.aging_labels(measure.aging)
        oldest = measure.aging[-1]
        first_end = period_of(from_period, measure.grain, env.fiscal_start_month).end
        young = rows.filter(
            start >= _bound(rows, measure.start, first_end - dt.timedelta(days=oldest))
        )
        young = young.mutate(_closed=ibis.coalesce(young[measure.end], far))
        young = young.join(
            periods, [young[measure.start] < periods._hi, young._closed >= periods._hi]
        )
        age = periods_age(young, measure.start)
        young = young.filter(age <= oldest).mutate(
            **{
                AGE: ibis.cases(
                    *[(age <= b, label) for b, label in zip(measure.aging, labels, strict=False)]
                )
            }
        )
        counted = young.group_by(["_period", AGE]).aggregate(n=young.count())
        parts.append(_counts(counted, AGE, carry=False))
    return _stack(parts)


def _counts(counted: Table, dimension: str | None, *, carry: bool) -> Table:
    shaped = _shaped(
        counted.mutate(
            num=ibis.null("float64"), den=ibis.null("float64"), val=counted.n.cast("float64")
        ),
        dimension,
    )
    return shaped.mutate(**{_CARRY: ibis.literal(carry)})


def periods_age(joined: Table, start: str) -> Any:
    """Whole days from an item's opening to the end of the period it is counted in."""
    return joined._hi.cast("date").delta(joined[start].cast("date"), unit="day")


def _bound(rows: Table, time: str, day: dt.date) -> Any:
    if rows.schema()[time].is_timestamp():
        return ibis.literal(dt.datetime.combine(day, dt.time()))
    return ibis.literal(day)


def _day(value: Any) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


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
