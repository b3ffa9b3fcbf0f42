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
import csv as pycsv
import dataclasses
import hashlib
import io
import itertools
import json
import os
import re
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from civicstat import private_files
from civicstat.excerpt import LIMIT, excerpt, listing, quoted
from civicstat.spec.models import Column
from civicstat.warehouse import bounds, readers, timezones
from civicstat.warehouse.bounds import LongLine, PayloadTooLarge, ReadLimits
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
_SAMPLE_CHARS = 4 << 20  # the most text of a CSV's first rows looked at for time zones
_POLL_SECONDS = 0.1  # how often a watched load asks DuckDB how far along it is


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
                        n_good, n_bad, rows = _pull_csv(
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
            raise LoadError(f"{item.name}: {_first_line(error)}") from error
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


def _pull_csv(
    con: duckdb.DuckDBPyConnection,
    part: Path,
    item: Input,
    columns: Sequence[Column],
    csv: CsvOptions,
    drift: dict[str, dict[str, str]],
    local: str,
    limits: ReadLimits,
    removed: Sequence[LongLine] = (),
) -> tuple[int, int, list[BadRow]]:
    """One CSV file, typed in one pass; rows DuckDB cannot convert are set aside with reasons.

    The header is read here and every column named with its type, so DuckDB never guesses
    the dialect: a malformed line is one quarantined row, not a failed sniff of the whole
    file. DuckDB does not bind prepared parameters reliably inside read_csv's options, so
    each option value is written as an escaped SQL literal (see :func:`literal`).
    ``item`` may be a copy without the ``removed`` lines: line numbers are the payload's.
    """
    present, sample = _csv_head(item.path, csv)
    declared = _resolve(item.name, columns, present)
    extra = [name for name in present if name not in declared]
    # Drift columns are read as text: nothing is known about them yet.
    types = {n: DUCKDB_TYPES[declared[n].type] if n in declared else "VARCHAR" for n in present}
    stamps = _csv_timestamps(item.name, declared, present, sample, csv, local)
    types |= {src: stamp.read_as for src, stamp in stamps.items()}
    zones = {stamp.zone for stamp in stamps.values() if stamp.zone}
    struct = "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in types.items()) + "}"
    markers = ", ".join(literal(n) for n in csv.null_values or [""])
    common = (
        f"header = {str(csv.header).lower()}, delim = {literal(csv.delimiter)}, "
        f"nullstr = [{markers}], encoding = {literal(csv.encoding)}, "
        f"{_line_size(limits.max_line_bytes)}"
    )
    if csv.strict:
        # RFC 4180, every column named and typed: a malformed line is one quarantined row.
        quoting = f"quote = {literal(chr(34))}, escape = {literal(chr(34))}"
        options = (
            f"auto_detect = false, {common}, {quoting}, strict_mode = true, columns = {struct}"
        )
    else:
        # Tolerant recovery of a malformed export: DuckDB's dialect sniffer reads stray
        # quotes as a person would; the declared columns are still typed by name.
        options = f"{common}, strict_mode = false, types = {struct}"
    if csv.timestamp_format:
        options += f", timestampformat = {literal(csv.timestamp_format)}"
    if csv.date_format:
        options += f", dateformat = {literal(csv.date_format)}"
    select = [
        f"{stamps[src].value if src in stamps else quote(src)} AS {quote(c.name)}"
        for src, c in declared.items()
    ]
    select += [f"{quote(name)} AS {quote(_drift_name(name, drift, 'string'))}" for name in extra]
    scan_floor = _last_scan(con)
    if zones:  # values without an offset are read in the columns' zone
        con.execute(f"SET TimeZone = {literal(zones.pop())}")
    try:
        written = con.execute(
            f"COPY (SELECT {', '.join(select)} FROM read_csv({literal(str(item.path))}, "
            f"{options}, store_rejects = true)) TO {literal(str(part))} ({PARQUET})"
        ).fetchone()
    finally:
        con.execute("SET TimeZone = 'UTC'")
    good = int(written[0]) if written else 0
    floor = {"floor": scan_floor}
    bad_count = _count_params(
        con, "SELECT count(DISTINCT line) FROM reject_errors WHERE scan_id > $floor", floor
    )
    if not bad_count:
        return good, 0, []
    rejected = con.execute(
        "SELECT line, line_byte_position, column_name, error_message, csv_line "
        "FROM reject_errors WHERE scan_id > $floor ORDER BY line, column_idx "
        f"LIMIT {MAX_QUARANTINED * 4}",
        floor,
    ).fetchall()
    by_line: dict[int, list[tuple[Any, ...]]] = {}
    for row in rejected:
        by_line.setdefault(int(row[0]), []).append(row)
    lines = {
        position: bounds.original_line(line, removed)
        for position, line in _physical_lines(
            item.path, [int(rows[0][1]) for rows in by_line.values()]
        ).items()
    }
    bad = []
    for rows in list(by_line.values())[:MAX_QUARANTINED]:
        names = ", ".join(str(r[2]) for r in rows if r[2]) or None
        reasons = "; ".join(_reason(str(r[3] or ""), declared) for r in rows)
        # DuckDB's csv_line may carry the line breaks around it (\r\n files).
        raw = str(rows[0][4] or "").strip("\r\n")
        bad.append(BadRow(item.name, lines.get(int(rows[0][1])), names, reasons, raw))
    return good, bad_count, bad


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
    declared = _resolve(item.name, columns, present)
    raw_types = {row[0]: str(row[1]) for row in con.execute("DESCRIBE raw0").fetchall()}
    markers = ", ".join(literal(m) for m in csv.null_values) or "''"

    def value(src: str) -> str:
        if raw_types[src] != "VARCHAR":
            return quote(src)
        return f"(CASE WHEN trim({quote(src)}) IN ({markers}) THEN NULL ELSE {quote(src)} END)"

    def cast(src: str, column: Column) -> str:
        if column.type == "timestamp":
            return timezones.staged(value(src), raw_types[src], column, csv.timestamp_format, local)
        return _cast_expr(value(src), column, csv)

    extra = [name for name in present if name not in declared]
    selected = [f"{cast(src, c)} AS {quote(c.name)}" for src, c in declared.items()]
    selected += [f"{value(n)} AS {quote(_drift_name(n, drift, raw_types[n]))}" for n in extra]
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
    bad_count = _count_params(con, "SELECT count(*) FROM staged WHERE _bad", {})
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


