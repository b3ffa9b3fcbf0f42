"""Readers turn landed payloads of one format into the staging table ``raw0`` of a DuckDB
connection: the payload's columns, plus ``filename`` (the landed path), in file order.

CSV has its own typed fast path in :mod:`civicstat.warehouse.loader`; every other format
is read here and typed by the loader afterwards. JSON, NDJSON and Excel values are staged
as text (nested JSON as JSON text), exactly like CSV cells, so that typing is the loader's
to do and to report. Readers register in the ``civicstat.readers`` entry point group, the
ones here too, so a connector with a format of its own (``arcgis``'s GeoJSON) adds its
reader exactly as a plugin would.

Formats and their ``read_options``:

- ``parquet``: none; columns keep their Parquet types.
- ``json``: ``{"json": {"records": "a.b"}}``, the dot path to the records array inside the
  document (a numeric part indexes an array: ``pages.0.rows``); absent or empty means the
  document itself is the array.
- ``ndjson``: none; one object per line, blank lines ignored.
- ``xlsx``: ``{"xlsx": {"sheet": "name" or 0-based index, "header_row": 1}}``.
"""

from __future__ import annotations

import datetime as dt
import gzip
import itertools
import os
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from importlib.metadata import entry_points
from itertools import islice
from typing import Any

import duckdb
import openpyxl
import pyarrow as pa

from civicstat.excerpt import excerpt, listing, quoted

Reader = Callable[[duckdb.DuckDBPyConnection, list[str], dict[str, Any]], None]
GROUP = "civicstat.readers"

# DuckDB caps one JSON value at 16 MB by default; a document read whole (records path) or
# a record with a large geometry can be bigger. The buffer grows only as far as needed.
_MAX_JSON_BYTES = 2**32 - 1
_XLSX_BATCH_ROWS = 50_000


class ReadError(ValueError):
    """A payload is not what its format promises; the message names the file."""


@cache
def available() -> dict[str, Reader]:
    """Every installed reader, by the payload format it reads."""
    return {ep.name: ep.load() for ep in entry_points(group=GROUP)}


def get(fmt: str) -> Reader:
    readers = available()
    if fmt not in readers:
        raise KeyError(f"no reader for format {fmt!r} (known: {', '.join(sorted(readers))})")
    return readers[fmt]


def read_parquet(con: duckdb.DuckDBPyConnection, paths: list[str], options: dict[str, Any]) -> None:
    con.execute(
        "CREATE TEMP TABLE raw0 AS SELECT * FROM "
        "read_parquet($paths, union_by_name = true, filename = true)",
        {"paths": paths},
    )


# --- JSON and NDJSON ----------------------------------------------------------------------


def read_json(con: duckdb.DuckDBPyConnection, paths: list[str], options: dict[str, Any]) -> None:
    """A JSON document whose records are an array: the document itself or at ``records``."""
    records = str((options.get("json") or {}).get("records") or "")
    _stage_json(con, paths, records, newline_delimited=False)


def read_ndjson(con: duckdb.DuckDBPyConnection, paths: list[str], options: dict[str, Any]) -> None:
    """Newline-delimited JSON: one record per line."""
    _stage_json(con, paths, "", newline_delimited=True)


def _stage_json(
    con: duckdb.DuckDBPyConnection, paths: list[str], records: str, *, newline_delimited: bool
) -> None:
    """Collect every record as JSON, then spread the union of their keys into columns.

    Keys are scanned in every record (never a sample), so a key that only late records
    have is not lost; a record without a key gets NULL, as SODA omits null keys.
    """
    con.execute("CREATE TEMP TABLE _json_records (filename VARCHAR, record JSON)")
    try:
        for path in paths:
            _insert_json_records(con, path, records, newline_delimited=newline_delimited)
        not_object = con.execute(
            "SELECT filename, rowid FROM _json_records "
            "WHERE json_type(record) <> 'OBJECT' ORDER BY rowid LIMIT 1"
        ).fetchone()
        if not_object is not None:
            raise ReadError(
                f"{_name(not_object[0])}: a record is not a JSON object: each must be one"
            )
        keys = _ordered_keys(con)
        columns = [f"record ->> {_literal(_json_pointer(k))} AS {_quote(k)}" for k in keys]
        select = "".join(c + ", " for c in columns)
        con.execute(
            f"CREATE TEMP TABLE raw0 AS SELECT {select}filename FROM _json_records ORDER BY rowid"  # noqa: S608 - keys quoted
        )
    finally:
        con.execute("DROP TABLE IF EXISTS _json_records")


def _insert_json_records(
    con: duckdb.DuckDBPyConnection, path: str, records: str, *, newline_delimited: bool
) -> None:
    if newline_delimited:
        _insert(con, path, "newline_delimited", "json")
        return
    if not records:
        if _first_char(path) != "[":
            raise ReadError(
                f"{_name(path)}: the JSON document is not an array of records; "
                "set the records option to the path of the array inside it"
            )
        _insert(con, path, "array", "json")
        return
    candidates = _json_paths(records)
    kinds_of = ", ".join(f"json_type(json_extract(json, $p{i}))" for i in range(len(candidates)))
    documents = con.execute(
        f"SELECT {kinds_of} FROM {_objects('unstructured', path)}",  # noqa: S608 - fixed text
        {"path": path, **{f"p{i}": c for i, c in enumerate(candidates)}},
    ).fetchall()
    arrays = [
        i for i in range(len(candidates)) if documents and all(d[i] == "ARRAY" for d in documents)
    ]
    if not arrays:
        kinds = {d[0] for d in documents}
        what = "not found" if kinds <= {None} else f"a {'/'.join(sorted(map(str, kinds)))}"
        raise ReadError(
            f"{_name(path)}: records path {records!r} is {what}, not an array of records"
        )
    each = candidates[arrays[0]] + "[*]"
    _insert(con, path, "unstructured", "unnest(json_extract(json, $each))", each=each)


def _json_paths(records: str) -> list[str]:
    """JSONPaths a dot path may mean: ``rows.0.items`` is key ``0`` or index 0 (keys first)."""
    steps = []
    for part in records.split("."):
        key = '."' + part.replace("\\", "\\\\").replace('"', '\\"') + '"'
        steps.append([key, f"[{int(part)}]"] if part.isdigit() else [key])
    return ["$" + "".join(combo) for combo in itertools.product(*steps)]


def _insert(
    con: duckdb.DuckDBPyConnection, path: str, layout: str, record: str, **params: str
) -> None:
    """Append the records of one file to ``_json_records``, in file order."""
    con.execute(
        f"INSERT INTO _json_records SELECT filename, {record} FROM {_objects(layout, path)}",  # noqa: S608 - fixed text, path quoted
        {"path": path, **params},
    )


def _objects(layout: str, path: str) -> str:
    """A ``read_json_objects`` call for one file (``$path``); gzip is told by its bytes."""
    compression = "gzip" if _is_gzip(path) else "none"
    return (
        f"read_json_objects($path, format = '{layout}', filename = true, "
        f"compression = '{compression}', maximum_object_size = {_MAX_JSON_BYTES})"
    )


