"""Downloads as CSV that a spreadsheet opens as data, never as formulas.

A cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return would be run
as a formula by Excel or LibreOffice (CSV injection); such a cell is written with a
leading single quote. Numbers are written as numbers, so a negative value stays one.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from fastapi.responses import Response

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

Cell = str | int | float | bool | None


def safe_cell(value: Cell) -> str:
    """One cell as text; text a spreadsheet could take for a formula is quoted."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        writer.writerow([safe_cell(c) for c in row])
    return out.getvalue()


def csv_response(header: Sequence[str], rows: Iterable[Sequence[Cell]], filename: str) -> Response:
    return Response(
        to_csv(header, rows),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )
