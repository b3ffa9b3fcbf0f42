"""A backlog's flow: the items open at each period's end, counted whole or carried on.

A full computation joins every item to the period ends at which it is open; a refresh
reads only the items opened or closed since it began and adds that change to the counts
stored for the period before (:func:`changes`, then :func:`carried_forward`).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator, Mapping
from typing import Any

import ibis
from ibis.expr.types import Table

from civicstat.domain.observations import ObservationRow
from civicstat.domain.periods import period_of
from civicstat.metrics import kinds
from civicstat.metrics._rows import ALL, bound, day, groupings, shaped, slice_key, stack
from civicstat.metrics.time import spine
from civicstat.spec.models import Measure

AGE = "age"  # the backlog's aging breakdown
_FAR_FUTURE = dt.datetime(9999, 12, 31)
CARRY = "_carry"  # in a backlog refresh's result: a change to carry on, or a count


def open_at_period_end(
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
        day(lo),
        day(hi),
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


def changes(
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
        day(hi) if hi is not None else from_period,
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
    begun = bound(rows, measure.start, from_period)
    opened = rows.filter(start >= begun).mutate(_closed=ibis.coalesce(end, far))
    opened = opened.join(
        periods, [opened[measure.start] < periods._hi, opened._closed >= periods._hi]
    )
    closed = rows.filter(end >= bound(rows, measure.end, from_period), start < begun)
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
    for keys, dim in groupings(dims):
        of = ibis.union(changes, unchanged) if dim is None else changes
        counted = of.group_by(keys).aggregate(n=of._w.sum())
        parts.append(_counts(counted, dim, carry=True))
    if measure.aging:
        labels = kinds.aging_labels(measure.aging)
        oldest = measure.aging[-1]
        first_end = period_of(from_period, measure.grain, env.fiscal_start_month).end
        young = rows.filter(
            start >= bound(rows, measure.start, first_end - dt.timedelta(days=oldest))
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
    return stack(parts)


def _counts(counted: Table, dimension: str | None, *, carry: bool) -> Table:
    out = shaped(
        counted.mutate(
            num=ibis.null("float64"), den=ibis.null("float64"), val=counted.n.cast("float64")
        ),
        dimension,
    )
    return out.mutate(**{CARRY: ibis.literal(carry)})


def periods_age(joined: Table, start: str) -> Any:
    """Whole days from an item's opening to the end of the period it is counted in."""
    return joined._hi.cast("date").delta(joined[start].cast("date"), unit="day")


def carried_forward(
    measure: Measure, result: Any, env: kinds.Env, opening: Mapping[str, float | None]
) -> Iterator[ObservationRow]:
    """A backlog refresh's observations: the items open when it began plus the change since,
    per slice; the last aging bucket is the total less the bounded buckets."""
    changes: dict[dt.date, dict[str, int]] = defaultdict(dict)
    buckets: dict[dt.date, dict[str, int]] = defaultdict(dict)
    for row in result.to_pylist():
        key = slice_key(row["dim"], row["dim_value"]) if row["dim"] else ALL
        (changes if row[CARRY] else buckets)[row["_period"]][key] = row["n"]
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