def _ordered_keys(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every key of every record, in the order records first show them. An empty key is
    left out: no declared column has that name, and DuckDB cannot make it a column."""
    key_sets = con.execute(
        "SELECT json_keys(record) AS keys, min(rowid) AS first FROM _json_records "
        "GROUP BY keys ORDER BY first"
    ).fetchall()
    keys: dict[str, None] = {}
    for key_set, _ in key_sets:
        keys.update(dict.fromkeys(k for k in key_set if k))
    _check_names(list(keys), "JSON key")
    return list(keys)


def _json_pointer(key: str) -> str:
    return "/" + key.replace("~", "~0").replace("/", "~1")


def _is_gzip(path: str) -> bool:
    with open(path, "rb") as file:
        return file.read(2) == b"\x1f\x8b"


def _first_char(path: str) -> str:
    """The first character of a (possibly gzipped) JSON document, past a BOM and whitespace."""
    opener: Any = gzip.open if _is_gzip(path) else open
    with opener(path, "rb") as file:
        while chunk := file.read(4096):
            text = chunk.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
            if text:
                return str(text[0])
    return ""


# --- Excel --------------------------------------------------------------------------------


def read_xlsx(con: duckdb.DuckDBPyConnection, paths: list[str], options: dict[str, Any]) -> None:
    """One sheet of each workbook; cells become text as stored, dates ISO 8601 text.

    Rows above ``header_row`` are skipped and rows with no value at all are left out
    (spreadsheets often carry blank formatted rows). Formulas give their cached value.
    """
    xlsx = options.get("xlsx") or {}
    sheet = xlsx.get("sheet")
    header_row = int(xlsx.get("header_row") or 1)
    if header_row < 1:
        raise ReadError(f"header_row must be 1 or more, not {header_row}")
    created = False
    for path in paths:
        for batch in _xlsx_batches(path, sheet, header_row):
            con.register("_xlsx_batch", batch)
            try:
                if not created:
                    con.execute("CREATE TEMP TABLE raw0 AS SELECT * FROM _xlsx_batch")
                    created = True
                else:
                    _add_missing_columns(con, batch.schema.names)
                    con.execute("INSERT INTO raw0 BY NAME SELECT * FROM _xlsx_batch")
            finally:
                con.unregister("_xlsx_batch")


def _xlsx_batches(path: str, sheet: str | int | None, header_row: int) -> Iterator[pa.Table]:
    """The sheet's rows as Arrow tables of text columns, a batch at a time."""
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a bad file
        raise ReadError(
            f"{_name(path)}: not a readable .xlsx workbook ({excerpt(error)})"
        ) from error
    try:
        worksheet = _worksheet(workbook, path, sheet)
        worksheet.reset_dimensions()  # trust the rows, not a possibly stale <dimension> tag
        rows = worksheet.iter_rows(min_row=header_row, values_only=True)
        header = next(rows, None)
        names = _header_names(list(header or ()))
        width = len(names)
        data = (r for r in rows if any(v is not None for v in r))
        yielded = False
        while batch := list(islice(data, _XLSX_BATCH_ROWS)):
            widest = max(len(r) for r in batch)
            if widest > width:
                names += [f"column{i}" for i in range(width, widest)]
                _check_names(names, "column")
                width = widest
            yield _xlsx_table(names, batch, path)
            yielded = True
        if not yielded:
            yield _xlsx_table(names, [], path)
    finally:
        workbook.close()


def _worksheet(workbook: Any, path: str, sheet: str | int | None) -> Any:
    names: list[str] = workbook.sheetnames
    if sheet is None:
        return workbook.worksheets[0]
    if isinstance(sheet, int) and not isinstance(sheet, bool):
        if 0 <= sheet < len(names):
            return workbook.worksheets[sheet]
    elif str(sheet) in names:
        return workbook[str(sheet)]
    raise ReadError(f"{_name(path)}: no sheet {sheet!r} (sheets: {listing(names)})")


def _header_names(header: list[Any]) -> list[str]:
    """Header cells as column names; an empty cell is ``column<i>``, a repeat gets ``_<n>``."""
    names: list[str] = []
    seen: set[str] = set()
    for index, value in enumerate(header):
        name = _cell_text(value) or f"column{index}"
        base, n = name, 0
        while name.lower() in seen:
            n += 1
            name = f"{base}_{n}"
        seen.add(name.lower())
        names.append(name)
    while names and names[-1] == f"column{len(names) - 1}":
        names.pop()  # trailing empty header cells are formatting, not columns
    _check_names(names, "column")
    return names


def _xlsx_table(names: list[str], rows: list[tuple[Any, ...]], path: str) -> pa.Table:
    width = len(names)
    columns = [
        pa.array([_cell_text(r[i]) if i < len(r) else None for r in rows], type=pa.string())
        for i in range(width)
    ]
    columns.append(pa.array([path] * len(rows), type=pa.string()))
    return pa.Table.from_arrays(columns, names=[*names, "filename"])


def _cell_text(value: Any) -> str | None:
    """A cell as text, with no type guessing: ints and text as written, floats by their
    shortest exact repr, booleans ``true``/``false``, dates and times ISO 8601."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        seconds = value.total_seconds()
        sign, seconds = ("-" if seconds < 0 else ""), abs(seconds)
        hours, rest = divmod(seconds, 3600)
        minutes, secs = divmod(rest, 60)
        return f"{sign}{int(hours):02d}:{int(minutes):02d}:{secs:09.6f}".rstrip("0").rstrip(".")
    return str(value)


def _add_missing_columns(con: duckdb.DuckDBPyConnection, names: Iterable[str]) -> None:
    present = {row[0].lower() for row in con.execute("DESCRIBE raw0").fetchall()}
    for name in names:
        if name.lower() not in present:
            con.execute(f"ALTER TABLE raw0 ADD COLUMN {_quote(name)} VARCHAR")


# --- helpers ------------------------------------------------------------------------------


def _check_names(names: list[str], what: str) -> None:
    """DuckDB column names ignore case, and ``filename`` is the staging table's own."""
    seen: dict[str, str] = {}
    for name in names:
        if name.lower() == "filename":
            raise ReadError(
                f"a {what} is named {quoted(name)}, which is reserved for the landed path"
            )
        if name.lower() in seen:
            raise ReadError(
                f"{what}s {quoted(seen[name.lower()])} and {quoted(name)} differ only in case; "
                "the warehouse cannot hold both"
            )
        seen[name.lower()] = name


def _name(path: str) -> str:
    return os.path.basename(path)


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
