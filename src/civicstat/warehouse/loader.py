"""Turn one pull's landed payloads into typed rows, quarantining the rows that do not fit.

Loading runs in a private in-process DuckDB. CSV is read once, with the declared types, by
DuckDB's own parser, which sets aside each row it cannot convert (file, line, column and
the line itself); other formats are read by a reader (:mod:`civicstat.warehouse.readers`)
and cast column by column, with the same record of what failed. Columns the spec does
not declare are kept under a safe name and reported as schema drift; a declared column
missing from a payload is an error.

Each input is streamed into its own Parquet part file in the new version's folder (one
pass, nothing held in memory); the view ``pulled`` over the parts (declared columns first,
then drift columns) is left in the connection for the pipeline to combine with the
current version.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from civicstat.spec.models import Column, CsvOptions
from civicstat.warehouse import readers

DUCKDB_TYPES = {
    "string": "VARCHAR",
    "integer": "BIGINT",
    "float": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
}
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


@dataclass(frozen=True)
class Pulled:
    parts: list[Path]  # one Parquet file per input, in input order
    rows_good: int
    rows_bad: int
    bad_rows: list[BadRow]  # at most MAX_QUARANTINED
    drift: list[dict[str, str]]  # columns not in the spec: {"name", "source_column", "type"}

    @property
    def rows_read(self) -> int:
        return self.rows_good + self.rows_bad


def quote(identifier: str) -> str:
    """Quote an SQL identifier (DuckDB and PostgreSQL rules)."""
    return '"' + identifier.replace('"', '""') + '"'


def literal(text: str) -> str:
    """An SQL string literal, for the few places DuckDB takes no parameter (COPY targets)."""
    return "'" + text.replace("'", "''") + "'"


def connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    con.execute("SET preserve_insertion_order = true")
    con.execute("SET enable_progress_bar = false")
    return con


def pull(
    con: duckdb.DuckDBPyConnection,
    inputs: Sequence[Input],
    columns: Sequence[Column],
    options: Mapping[str, Any],
    folder: Path,
) -> Pulled:
    """Write every input's good rows to a Parquet part in ``folder`` and define view
    ``pulled`` over them; bad rows are returned, not loaded."""
    if not inputs:
        raise LoadError("the pull gave no payload to load")
    csv = CsvOptions.model_validate(options.get("csv", {}))
    bad: list[BadRow] = []
    bad_count = 0
    drift: dict[str, dict[str, str]] = {}
    parts: list[Path] = []
    good = 0
    for index, item in enumerate(inputs):
        part = folder / f"part-{index:04d}.parquet"
        try:
            if item.format in ("csv", "tsv"):
                item_csv = CsvOptions.model_validate(
                    {**csv.model_dump(), **dict(item.read_options.get("csv", {}))}
                    | ({"delimiter": "\t"} if item.format == "tsv" else {})
                )
                n_good, n_bad, rows = _pull_csv(con, part, item, columns, item_csv, drift)
            else:
                n_good, n_bad, rows = _pull_staged(
                    con, part, item, columns, {**options, **item.read_options}, drift, csv
                )
        except duckdb.Error as error:
            raise LoadError(f"{item.name}: {_first_line(error)}") from error
        _fsync(part)
        good += n_good
        bad_count += n_bad
        bad.extend(rows[: max(0, MAX_QUARANTINED - len(bad))])
        parts.append(part)
    _fsync(folder)
    order = [c.name for c in columns] + [d["name"] for d in drift.values()]
    files = ", ".join(literal(str(p)) for p in parts)
    # A view cannot hold prepared parameters: the paths are escaped literals.
    con.execute(
        f"CREATE TEMP VIEW pulled AS SELECT {', '.join(map(quote, order))} "
        f"FROM read_parquet([{files}], union_by_name = true)"
    )
    return Pulled(parts, good, bad_count, bad, list(drift.values()))


def _pull_csv(
    con: duckdb.DuckDBPyConnection,
    part: Path,
    item: Input,
    columns: Sequence[Column],
    csv: CsvOptions,
    drift: dict[str, dict[str, str]],
) -> tuple[int, int, list[BadRow]]:
    """One CSV file, typed in one pass; rows DuckDB cannot convert are set aside with reasons.

    DuckDB does not bind prepared parameters reliably inside read_csv's options, so each
    option value is written as an escaped SQL literal (see :func:`literal`).
    """
    dialect = (
        f"header = {str(csv.header).lower()}, delim = {literal(csv.delimiter)}, "
        f"nullstr = [{', '.join(literal(n) for n in csv.null_values or [''])}], "
        f"encoding = {literal(csv.encoding)}, strict_mode = {str(csv.strict).lower()}"
    )
    path = literal(str(item.path))
    cursor = con.execute(f"SELECT * FROM read_csv({path}, all_varchar = true, {dialect}) LIMIT 0")
    present = [d[0] for d in cursor.description or []]
    _require_declared(item.name, columns, present)
    declared = {c.source_column or c.name: c for c in columns}
    extra = [name for name in present if name not in declared]
    # Drift columns are read as text: nothing is known about them yet.
    types = {name: DUCKDB_TYPES[c.type] for name, c in declared.items()} | dict.fromkeys(
        extra, "VARCHAR"
    )
    options = (
        dialect
        + ", types = {"
        + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in types.items())
        + "}"
    )
    if csv.timestamp_format:
        options += f", timestampformat = {literal(csv.timestamp_format)}"
    if csv.date_format:
        options += f", dateformat = {literal(csv.date_format)}"
    select = [f"{quote(src)} AS {quote(c.name)}" for src, c in declared.items()]
    select += [f"{quote(name)} AS {quote(_drift_name(name, drift, 'string'))}" for name in extra]
    scan_floor = _last_scan(con)
    written = con.execute(
        f"COPY (SELECT {', '.join(select)} FROM read_csv({path}, {options}, store_rejects = true)) "
        f"TO {literal(str(part))} (FORMAT parquet, COMPRESSION zstd)"
    ).fetchone()
    rejected = con.execute(
        "SELECT line, string_agg(coalesce(column_name, ''), ', ' ORDER BY column_idx), "
        "string_agg(error_message, '; ' ORDER BY column_idx), any_value(csv_line), "
        "count(*) OVER () "
        "FROM reject_errors WHERE scan_id > $floor GROUP BY line ORDER BY line",
        {"floor": scan_floor},
    ).fetchall()
    rows = [
        # DuckDB's csv_line may carry the line breaks around it (\r\n files).
        BadRow(
            item.name,
            int(line),
            cols or None,
            _reason(message, declared),
            (raw or "").strip("\r\n"),
        )
        for line, cols, message, raw, _ in rejected[:MAX_QUARANTINED]
    ]
    return int(written[0]) if written else 0, (int(rejected[0][4]) if rejected else 0), rows


def _pull_staged(
    con: duckdb.DuckDBPyConnection,
    part: Path,
    item: Input,
    columns: Sequence[Column],
    options: Mapping[str, Any],
    drift: dict[str, dict[str, str]],
    csv: CsvOptions,
) -> tuple[int, int, list[BadRow]]:
    """Any other format: the reader stages it as-is, then each declared column is cast."""
    con.execute("DROP TABLE IF EXISTS raw0")
    readers.get(item.format)(con, [str(item.path)], dict(options))
    described = con.execute("DESCRIBE raw0").fetchall()
    present = [row[0] for row in described if row[0] != "filename"]
    declared = {c.source_column or c.name: c for c in columns}
    if item.format in OMITS_NULL_KEYS:
        for name in [n for n in declared if n not in present]:
            con.execute(f"ALTER TABLE raw0 ADD COLUMN {quote(name)} VARCHAR")
        present = [*present, *(n for n in declared if n not in present)]
    _require_declared(item.name, columns, present)
    raw_types = {row[0]: str(row[1]) for row in con.execute("DESCRIBE raw0").fetchall()}
    casts = [f"{_cast(src, c, csv)} AS {quote(c.name)}" for src, c in declared.items()]
    extra = [name for name in present if name not in declared]
    casts += [
        f"{quote(name)} AS {quote(_drift_name(name, drift, raw_types[name]))}" for name in extra
    ]
    failed = (
        " OR ".join(
            f"({quote(src)} IS NOT NULL AND {_cast(src, c, csv)} IS NULL)"
            for src, c in declared.items()
        )
        or "false"
    )
    con.execute(
        f"CREATE TEMP TABLE staged AS SELECT *, rowid + 1 AS _record, ({failed}) AS _bad FROM raw0"
    )
    written = con.execute(
        f"COPY (SELECT {', '.join(casts)} FROM staged WHERE NOT _bad ORDER BY _record) "
        f"TO {literal(str(part))} (FORMAT parquet, COMPRESSION zstd)"
    ).fetchone()
    problems = [
        f"CASE WHEN {quote(src)} IS NOT NULL AND {_cast(src, c, csv)} IS NULL "
        f"THEN {literal(c.name)} END"
        for src, c in declared.items()
    ]
    bad = con.execute(
        f"SELECT _record, concat_ws(', ', {', '.join(problems) or 'NULL'}), "
        "to_json(staged) FROM staged WHERE _bad ORDER BY _record"
    ).fetchall()
    con.execute("DROP TABLE staged")
    con.execute("DROP TABLE raw0")
    rows = [
        BadRow(
            item.name,
            int(record),
            cols,
            f"value(s) that do not fit the declared type in: {cols}",
            raw,
        )
        for record, cols, raw in bad[:MAX_QUARANTINED]
    ]
    return int(written[0]) if written else 0, len(bad), rows


def write_parquet(con: duckdb.DuckDBPyConnection, query: str, target: Path) -> None:
    """Write a query's rows to one zstd Parquet file, durably (fsync file and folder)."""
    con.execute(f"COPY ({query}) TO {literal(str(target))} (FORMAT parquet, COMPRESSION zstd)")
    _fsync(target)
    _fsync(target.parent)


