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

Before a parser sees an input, :mod:`civicstat.warehouse.bounds` holds it under the read
limits: a line too long to read is a quarantined row with its number (the parsers read a
copy without it), a payload that decompresses or expands beyond reason fails the load.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from civicstat import private_files
from civicstat.excerpt import LIMIT, quoted
from civicstat.spec.models import Column
from civicstat.warehouse import bounds, readers, timezones
from civicstat.warehouse._columns import (
    DUCKDB_TYPES,
    MAX_QUARANTINED,
    OMITS_NULL_KEYS,
    PARQUET,
    BadRow,
    Input,
    LoadError,
    cast_expr,
    count_params,
    drift_name,
    first_line,
    literal,
    quote,
    resolve,
)
from civicstat.warehouse._csv import pull_csv
from civicstat.warehouse.bounds import LongLine, PayloadTooLarge, ReadLimits
from civicstat.warehouse.csv_format import CsvOptions

# The loader's public surface; the formats' work lives in the private modules beside it.
__all__ = [
    "DUCKDB_TYPES",
    "MAX_QUARANTINED",
    "OMITS_NULL_KEYS",
    "PARQUET",
    "BadRow",
    "Input",
    "LoadError",
    "Pulled",
    "checksum",
    "connect",
    "input_checksum",
    "literal",
    "pull",
    "quote",
    "watching",
    "write_parquet",
]

_POLL_SECONDS = 0.1  # how often a watched load asks DuckDB how far along it is


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


def connect(preserve_order: bool = True) -> duckdb.DuckDBPyConnection:
    """A private DuckDB for one load. Keeping rows in file order costs time; only a keyed
    load needs it (within a pull, the last row for a key wins)."""
    con = duckdb.connect(":memory:")
    con.execute(f"SET preserve_insertion_order = {str(preserve_order).lower()}")
    con.execute("SET TimeZone = 'UTC'")  # never the host's zone: see civicstat.warehouse.timezones
    con.execute("SET enable_progress_bar = false")
    # Payloads are local lake files: no extension (httpfs) may be fetched or loaded, so a
    # URL handed to DuckDB is an error, never a request.
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    return con


def pull(
    con: duckdb.DuckDBPyConnection,
    inputs: Sequence[Input],
    columns: Sequence[Column],
    options: Mapping[str, Any],
    folder: Path,
    on_progress: Callable[[float], None] | None = None,
    local: str = "UTC",
    limits: ReadLimits | None = None,
) -> Pulled:
    """Write every input's good rows to a Parquet part in ``folder`` and define view
    ``pulled`` over them; bad rows are returned, not loaded. Timestamps are stored as
    wall-clock time in the zone ``local`` (the workspace's, see
    :mod:`civicstat.warehouse.timezones`).

    ``on_progress`` is told the share of the inputs' bytes loaded so far (0.0 to 1.0), as
    it grows: within a CSV from DuckDB's own estimate, otherwise input by input.
    ``limits`` bound what each input may make the load read (see
    :mod:`civicstat.warehouse.bounds`); by default :class:`ReadLimits`' own.
    """
    limits = limits or ReadLimits()
    if not inputs:
        raise LoadError("the pull gave no payload to load")
    sizes = [item.path.stat().st_size for item in inputs]
    total = sum(sizes) or 1
    csv = CsvOptions.model_validate(options.get("csv", {}))
    bad: list[BadRow] = []
    bad_count = 0
    drift: dict[str, dict[str, str]] = {}
    parts: list[Path] = []
    good = 0
    for index, item in enumerate(inputs):
        part = folder / f"part-{index:04d}.parquet"
        item_csv = CsvOptions.model_validate(
            {**csv.model_dump(), **dict(item.read_options.get("csv", {}))}
            | ({"delimiter": "\t"} if item.format == "tsv" else {})
        )
        header = item.format in ("csv", "tsv") and item_csv.header
        try:
            with _bounded(item, limits, folder, header=header) as (readable, long):
                if item.format in ("csv", "tsv"):
                    within = _scaled(on_progress, sum(sizes[:index]), sizes[index], total)
                    with watching(con, within):
                        n_good, n_bad, rows = pull_csv(
                            con, part, readable, columns, item_csv, drift, local, limits, long
                        )
                else:
                    read_options = {**options, **item.read_options}
                    n_good, n_bad, rows = _pull_staged(
                        con, part, readable, columns, read_options, drift, csv, local
                    )
                    # An NDJSON record's number is its line's, in the copy without long ones.
                    rows = [_renumbered(row, long) for row in rows]
        except duckdb.Error as error:
            raise LoadError(f"{item.name}: {first_line(error)}") from error
        except PayloadTooLarge as error:
            raise LoadError(str(error)) from error
        private_files.restrict(part)  # DuckDB writes files with the umask's mode
        too_long = [
            BadRow(item.name, line.number, None, line.reason(limits.max_line_bytes), line.raw())
            for line in long
        ]
        n_bad += len(too_long)
        rows = sorted([*too_long, *rows], key=lambda r: r.line or 0)
        _fsync(part)
        good += n_good
        bad_count += n_bad
        bad.extend(rows[: max(0, MAX_QUARANTINED - len(bad))])
        parts.append(part)
        if on_progress is not None:
            on_progress(sum(sizes[: index + 1]) / total)
    _fsync(folder)
    order = [c.name for c in columns] + [d["name"] for d in drift.values()]
    files = ", ".join(literal(str(p)) for p in parts)
    # A view cannot hold prepared parameters: the paths are escaped literals.
    con.execute(
        f"CREATE TEMP VIEW pulled AS SELECT {', '.join(map(quote, order))} "
        f"FROM read_parquet([{files}], union_by_name = true)"
    )
    return Pulled(parts, good, bad_count, bad, list(drift.values()))


def _renumbered(row: BadRow, removed: Sequence[LongLine]) -> BadRow:
    if not removed or row.line is None:
        return row
    return dataclasses.replace(row, line=bounds.original_line(row.line, removed))


@contextlib.contextmanager
def _bounded(
    item: Input, limits: ReadLimits, scratch: Path, *, header: bool
) -> Iterator[tuple[Input, list[LongLine]]]:
    """The input as the parsers may read it, and its lines too long to read (see
    :mod:`civicstat.warehouse.bounds`): itself, or a copy without those lines, in a
    scratch folder inside the new version's (a run that dies leaves it where a discarded
    version's files go), removed afterwards."""
    if item.format == "xlsx":
        bounds.check_workbook(item.path, limits, item.name)
    elif item.format == "parquet":
        bounds.check_parquet(item.path, limits, item.name)
    elif item.format not in ("csv", "tsv", "ndjson"):
        bounds.check_decompressed(item.path, limits, item.name)
    if item.format not in ("csv", "tsv", "ndjson"):
        yield item, []
        return
    with tempfile.TemporaryDirectory(dir=scratch, prefix=".bounded-") as folder:
        copy = Path(folder) / f"payload.{item.format}"
        long = bounds.long_lines(item.path, limits, item.name, copy)
        if header and long and long[0].number == 1:
            reason = long[0].reason(limits.max_line_bytes)
            raise LoadError(f"{item.name}: the header line is too long: {reason}")
        yield (Input(copy, item.name, item.format, item.read_options) if long else item), long


@contextlib.contextmanager
def watching(
    con: duckdb.DuckDBPyConnection, report: Callable[[float], None] | None
) -> Iterator[None]:
    """While the block runs queries on ``con``, tell ``report`` DuckDB's estimate of how far
    along the running one is (0.0 to 1.0), as it grows, from a thread that asks it a few
    times a second. Nothing is tracked when nobody listens."""
    if report is None:
        yield
        return
    # DuckDB keeps a query's progress only while its progress bar is on; it never prints here.
    con.execute("SET enable_progress_bar_print = false")
    con.execute("SET enable_progress_bar = true")
    stop = threading.Event()

    def poll() -> None:
        best = 0.0
        while not stop.wait(_POLL_SECONDS):
            share = con.query_progress() / 100  # negative: not known (yet)
            if best < share <= 1.0:
                best = share
                report(share)

    thread = threading.Thread(target=poll, name="load-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        con.execute("SET enable_progress_bar = false")


def _scaled(
    report: Callable[[float], None] | None, before: int, size: int, total: int
) -> Callable[[float], None] | None:
    """A share of one input (of ``size`` bytes, after ``before`` bytes) as a share of all."""
    if report is None:
        return None
    return lambda share: report((before + share * size) / total)


def _pull_staged(
    con: duckdb.DuckDBPyConnection,
    part: Path,
    item: Input,
    columns: Sequence[Column],
    options: Mapping[str, Any],
    drift: dict[str, dict[str, str]],
    csv: CsvOptions,
    local: str,
) -> tuple[int, int, list[BadRow]]:
    """Any other format: the reader stages it as-is, then each declared column is cast.

    Null markers (``csv.null_values``, e.g. "No Data") apply to text values here too, so a
    spreadsheet and its CSV export load the same.
    """
    con.execute("DROP TABLE IF EXISTS raw0")
    readers.get(item.format)(con, [str(item.path)], dict(options))
    present = [row[0] for row in con.execute("DESCRIBE raw0").fetchall() if row[0] != "filename"]
    if item.format in OMITS_NULL_KEYS:
        absent = [c.source_names()[0] for c in columns if not set(c.source_names()) & set(present)]
        for name in absent:
            con.execute(f"ALTER TABLE raw0 ADD COLUMN {quote(name)} VARCHAR")
        present += absent
    declared = resolve(item.name, columns, present)
    raw_types = {row[0]: str(row[1]) for row in con.execute("DESCRIBE raw0").fetchall()}
    markers = ", ".join(literal(m) for m in csv.null_values) or "''"

    def value(src: str) -> str:
        if raw_types[src] != "VARCHAR":
            return quote(src)
        return f"(CASE WHEN trim({quote(src)}) IN ({markers}) THEN NULL ELSE {quote(src)} END)"

    def cast(src: str, column: Column) -> str:
        if column.type == "timestamp":
            return timezones.staged(value(src), raw_types[src], column, csv.timestamp_format, local)
        return cast_expr(value(src), column, csv)

    extra = [name for name in present if name not in declared]
    selected = [f"{cast(src, c)} AS {quote(c.name)}" for src, c in declared.items()]
    selected += [f"{value(n)} AS {quote(drift_name(n, drift, raw_types[n]))}" for n in extra]
    misfit = {
        src: f"({value(src)} IS NOT NULL AND {cast(src, c)} IS NULL)" for src, c in declared.items()
    }
    con.execute(
        "CREATE TEMP TABLE staged AS SELECT *, rowid + 1 AS _record, "
        f"({' OR '.join(misfit.values()) or 'false'}) AS _bad FROM raw0"
    )
    written = con.execute(
        f"COPY (SELECT {', '.join(selected)} FROM staged WHERE NOT _bad ORDER BY _record) "
        f"TO {literal(str(part))} ({PARQUET})"
    ).fetchone()
    # Each misfit value, cut short: the reason quotes it through excerpt.quoted.
    misfits = "".join(
        f"CASE WHEN {misfit[src]} THEN left(CAST({quote(src)} AS VARCHAR), {LIMIT + 1}) END, "
        for src in declared
    )
    bad = con.execute(
        f"SELECT _record, {misfits}to_json(staged) "
        f"FROM staged WHERE _bad ORDER BY _record LIMIT {MAX_QUARANTINED}"
    ).fetchall()
    bad_count = count_params(con, "SELECT count(*) FROM staged WHERE _bad", {})
    con.execute("DROP TABLE staged")
    con.execute("DROP TABLE raw0")
    rows = []
    for record, *values, raw in bad:
        failing = [(c, v) for c, v in zip(declared.values(), values, strict=True) if v is not None]
        cols = ", ".join(c.name for c, _ in failing)
        reason = "; ".join(
            f"column {c.name!r}: {quoted(v)} is not a valid {c.type}" for c, v in failing
        )
        rows.append(BadRow(item.name, int(record), cols, reason, raw))
    return int(written[0]) if written else 0, bad_count, rows


def write_parquet(con: duckdb.DuckDBPyConnection, query: str, target: Path) -> None:
    """Write a query's rows to one zstd Parquet file, durably (fsync file and folder)."""
    con.execute(f"COPY ({query}) TO {literal(str(target))} ({PARQUET})")
    private_files.restrict(target)
    _fsync(target)
    _fsync(target.parent)


def checksum(con: duckdb.DuckDBPyConnection, relation: str, columns: Sequence[str]) -> str:
    """Order-free checksum of a multiset of rows: equal rows give equal checksums, in any
    order (keyed loads, whose result depends on the current rows, use it)."""
    row = ", ".join(quote(c) for c in columns)
    count, total = con.execute(
        f"SELECT count(*), coalesce(sum(hash(row({row})))::HUGEINT, 0) FROM {relation}"
    ).fetchone() or (0, 0)
    return f"{int(count)}:{int(total) % (1 << 128):032x}"


def input_checksum(row_count: int, inputs: Sequence[str], definition: Any) -> str:
    """Checksum of a version built only from its payloads (replace, append): the payloads'
    SHA-256s and the definition that read them. The same input read the same way gives the
    same checksum, which is known before anything is parsed."""
    body = json.dumps({"inputs": sorted(inputs), "definition": definition}, sort_keys=True)
    # 192 bits of the hash keep "count:in:hash" within the 80-character column.
    return f"{row_count}:in:{hashlib.sha256(body.encode()).hexdigest()[:48]}"


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
