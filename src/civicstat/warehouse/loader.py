"""Turn landed raw payloads into one curated table version (Parquet), with declared types.

Loading runs in a private in-process DuckDB: raw files are read as text, each declared
column is cast to its type, and a value that does not fit its type is a bad row reported
with its file, line and column, never silently turned into text or NULL.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from civicstat.spec.models import Column, CsvOptions

_DUCKDB_TYPES = {
    "string": "VARCHAR",
    "integer": "BIGINT",
    "float": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
}
MAX_REPORTED_BAD_ROWS = 5


class LoadError(Exception):
    """Payloads could not be loaded; the message says which file, row and column."""


@dataclass(frozen=True)
class LoadResult:
    files: list[str]  # names of the Parquet files written in the version folder
    row_count: int
    columns: list[dict[str, str]]


def quote(identifier: str) -> str:
    """Quote an SQL identifier (DuckDB and PostgreSQL rules)."""
    return '"' + identifier.replace('"', '""') + '"'


def load(
    paths: list[Path],
    fmt: str,
    read_options: dict[str, Any],
    columns: list[Column],
    out_folder: Path,
    names: list[str] | None = None,
) -> LoadResult:
    """Read ``paths`` (all one format), cast to ``columns``, write ``out_folder/part-0.parquet``.

    ``names`` are the payloads' original names, used in messages about bad values.
    """
    con = duckdb.connect(":memory:")
    try:
        _stage_raw(con, [str(p) for p in paths], fmt, read_options)
        available = {row[0] for row in con.execute("DESCRIBE raw").fetchall()}
        missing = [
            c.source_column or c.name
            for c in columns
            if (c.source_column or c.name) not in available
        ]
        if missing:
            raise LoadError(
                f"declared column(s) missing from the source: {', '.join(sorted(missing))}"
                f" (found: {', '.join(sorted(a for a in available if a not in ('_file', '_row')))})"
            )
        csv_options = CsvOptions.model_validate(read_options.get("csv", {}))
        casts = [_cast(c, csv_options) for c in columns]
        con.execute(f"CREATE TEMP VIEW typed AS SELECT _file, _row, {', '.join(casts)} FROM raw")  # noqa: S608
        shown = dict(zip(map(str, paths), names or [p.name for p in paths], strict=True))
        _check_bad_values(con, columns, shown)
        target = out_folder / "part-0.parquet"
        selected = ", ".join(quote(c.name) for c in columns)
        literal = str(target).replace("'", "''")
        con.execute(
            f"COPY (SELECT {selected} FROM typed ORDER BY _file, _row) "  # noqa: S608
            f"TO '{literal}' (FORMAT parquet, COMPRESSION zstd)"
        )
        row_count = _fetch_int(con, "SELECT count(*) FROM typed")
    except duckdb.Error as error:
        raise LoadError(str(error).splitlines()[0]) from error
    finally:
        con.close()
    _fsync(target)
    _fsync(out_folder)
    return LoadResult([target.name], row_count, [{"name": c.name, "type": c.type} for c in columns])


def _stage_raw(
    con: duckdb.DuckDBPyConnection, paths: list[str], fmt: str, options: dict[str, Any]
) -> None:
    """Expose the payloads as view ``raw``: the source columns plus file and row number.

    CSV columns are read as text so that typing is ours to do and to report. Insertion
    order is kept, so ``rowid`` numbers the records of each file in file order.
    """
    csv = CsvOptions.model_validate(options.get("csv", {}))
    if fmt == "parquet":
        reader = "read_parquet($paths, union_by_name = true, filename = true)"
        params: dict[str, Any] = {"paths": paths}
        skip = 0
    else:
        reader = (
            "read_csv($paths, all_varchar = true, union_by_name = true, filename = true, "
            "header = $header, delim = $delim, nullstr = $nulls, encoding = $encoding, "
            "strict_mode = true)"
        )
        params = {
            "paths": paths,
            "header": csv.header,
            "delim": csv.delimiter,
            "nulls": csv.null_values or [""],
            "encoding": csv.encoding,
        }
        skip = 1 if csv.header else 0  # line numbers as a person sees them: the header is line 1
    con.execute(f"CREATE TEMP TABLE raw0 AS SELECT * FROM {reader}", params)  # noqa: S608
    row = f"rowid - min(rowid) OVER (PARTITION BY filename) + {1 + skip:d}"
    view = f"SELECT * EXCLUDE (filename), filename AS _file, {row} AS _row FROM raw0"  # noqa: S608
    con.execute(f"CREATE TEMP VIEW raw AS {view}")


def _cast(column: Column, csv: CsvOptions) -> str:
    source = quote(column.source_column or column.name)
    name = quote(column.name)
    if column.type == "timestamp" and csv.timestamp_format:
        fmt = csv.timestamp_format.replace("'", "''")
        return f"try_strptime({source}::VARCHAR, '{fmt}') AS {name}"
    if column.type == "date" and csv.date_format:
        fmt = csv.date_format.replace("'", "''")
        return f"CAST(try_strptime({source}::VARCHAR, '{fmt}') AS DATE) AS {name}"
    if column.type == "string":
        return f"CAST({source} AS VARCHAR) AS {name}"
    return f"TRY_CAST({source} AS {_DUCKDB_TYPES[column.type]}) AS {name}"


def _check_bad_values(
    con: duckdb.DuckDBPyConnection, columns: list[Column], shown: dict[str, str]
) -> None:
    """A value present in the source but NULL after the cast did not fit its declared type."""
    problems: list[str] = []
    for column in columns:
        if column.type == "string":
            continue
        source = quote(column.source_column or column.name)
        rows = con.execute(
            f"SELECT r._file, r._row, CAST(r.{source} AS VARCHAR), count(*) OVER () "  # noqa: S608
            f"FROM raw r JOIN typed t USING (_file, _row) "
            f"WHERE r.{source} IS NOT NULL AND t.{quote(column.name)} IS NULL "
            f"ORDER BY r._file, r._row LIMIT {MAX_REPORTED_BAD_ROWS}"
        ).fetchall()
        for file, row, value, total in rows:
            problems.append(
                f"{shown.get(file, Path(file).name)}:{row}: column {column.name!r}: {value!r} "
                f"is not a valid {column.type} ({total} bad value(s) in this column)"
            )
    if problems:
        # The first line names the first bad value, so a one-line listing still says where.
        raise LoadError("\n".join(problems))


def _fetch_int(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    assert row is not None
    return int(row[0])


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
