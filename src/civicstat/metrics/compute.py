"""Compute a measure's observations over one data version of its dataset."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from typing import Any

import ibis
from ibis.expr.types import Table

from civicstat.domain.periods import Grain, period_of
from civicstat.metadata.observations import ObservationRow
from civicstat.metrics import kinds
from civicstat.metrics.expressions import parse, to_ibis
from civicstat.spec.models import Measure

_TRUNCATE = {Grain.DAY: "D", Grain.WEEK: "W", Grain.MONTH: "M", Grain.QUARTER: "Q", Grain.YEAR: "Y"}
ALL = ""  # slice key of the all-rows total
BLANK = "(blank)"  # how a NULL breakdown value is named in a slice key
UNIT_SCALE = {"percent": 100.0}  # value = numerator / denominator × scale


def slice_key(column: str, value: object) -> str:
    return f"{column}={BLANK if value is None else value}"


def expression(measure: Measure, rows: Table, from_period: dt.date | None = None) -> Table:
    """One Ibis query returning every (period, slice) aggregate of the measure.

    The all-slice total and each breakdown are grouped separately and stacked, so totals
    are computed from rows, never re-added from slices.
    """
    if measure.filter:
        rows = rows.filter(to_ibis(parse(measure.filter), rows).fill_null(False))
    rows = rows.filter(rows[measure.time].notnull())
    if from_period is not None:
        # Rows from the start of the first affected period on: only those periods change.
        start = (
            dt.datetime.combine(from_period, dt.time())
            if _is_timestamp(rows, measure)
            else from_period
        )
        rows = rows.filter(rows[measure.time] >= ibis.literal(start))
    rows = rows.mutate(_period=rows[measure.time].truncate(_TRUNCATE[measure.grain]).cast("date"))
    kind = kinds.get(measure.kind)

    def grouped(keys: list[str], dimension: str | None) -> Table:
        agg = kind(measure, rows)
        out = rows.group_by(keys).aggregate(num=agg.numerator, den=agg.denominator, n=agg.n)
        value = out[dimension].cast("string") if dimension else ibis.null("string")
        return out.select(
            "_period",
            dim=ibis.literal(dimension or "", "string"),
            dim_value=value,
            num=out.num.cast("float64"),
            den=out.den.cast("float64"),
            n=out.n.cast("int64"),
        )

    parts = [grouped(["_period"], None)]
    parts += [grouped(["_period", column], column) for column in measure.breakdowns]
    return ibis.union(*parts) if len(parts) > 1 else parts[0]


def observations(measure: Measure, result: Any) -> Iterator[ObservationRow]:
    """Turn the query's Arrow result into observation rows (value = share of the total)."""
    scale = UNIT_SCALE[measure.unit]
    for row in result.to_pylist():
        start: dt.date = row["_period"]
        period = period_of(start, measure.grain)
        num, den = row["num"], row["den"]
        # num × scale is exact for counts, so the one division is correctly rounded.
        value = num * scale / den if den else None
        if value is not None and not math.isfinite(value):
            value = None
        key = slice_key(row["dim"], row["dim_value"]) if row["dim"] else ALL
        yield ObservationRow(period.start, period.end, key, value, num, den, row["n"])


def _is_timestamp(rows: Table, measure: Measure) -> bool:
    return bool(rows.schema()[measure.time].is_timestamp())