def _line_size(limit: int) -> str:
    """DuckDB's own line bound, the same as the scan's, and a buffer that holds two such
    lines: by default DuckDB sizes it at 16 lines, which costs memory and nothing more
    (the scan already set aside every line longer than the bound)."""
    return f"max_line_size = {limit}, buffer_size = {max(2 * limit, 16 * bounds.MIB)}"


def _csv_head(path: Path, csv: CsvOptions) -> tuple[list[str], list[list[str]]]:
    """The CSV's column names and its first rows (at most ``timezones.SAMPLE_ROWS``). A
    repeated name gets _1, _2... as DuckDB names them (DECC week 40 repeats one)."""
    encoding = "utf-8-sig" if csv.encoding == "utf-8" else csv.encoding
    sample: list[list[str]] = []
    with (
        bounds.opened(path) as raw,
        io.TextIOWrapper(raw, encoding=encoding, newline="", errors="replace") as handle,
    ):
        reader = pycsv.reader(handle, delimiter=csv.delimiter)
        try:
            first = next(reader, [])
        except pycsv.Error as error:
            raise LoadError(f"{path.name}: the header line cannot be read: {error}") from error
        if not csv.header:
            sample.append(first)
        # A malformed line ends the sample (DuckDB's read reports it), and so does its size:
        # lines may be long (up to CIVICSTAT_MAX_LINE_BYTES each).
        budget = _SAMPLE_CHARS
        with contextlib.suppress(pycsv.Error):
            for row in itertools.islice(reader, timezones.SAMPLE_ROWS - len(sample)):
                sample.append(row)
                budget -= sum(map(len, row))
                if budget < 0:
                    break
    if not first:
        raise LoadError(f"{path.name}: the file is empty (no header line)")
    names = first if csv.header else [f"column{i}" for i in range(len(first))]
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name}_{seen[name] - 1}")
    return unique, sample


def _csv_timestamps(
    name: str,
    declared: Mapping[str, Column],
    present: Sequence[str],
    sample: Sequence[Sequence[str]],
    csv: CsvOptions,
    local: str,
) -> dict[str, timezones.CsvTimestamp]:
    """The timestamp columns of one CSV converted to local time, by their source name."""
    stamps: dict[str, timezones.CsvTimestamp] = {}
    for src, column in declared.items():
        if column.type != "timestamp":
            continue
        index = present.index(src)
        values = (row[index] for row in sample if index < len(row))
        stamp = timezones.for_csv(column, quote(src), values, csv.timestamp_format, local)
        if stamp is not None:
            stamps[src] = stamp
    zones = {src: stamp.zone for src, stamp in stamps.items() if stamp.zone}
    if len(set(zones.values())) > 1:
        listed = ", ".join(f"{declared[src].name!r} in {zone}" for src, zone in zones.items())
        raise LoadError(
            f"{name}: timestamp columns read in different time zones ({listed}); the "
            "timestamps of one CSV file are read in one zone (a column without timezone "
            "whose values carry UTC offsets is read in the workspace's)"
        )
    return stamps


def _resolve(name: str, columns: Sequence[Column], present: Sequence[str]) -> dict[str, Column]:
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


def _physical_lines(path: Path, positions: Sequence[int]) -> dict[int, int]:
    """1-based line numbers of byte offsets, counting every line break: a quoted field that
    spans lines makes the file's lines and DuckDB's record numbers differ."""
    wanted = sorted(set(positions))
    result: dict[int, int] = {}
    with bounds.opened(path) as handle:
        offset = breaks = index = 0
        while index < len(wanted) and (chunk := handle.read(1 << 20)):
            while index < len(wanted) and wanted[index] < offset + len(chunk):
                result[wanted[index]] = breaks + chunk.count(b"\n", 0, wanted[index] - offset) + 1
                index += 1
            breaks += chunk.count(b"\n")
            offset += len(chunk)
    return result


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


def _cast_expr(src: str, column: Column, csv: CsvOptions) -> str:
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


def _reason(message: str, declared: Mapping[str, Column]) -> str:
    """DuckDB's conversion message, in the spec's terms where it can tell."""
    match = re.search(r'converting column "([^"]+)"\. Could not convert string "(.*?)" to', message)
    if match and match.group(1) in declared:
        column = declared[match.group(1)]
        return f"column {column.name!r}: {quoted(match.group(2))} is not a valid {column.type}"
    return excerpt(message.strip().splitlines()[0], 300) if message.strip() else "malformed line"


def _last_scan(con: duckdb.DuckDBPyConnection) -> int:
    """The newest rejects scan id so far: this read's rejects are the ones after it."""
    try:
        return _count(con, "SELECT coalesce(max(scan_id), 0) FROM reject_errors")
    except duckdb.CatalogException:
        return 0  # no read has stored rejects yet


def _count_params(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> int:
    row = con.execute(sql, params).fetchone()
    return int(row[0]) if row else 0


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row else 0


def _first_line(error: Exception) -> str:
    """DuckDB's message, bounded: it may quote the payload."""
    return excerpt(str(error).strip().splitlines()[0], 300)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