def checksum(con: duckdb.DuckDBPyConnection, relation: str, columns: Sequence[str]) -> str:
    """Order-free checksum of a multiset of rows: equal rows give equal checksums, and the
    checksum of appended parts is the sum of theirs (see :func:`add_checksums`)."""
    row = ", ".join(quote(c) for c in columns)
    count, total = con.execute(
        f"SELECT count(*), coalesce(sum(hash(row({row})))::HUGEINT, 0) FROM {relation}"
    ).fetchone() or (0, 0)
    return f"{int(count)}:{int(total) % (1 << 128):032x}"


def add_checksums(a: str, b: str) -> str:
    if not a:
        return b
    (ca, sa), (cb, sb) = (x.split(":") for x in (a, b))
    return f"{int(ca) + int(cb)}:{(int(sa, 16) + int(sb, 16)) % (1 << 128):032x}"


def _require_declared(name: str, columns: Sequence[Column], present: Sequence[str]) -> None:
    missing = sorted(
        c.source_column or c.name for c in columns if (c.source_column or c.name) not in present
    )
    if missing:
        raise LoadError(
            f"{name}: declared column(s) missing from the source: {', '.join(missing)} "
            f"(found: {', '.join(present)})"
        )


def _drift_name(source_name: str, drift: dict[str, dict[str, str]], kind: str) -> str:
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


def _cast(source: str, column: Column, csv: CsvOptions) -> str:
    src = quote(source)
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


def _reason(message: str, declared: Mapping[str, Column]) -> str:
    """DuckDB's conversion message, in the spec's terms where it can tell."""
    match = re.search(r'converting column "([^"]+)"\. Could not convert string "(.*)" to', message)
    if match and match.group(1) in declared:
        column = declared[match.group(1)]
        return f"column {column.name!r}: {match.group(2)!r} is not a valid {column.type}"
    return message


def _last_scan(con: duckdb.DuckDBPyConnection) -> int:
    """The newest rejects scan id so far: this read's rejects are the ones after it."""
    try:
        return _count(con, "SELECT coalesce(max(scan_id), 0) FROM reject_errors")
    except duckdb.CatalogException:
        return 0  # no read has stored rejects yet


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row else 0


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0]


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
