"""What every payload format's load shares: the declared types in DuckDB, the rows set
aside, the undeclared columns kept as drift, and SQL quoting for statements DuckDB cannot
parameterise."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from civicstat.excerpt import excerpt, listing
from civicstat.spec.models import Column
from civicstat.warehouse.csv_format import CsvOptions

DUCKDB_TYPES = {
    "string": "VARCHAR",
    "integer": "BIGINT",
    "float": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
}


# zstd at level 1: about 7% faster to write than the default level 3, for files about a
# third larger; ingest throughput is what a city's nightly loads wait on.
PARQUET = "FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1"


MAX_QUARANTINED = 100_000  # rows kept with their reason; beyond that only counted


# Record formats whose producers leave out keys whose value is null (SODA, most JSON APIs):
# a declared column absent from one payload is NULL there, not an error.
OMITS_NULL_KEYS = frozenset({"json", "ndjson", "geojson"})


_UNSAFE = re.compile(r"[^a-z0-9_]+")


class LoadError(Exception):
    """Payloads could not be loaded at all; the message says which file and what."""


@dataclass(frozen=True)
class Input:
    """One landed payload: where it is, what it was called, how to read it."""

    path: Path
    name: str
    format: str
    read_options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BadRow:
    file: str
    line: int | None
    column: str | None
    reason: str
    raw: str | None


def quote(identifier: str) -> str:
    """Quote an SQL identifier (DuckDB and PostgreSQL rules)."""
    return '"' + identifier.replace('"', '""') + '"'


def literal(text: str) -> str:
    """An SQL string literal, for the few places DuckDB takes no parameter (COPY targets)."""
    return "'" + text.replace("'", "''") + "'"


def resolve(name: str, columns: Sequence[Column], present: Sequence[str]) -> dict[str, Column]:
    """Which payload column feeds each declared column: the first of its names present."""
    found: dict[str, Column] = {}
    missing = []
    for column in columns:
        match = next((n for n in column.source_names() if n in present), None)
        if match is None:
            missing.append(" or ".join(column.source_names()))
        else:
            found[match] = column
    if missing:
        raise LoadError(
            f"{name}: declared column(s) missing from the source: {', '.join(missing)} "
            f"(found: {listing(present)})"
        )
    return found


def drift_name(source_name: str, drift: dict[str, dict[str, str]], kind: str) -> str:
    """A stable, safe column name for an undeclared source column (recorded as drift)."""
    if source_name in drift:
        return drift[source_name]["name"]
    base = _UNSAFE.sub("_", source_name.strip().lower()).strip("_") or "column"
    base = base if base[0].isalpha() or base[0] == "_" else f"c_{base}"
    taken = {d["name"] for d in drift.values()}
    name, n = base[:60], 1
    while name in taken:
        n += 1
        name = f"{base[:56]}_{n}"
    drift[source_name] = {"name": name, "source_column": source_name, "type": kind.lower()}
    return name


def cast_expr(src: str, column: Column, csv: CsvOptions) -> str:
    """SQL casting the expression ``src`` to the column's type; NULL when it does not fit."""
    if column.type == "timestamp" and csv.timestamp_format:
        return f"try_strptime({src}::VARCHAR, {literal(csv.timestamp_format)})"
    if column.type == "date" and csv.date_format:
        return f"CAST(try_strptime({src}::VARCHAR, {literal(csv.date_format)}) AS DATE)"
    if column.type == "string":
        return f"CAST({src} AS VARCHAR)"
    if column.type == "integer":
        # TRY_CAST('1.5' AS BIGINT) rounds to 2: a value with a fraction is not an integer.
        exact = f"TRY_CAST({src} AS DECIMAL(38, 9)) = TRY_CAST({src} AS BIGINT)"
        return f"CASE WHEN {exact} THEN TRY_CAST({src} AS BIGINT) END"
    return f"TRY_CAST({src} AS {DUCKDB_TYPES[column.type]})"


def count_params(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> int:
    row = con.execute(sql, params).fetchone()
    return int(row[0]) if row else 0


def count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row else 0


def first_line(error: Exception) -> str:
    """DuckDB's message, bounded: it may quote the payload."""
    return excerpt(str(error).strip().splitlines()[0], 300)
