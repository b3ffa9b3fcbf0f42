"""The parts of a governed row read that do not decide access: reading the request's
filters, order and grouping against the columns the reader may use, running the page in
the warehouse with the masked columns computed there, and writing CSV.

Messages name columns, never values: a value in a request may be a guess at someone's
personal data, and an error body must not repeat it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir

from civicstat.governance import masking
from civicstat.governance.columns import ColumnView
from civicstat.metadata.ids import INT64_MAX
from civicstat.warehouse.engine import Warehouse

MAX_LIMIT = 10_000
COUNT = "count"  # the column of a grouped read that holds each group's rows
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
# A cell starting with one of these is a formula to a spreadsheet (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


class RowQueryError(ValueError):
    """A read asks for what cannot be given as asked; the message says why, naming
    columns, never values."""


@dataclass(frozen=True)
class Shape:
    """What a read asks for, checked against the columns the reader may use: sort keys
    as (name, descending), and the columns it groups by (none: rows, not groups)."""

    keys: list[tuple[str, bool]]
    groups: list[str]


def shape(
    views: Mapping[str, ColumnView],
    dataset_id: str,
    *,
    order: Sequence[str],
    group_by: Sequence[str],
    filters: Mapping[str, Sequence[str]],
    stable: Sequence[str],
) -> Shape:
    """The read's order and grouping, once each column it sorts, groups or filters by is
    one the reader reads in clear. Without an order, rows come by ``stable`` (the
    dataset's key) as far as the reader sees it in clear, so that pages follow on from
    each other; groups come by themselves."""
    keys = order_keys(order)
    groups = [usable(g, views, dataset_id, "group").name for g in group_by]
    for name, _ in keys:
        if not (groups and name == COUNT):
            usable(name, views, dataset_id, "sort")
            if groups and name not in groups:
                raise RowQueryError(f"cannot sort by {name!r}: a grouped read sorts by its groups")
    if COUNT in groups:
        raise RowQueryError(f"cannot group by {COUNT!r}: the name of the groups' count")
    for name in filters:
        usable(name, views, dataset_id, "filter")
    if not keys:
        default = groups or [k for k in stable if k in views and views[k].clear]
        keys = [(name, False) for name in default]
    return Shape(keys, groups)


def read_page(
    warehouse: Warehouse,
    table: ir.Table,
    views: Sequence[ColumnView],
    want: Shape,
    *,
    key: masking.KeyInQuery | None,
    limit: int,
    offset: int,
) -> tuple[int, list[dict[str, Any]]]:
    """How many rows (or groups) of ``table`` there are, before limit and offset, and the
    page of them, read as the reader sees them: masked columns are computed in the engine."""
    seen = as_seen(table, views, key)
    if want.groups:
        seen = seen.group_by(want.groups).aggregate(**{COUNT: seen.count()})
    total = int(warehouse.scalar(seen.count()))
    page = ordered(seen, want.keys).limit(limit, offset=offset)
    result = warehouse.execute(page).to_pylist()
    return total, [{k: plain(v) for k, v in row.items()} for row in result]


def as_seen(
    table: ir.Table, views: Sequence[ColumnView], key: masking.KeyInQuery | None
) -> ir.Table:
    """``table`` with only the reader's columns, each as they read it (masked in the engine)."""
    return table.select(**{v.name: _read_as(table[v.name], v, key) for v in views})


def _read_as(value: ir.Value, view: ColumnView, key: masking.KeyInQuery | None) -> ir.Value:
    if view.masking is None or view.declared is None:
        return value
    return masking.masked(value, view.declared, view.masking, key)


def usable(name: str, views: Mapping[str, ColumnView], dataset_id: str, use: str) -> ColumnView:
    """The column ``name`` once the reader may ``use`` it (filter, sort, group by): it must
    be one they see, in clear. A column they do not see is answered like one that does
    not exist."""
    if not _NAME.match(name):
        raise RowQueryError(f"cannot {use} by that: not a column name")
    view = views.get(name)
    if view is None:
        raise RowQueryError(f"cannot {use} by {name!r}: no such column in dataset {dataset_id}")
    if not view.clear:
        raise RowQueryError(
            f"cannot {use} by {name!r}: the column is masked ({view.masking}) for you; "
            "filtering, sorting and grouping use only columns you read in clear"
        )
    return view


def check_page(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise RowQueryError(f"limit must be between 1 and {MAX_LIMIT:,}")
    if not 0 <= offset <= INT64_MAX:
        raise RowQueryError(f"offset must be between 0 and {INT64_MAX:,}")


def order_keys(order: Sequence[str]) -> list[tuple[str, bool]]:
    """``["-created_at", "district"]`` → ``[("created_at", True), ("district", False)]``
    (name, descending); a key may also be a comma-separated list."""
    keys = []
    for part in (p.strip() for item in order for p in item.split(",")):
        if part:
            keys.append((part[1:], True) if part.startswith("-") else (part, False))
    return keys


def filtered(
    table: ir.Table,
    filters: Mapping[str, Sequence[str]],
    views: Mapping[str, ColumnView],
    dataset_id: str,
) -> ir.Table:
    """``table`` narrowed to rows whose column equals one of the given values."""
    for name, values in filters.items():
        usable(name, views, dataset_id, "filter")
        column = table[name]
        parsed = [_parse(column, name, value) for value in values]
        if parsed:
            table = table.filter(column.isin(parsed))
    return table


def _parse(column: ir.Value, name: str, text: str) -> Any:
    kind = column.type()
    try:
        if kind.is_boolean():
            lowered = text.strip().lower()
            if lowered not in _TRUE | _FALSE:
                raise ValueError
            return lowered in _TRUE
        if kind.is_integer():
            # A number past the column's type names no row, and the engine would overflow.
            whole, bounds = int(text), kind.bounds
            if not bounds.lower <= whole <= bounds.upper:
                raise ValueError
            return whole
        if kind.is_floating() or kind.is_decimal():
            number = float(text)
            if not math.isfinite(number):
                raise ValueError
            return number
        if kind.is_timestamp():
            return dt.datetime.fromisoformat(text)
        if kind.is_date():
            return dt.date.fromisoformat(text)
    except ValueError:
        # Not the value itself: it may be a guess at personal data.
        raise RowQueryError(f"filter on {name!r}: not a valid {kind} value") from None
    return text


def ordered(table: ir.Table, keys: list[tuple[str, bool]]) -> ir.Table:
    if not keys:
        return table
    return table.order_by([ibis.desc(n) if desc else ibis.asc(n) for n, desc in keys])


def plain(value: Any) -> Any:
    """A value as JSON carries it: NaN and infinities (no JSON number) become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def csv_cell(value: Any) -> str:
    """One CSV cell. Text a spreadsheet would run as a formula is prefixed with a quote."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    if isinstance(value, str):
        return "'" + value if value.startswith(_FORMULA_START) else value
    return str(value)


def to_csv(columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([csv_cell(name) for name in columns])
    for row in rows:
        writer.writerow([csv_cell(row.get(name)) for name in columns])
    return out.getvalue()
