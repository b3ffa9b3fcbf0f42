"""What every measure query shares: slice keys, groupings and the shape of its result."""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis
from ibis.expr.types import Table

ALL = ""  # slice key of the all-rows total
BLANK = "(blank)"  # how a NULL breakdown value is named in a slice key


def slice_key(column: str, value: object) -> str:
    return f"{column}={BLANK if value is None else value}"


def groupings(dimensions: list[str]) -> list[tuple[list[str], str | None]]:
    """The all-rows total, then one grouping per breakdown."""
    return [(["_period"], None)] + [(["_period", d], d) for d in dimensions]


def shaped(out: Table, dimension: str | None) -> Table:
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


def stack(parts: list[Table]) -> Table:
    return ibis.union(*parts) if len(parts) > 1 else parts[0]


def bound(rows: Table, time: str, day: dt.date) -> Any:
    if rows.schema()[time].is_timestamp():
        return ibis.literal(dt.datetime.combine(day, dt.time()))
    return ibis.literal(day)


def day(value: Any) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value
