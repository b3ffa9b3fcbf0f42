"""Propose a source's declared columns from a sample file, with DuckDB's type sniffer.

Inference is a starting point for a spec, never a silent load: the proposal is printed for
a person to review, and only declared columns are loaded. A column DuckDB reads as text is
proposed as ``string`` only when its values really are text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from civicstat.warehouse import readers
from civicstat.warehouse.loader import literal, quote

_TYPES = {
    "VARCHAR": "string", "BOOLEAN": "boolean", "DATE": "date", "DOUBLE": "float", "FLOAT": "float",
    "BIGINT": "integer", "INTEGER": "integer", "SMALLINT": "integer", "TINYINT": "integer",
    "HUGEINT": "integer", "UBIGINT": "integer", "UINTEGER": "integer", "USMALLINT": "integer",
    "UTINYINT": "integer",
}  # fmt: skip
_SAFE = re.compile(r"[^a-z0-9_]+")
# Identifiers and codes stay text even when every value is digits: leading zeros matter
# (SF Fire call numbers, station areas "02", ZIP codes).
_IDENTIFIER = re.compile(r"(^|_)(id|key|number|num|no|code|zip|zipcode|fileno)$")


@dataclass(frozen=True)
class Inferred:
    columns: list[InferredColumn]
    timestamp_format: str | None = None  # strptime format the CSV's timestamps need
    date_format: str | None = None


@dataclass(frozen=True)
class InferredColumn:
    name: str  # a valid warehouse column name
    type: str  # string, integer, float, boolean, date, timestamp
    source_column: str  # the name in the file


def infer_columns(path: Path, fmt: str = "csv", sample_rows: int = 100_000) -> Inferred:
    """The columns of ``path`` with the narrowest type every sampled value fits."""
    con = duckdb.connect()
    formats: dict[str, str | None] = {"timestamp": None, "date": None}
    try:
        if fmt in ("csv", "tsv"):
            delim = "\t" if fmt == "tsv" else ","
            relation = (
                f"read_csv({literal(str(path))}, delim = {literal(delim)}, "
                f"sample_size = {int(sample_rows)})"
            )
            sniffed = con.execute(
                "SELECT TimestampFormat, DateFormat FROM sniff_csv($path, delim = $delim, "
                "sample_size = $rows)",
                {"path": str(path), "delim": delim, "rows": int(sample_rows)},
            ).fetchone()
            if sniffed:
                formats = {"timestamp": sniffed[0] or None, "date": sniffed[1] or None}
        else:
            readers.get(fmt)(con, [str(path)], {})
            relation = "(SELECT * EXCLUDE (filename) FROM raw0)"
        described = con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
        columns = []
        taken: set[str] = set()
        for row in described:
            source, duck = str(row[0]), str(row[1]).split("(")[0]
            kind = "timestamp" if duck.startswith("TIMESTAMP") else _TYPES.get(duck, "string")
            if kind == "string" and fmt not in ("csv", "tsv"):
                kind = _narrowest(con, relation, source)
            name = _name(source, taken)
            if kind in ("integer", "float") and _IDENTIFIER.search(name):
                kind = "string"
            columns.append(InferredColumn(name, kind, source))
        kinds = {c.type for c in columns}
        return Inferred(
            columns,
            formats["timestamp"] if "timestamp" in kinds else None,
            formats["date"] if "date" in kinds else None,
        )
    finally:
        con.close()


def to_yaml(inferred: Inferred) -> str:
    """A ``columns:`` block (and the CSV formats it needs) to paste into a source spec."""
    lines = []
    formats = {"timestamp_format": inferred.timestamp_format, "date_format": inferred.date_format}
    found = {k: v for k, v in formats.items() if v and v not in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d")}
    if found:
        lines += ["options:", "  csv:"] + [f"    {k}: {v!r}" for k, v in found.items()]
    lines.append("columns:")
    for c in inferred.columns:
        renamed = f", source_column: {c.source_column!r}" if c.source_column != c.name else ""
        lines.append(f"  - {{name: {c.name}, type: {c.type}{renamed}}}")
    return "\n".join(lines) + "\n"


def _narrowest(con: duckdb.DuckDBPyConnection, relation: str, column: str) -> str:
    """Text staged by a reader (JSON, Excel) may hold numbers, dates or flags."""
    for kind, duck in (("integer", "BIGINT"), ("float", "DOUBLE"), ("boolean", "BOOLEAN"),
                       ("date", "DATE"), ("timestamp", "TIMESTAMP")):  # fmt: skip
        col = quote(column)
        # A value with a time of day is no date, even though DuckDB would cast it to one.
        longer = f" OR length(trim({col}::VARCHAR)) > 10" if kind == "date" else ""
        misfits = con.execute(
            f"SELECT count(*) FROM {relation} WHERE {col} IS NOT NULL "
            f"AND (TRY_CAST({col} AS {duck}) IS NULL{longer})"
        ).fetchone()
        present = con.execute(f"SELECT count({col}) FROM {relation}").fetchone()
        if misfits and present and misfits[0] == 0 and present[0] > 0:
            return kind
    return "string"


def _name(source: str, taken: set[str]) -> str:
    base = _SAFE.sub("_", source.strip().lower()).strip("_") or "column"
    if not (base[0].isalpha() or base[0] == "_"):
        base = f"c_{base}"
    name, n = base[:63], 1
    while name in taken:
        n += 1
        name = f"{base[:58]}_{n}"
    taken.add(name)
    return name
