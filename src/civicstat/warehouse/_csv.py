"""CSV and TSV: read once, with the declared types, by DuckDB's own parser, which sets
aside each row it cannot convert (file, line, column and the line itself)."""

from __future__ import annotations

import contextlib
import csv as pycsv
import io
import itertools
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb

from civicstat.excerpt import excerpt, quoted
from civicstat.spec.models import Column
from civicstat.warehouse import bounds, timezones
from civicstat.warehouse._columns import (
    DUCKDB_TYPES,
    MAX_QUARANTINED,
    PARQUET,
    BadRow,
    Input,
    LoadError,
    count,
    count_params,
    drift_name,
    literal,
    quote,
    resolve,
)
from civicstat.warehouse.bounds import LongLine, ReadLimits
from civicstat.warehouse.csv_format import CsvOptions

_SAMPLE_CHARS = 4 << 20  # the most text of a CSV's first rows looked at for time zones


def pull_csv(
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
    declared = resolve(item.name, columns, present)
    extra = [name for name in present if name not in declared]
    # Drift columns are read as text: nothing is known about them yet.
    types = {n: DUCKDB_TYPES[declared[n].type] if n in declared else "VARCHAR" for n in present}
    stamps = _csv_timestamps(item.name, declared, present, sample, csv, local)
    types |= {src: stamp.read_as for src, stamp in stamps.items()}
    zones = {stamp.zone for stamp in stamps.values() if stamp.zone}
    options = _read_options(csv, types, limits)
    select = [
        f"{stamps[src].value if src in stamps else quote(src)} AS {quote(c.name)}"
        for src, c in declared.items()
    ]
    select += [f"{quote(name)} AS {quote(drift_name(name, drift, 'string'))}" for name in extra]
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
    bad_count = count_params(
        con, "SELECT count(DISTINCT line) FROM reject_errors WHERE scan_id > $floor", floor
    )
    if not bad_count:
        return good, 0, []
    bad = _rejected(con, floor, item, declared, removed)
    return good, bad_count, bad


def _read_options(csv: CsvOptions, types: Mapping[str, str], limits: ReadLimits) -> str:
    """read_csv's options: every column named and typed, so DuckDB never guesses."""
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
    return options


def _rejected(
    con: duckdb.DuckDBPyConnection,
    floor: dict[str, Any],
    item: Input,
    declared: Mapping[str, Column],
    removed: Sequence[LongLine],
) -> list[BadRow]:
    """The rows this read set aside, one per line, numbered as the payload's lines."""
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
    return bad


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
        return count(con, "SELECT coalesce(max(scan_id), 0) FROM reject_errors")
    except duckdb.CatalogException:
        return 0  # no read has stored rejects yet
