"""The candidate version a run builds from what it pulled, before checks and publishing.

Works on a DuckDB connection where the loader defined view ``pulled`` (the new rows) and
leaves view ``candidate`` (the whole next version). Replace and append keep the pulled
Parquet parts as they are; a key rewrites the dataset as one merged file.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import duckdb

from civicstat.spec.models import Source
from civicstat.warehouse import loader
from civicstat.warehouse.loader import quote

APPENDING = ("append", "incremental")


class Head(Protocol):
    """The dataset's published version (metadata's ``DataVersion``), as far as building
    the next one needs it."""

    @property
    def files(self) -> Sequence[str]: ...  # lake-relative Parquet files
    @property
    def inputs(self) -> Sequence[str]: ...  # SHA-256 of every payload in it
    @property
    def row_count(self) -> int: ...
    @property
    def checksum(self) -> str: ...


@dataclass(frozen=True)
class NextVersion:
    """The version a run is about to publish."""

    files: list[str]
    checksum: str
    inputs: list[str]  # SHA-256 of every payload in it
    row_count: int


def definition(source: Source) -> dict[str, Any]:
    """What decides how payloads become rows: the declared columns, options and load."""
    return source.model_dump(mode="json", include={"columns", "options", "load", "connector"})


def same_inputs(source: Source, head: Head, hashes: Sequence[str]) -> bool:
    """Whether these payloads, read the way the source reads them now, made the head."""
    return head.checksum == loader.input_checksum(head.row_count, hashes, definition(source))


def build(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    head: Head | None,
    head_paths: Sequence[Path],
    parts: list[Path],
    folder_relative: str,
    new_inputs: list[str],
) -> NextVersion:
    """Settle the new version's files and define view ``candidate`` (the whole of it).

    ``head_paths`` are the head's files on disk; ``new_inputs`` the hashes of the payloads
    loaded now. Append adds the parts to the current version's files.
    """
    new_rows = count(con, "pulled")
    if head_paths:
        previous = paths(map(str, head_paths))
        con.execute(
            f"CREATE TEMP VIEW current AS SELECT * FROM read_parquet([{previous}], "
            "union_by_name = true)"
        )
    if source.load.key:
        return _merge(con, source, parts, folder_relative, new_inputs, has_current=bool(head_paths))
    relative = [f"{folder_relative}/{p.name}" for p in parts]
    if source.load.mode in APPENDING and head is not None:
        # The new parts join the current version's files, which stay as they are.
        con.execute(
            "CREATE TEMP VIEW candidate AS SELECT * FROM current "
            "UNION ALL BY NAME SELECT * FROM pulled"
        )
        inputs, rows = [*head.inputs, *new_inputs], head.row_count + new_rows
        checksum = loader.input_checksum(rows, inputs, definition(source))
        return NextVersion([*head.files, *relative], checksum, inputs, rows)
    con.execute("CREATE TEMP VIEW candidate AS SELECT * FROM pulled")
    checksum = loader.input_checksum(new_rows, new_inputs, definition(source))
    return NextVersion(relative, checksum, new_inputs, new_rows)


def _merge(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    parts: list[Path],
    folder_relative: str,
    new_inputs: list[str],
    *,
    has_current: bool,
) -> NextVersion:
    """Upsert: within the pull the last row for a key wins, and it replaces the current
    row with that key. The whole dataset is rewritten as one file."""
    selected = ", ".join(map(quote, columns(con, "pulled")))
    keys = ", ".join(quote(k) for k in source.load.key)
    con.execute(
        f"CREATE TEMP VIEW newest AS SELECT {selected} FROM (SELECT *, row_number() OVER "
        f"(PARTITION BY {keys} ORDER BY filename DESC, file_row_number DESC) AS _n "
        f"FROM read_parquet([{paths(map(str, parts))}], union_by_name = true, "
        "filename = true, file_row_number = true)) WHERE _n = 1"
    )
    kept = (
        f"SELECT * FROM current WHERE ({keys}) NOT IN (SELECT ({keys}) FROM newest) "
        "UNION ALL BY NAME "
        if has_current
        else ""
    )
    con.execute(f"CREATE TEMP VIEW candidate AS {kept}SELECT * FROM newest")
    merged = parts[0].with_name("merged.parquet")
    loader.write_parquet(con, "SELECT * FROM candidate", merged)
    con.execute("DROP VIEW newest")
    merged_file = paths([str(merged)])
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW candidate AS SELECT * FROM read_parquet({merged_file})"
    )
    for part in parts:
        part.unlink()
    return NextVersion(
        [f"{folder_relative}/{merged.name}"],
        loader.checksum(con, "candidate", columns(con, "candidate")),
        new_inputs,
        count(con, "candidate"),
    )


def past_high_water_mark(
    con: duckdb.DuckDBPyConnection, source: Source, hwm: str | None, parts: list[Path], folder: Path
) -> list[Path]:
    """Keep only rows past the mark, whatever the connector sent: a source that ignores
    the cursor parameter must not load old rows twice. Returns the parts to publish."""
    cursor = source.load.cursor
    if hwm is None or cursor is None:
        return parts
    kind = next(c.type for c in source.columns if c.name == cursor)
    newer = f"{quote(cursor)} > CAST({loader.literal(hwm)} AS {loader.DUCKDB_TYPES[kind]})"
    if count(con, f"pulled WHERE NOT coalesce({newer}, false)") == 0:
        return parts
    kept = folder / "new.parquet"
    loader.write_parquet(con, f"SELECT * FROM pulled WHERE {newer}", kept)
    selected = ", ".join(map(quote, columns(con, "pulled")))
    kept_file = paths([str(kept)])
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW pulled AS SELECT {selected} FROM read_parquet({kept_file})"
    )
    for part in parts:
        part.unlink()
    return [kept]


def new_high_water_mark(con: duckdb.DuckDBPyConnection, source: Source) -> str | None:
    """The candidate's largest cursor value, the mark the next run starts past."""
    cursor = source.load.cursor
    assert cursor is not None
    row = con.execute(f"SELECT CAST(max({quote(cursor)}) AS VARCHAR) FROM candidate").fetchone()
    return None if row is None or row[0] is None else str(row[0])


def earliest(con: duckdb.DuckDBPyConnection, source: Source) -> dict[str, Any]:
    """The earliest value of each date/timestamp column among the pulled rows."""
    times = [c.name for c in source.columns if c.type in ("date", "timestamp")]
    if not times:
        return {}
    row = con.execute(
        f"SELECT {', '.join(f'min({quote(t)})' for t in times)} FROM pulled"
    ).fetchone()
    return dict(zip(times, row or [], strict=True))


def paths(items: Iterable[str]) -> str:
    """Escaped path literals for read_parquet (a view cannot hold prepared parameters)."""
    return ", ".join(loader.literal(p) for p in items)


def columns(con: duckdb.DuckDBPyConnection, relation: str) -> list[str]:
    return [row[0] for row in con.execute(f"DESCRIBE {relation}").fetchall()]


def count(con: duckdb.DuckDBPyConnection, relation: str) -> int:
    row = con.execute(f"SELECT count(*) FROM {relation}").fetchone()
    return int(row[0]) if row else 0
