"""What every quality check shares: its stored outcome, the relation it runs on, the one
query that groups failing rows by value, and the wording of its ``detail`` sentence."""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from civicstat.excerpt import quoted
from civicstat.spec.models import QualityCheck

EXAMPLES = 5
"""How many failing values a ``detail`` sentence shows, most frequent first."""


NUMERIC = re.compile(r"^(U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?|FLOAT|DOUBLE|REAL|DECIMAL.*)$")


TIMES = ("DATE", "TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS")


SHOW_CHARS = 60


@dataclass(frozen=True)
class CheckOutcome:
    """The result of one check on one candidate version, as stored in ``QualityResult``."""

    check: str  # "not_null", "unique", ...
    target: str  # the column(s) or condition, as written in the spec
    severity: str  # "warn" | "error"
    passed: bool
    failing_rows: int
    detail: str  # a sentence for people: what failed, with up to EXAMPLES example values


class QualityError(ValueError):
    """A check cannot run on this relation (missing column, wrong type, a pattern DuckDB
    refuses). ``civicstat validate`` reports these first, so at run time they mean the spec
    and the loaded table disagree: the run should fail rather than publish unchecked."""


@dataclass(frozen=True)
class Relation:
    con: duckdb.DuckDBPyConnection
    name: str
    types: dict[str, str]  # column → DuckDB type, e.g. "VARCHAR", "DECIMAL(10,2)"

    @classmethod
    def describe(cls, con: duckdb.DuckDBPyConnection, name: str) -> Relation:
        described = con.sql(f"SELECT * FROM {quote_name(name)}")  # noqa: S608 (quoted; not run)
        return cls(
            con, name, {c: str(t) for c, t in zip(described.columns, described.types, strict=True)}
        )

    @property
    def sql(self) -> str:
        return quote_name(self.name)

    def column(self, name: str, kind: str | None = None) -> str:
        """The quoted column, after checking it exists and (for "numeric"/"time") its type."""
        if name not in self.types:
            close = difflib.get_close_matches(name, list(self.types), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise QualityError(f"column {name!r} not in {self.name}{hint}")
        type_ = self.types[name]
        if kind == "numeric" and not NUMERIC.match(type_):
            raise QualityError(f"column {name!r} is {type_}; it must be a number")
        if kind == "time" and type_ not in TIMES:
            raise QualityError(f"column {name!r} is {type_}; it must be a date or timestamp")
        return quote_name(name)

    def scalar_row(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...]:
        row = self.con.execute(sql, list(params)).fetchone()
        assert row is not None  # an aggregate without GROUP BY always returns one row
        return tuple(row)


@dataclass(frozen=True)
class Failures:
    rows: int
    distinct: int
    examples: list[tuple[tuple[Any, ...], int]]  # key values and their row count

    def sentence(self, names: Sequence[str], noun: str = "distinct value") -> str:
        """``(2 distinct values): 'N' (3 rows), 'x' (1 row)`` for the detail text; values
        of several columns are shown as ``(a=1, b='x')``."""
        shown = ", ".join(
            f"{key_text(names, values)} ({rows_text(n)})" for values, n in self.examples
        )
        more = "" if self.distinct <= len(self.examples) else ", …"
        return f"({plural(self.distinct, noun)}): {shown}{more}"


def failures(
    table: Relation,
    keys: Sequence[str],
    where: str,
    params: Sequence[Any] = (),
    *,
    source: str | None = None,
    min_count: int = 1,
) -> Failures:
    """Group the rows meeting ``where`` by ``keys`` (quoted SQL) in one scan: their count,
    the number of groups of at least ``min_count`` rows, and the largest groups."""
    aliases = [f"_k{i}" for i in range(len(keys))]
    inner = "".join(f"{key} AS {alias}, " for key, alias in zip(keys, aliases, strict=True))
    order = ", ".join(["_n DESC", *aliases])
    sql = (
        f"SELECT {''.join(a + ', ' for a in aliases)}_n, "  # noqa: S608 (aliases only)
        "sum(_n) OVER () AS rows_text, count(*) OVER () AS _groups "
        f"FROM (SELECT {inner}count(*) AS _n FROM {source or table.sql} WHERE {where} "
        f"GROUP BY ALL HAVING count(*) >= ?) ORDER BY {order} LIMIT {EXAMPLES}"
    )
    found = table.con.execute(sql, [*params, min_count]).fetchall()
    if not found:
        return Failures(0, 0, [])
    width = len(keys)
    examples = [(tuple(row[:width]), int(row[width])) for row in found]
    return Failures(int(found[0][width + 1]), int(found[0][width + 2]), examples)


def outcome(check: QualityCheck, target: str, failing: int, detail: str) -> CheckOutcome:
    return CheckOutcome(check.check, target, check.severity, failing == 0, failing, detail)


def quote_name(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def as_number(column: str, value: str | int | float | bool) -> int | float:
    if not isinstance(value, bool):
        try:
            return value if isinstance(value, (int, float)) else float(value)
        except ValueError:
            pass
    raise QualityError(f"accepted value {value!r} is not a number, but {column} is numeric")


def as_text(column: str, duckdb_type: str) -> str:
    return column if duckdb_type == "VARCHAR" else f"CAST({column} AS VARCHAR)"


def show(value: Any) -> str:
    """A value as a person reads it in a sentence: text quoted and shortened."""
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return quoted(value, SHOW_CHARS)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, float):
        return f"{value:g}"
    return str(value).lower() if isinstance(value, bool) else str(value)


def key_text(names: Sequence[str], values: tuple[Any, ...]) -> str:
    if len(values) == 1:
        return show(values[0])
    return "(" + ", ".join(f"{n}={show(v)}" for n, v in zip(names, values, strict=True)) + ")"


def rows_text(count: int) -> str:
    return plural(count, "row")


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
