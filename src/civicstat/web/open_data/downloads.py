"""Whole public datasets as CSV, JSON and Parquet, streamed through the governed read.

``/portal/datasets/{id}/rows.csv|rows.json|rows.parquet``, and Socrata's
``/api/views/{id}/rows.csv|rows.json`` as aliases: every row the public may read (no
10,000-row cap), written batch by batch as the client reads, so memory stays bounded
whatever the dataset's size. CSV cells a spreadsheet would run as formulas are quoted;
JSON is an array of objects with JSON's own numbers and booleans, timestamps in ISO 8601.
"""

from __future__ import annotations

import datetime as dt
import decimal
import io
import json
import math
from collections.abc import Iterator
from typing import Any

import pyarrow.parquet as pq
from fastapi import APIRouter
from fastapi.responses import Response, StreamingResponse

from civicstat.services import soda as soda_service
from civicstat.services.errors import NotFound
from civicstat.web.deps import Ctx
from civicstat.web.open_data import _socrata
from civicstat.web.open_data.soda import not_found

router = APIRouter()
_MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "parquet": "application/vnd.apache.parquet",
}


@router.get("/portal/datasets/{dataset_id}/rows.csv")
@router.get("/api/views/{dataset_id}/rows.csv")
def rows_csv(dataset_id: str, ctx: Ctx) -> Response:
    """The whole dataset as CSV (Socrata's address too)."""
    return _download(ctx, dataset_id, "csv")


@router.get("/portal/datasets/{dataset_id}/rows.json")
@router.get("/api/views/{dataset_id}/rows.json")
def rows_json(dataset_id: str, ctx: Ctx) -> Response:
    """The whole dataset as a JSON array of objects (Socrata's address too)."""
    return _download(ctx, dataset_id, "json")


@router.get("/portal/datasets/{dataset_id}/rows.parquet")
def rows_parquet(dataset_id: str, ctx: Ctx) -> Response:
    """The whole dataset as Parquet."""
    return _download(ctx, dataset_id, "parquet")


def _download(ctx: Ctx, dataset_id: str, extension: str) -> Response:
    try:
        found = soda_service.download(ctx, dataset_id)
    except NotFound:
        return not_found(dataset_id)
    writer = {"csv": _csv, "json": _json, "parquet": _parquet}[extension]
    headers = _socrata.caching(found.dataset) | {
        "Content-Disposition": f'attachment; filename="{dataset_id}.{extension}"',
        "X-SODA2-Fields": json.dumps(found.columns),
        "X-SODA2-Types": json.dumps(found.types),
    }
    return StreamingResponse(writer(found), media_type=_MEDIA[extension], headers=headers)


def _csv(found: soda_service.Download) -> Iterator[bytes]:
    yield _socrata.csv_line(found.columns).encode()
    for batch in found.batches:
        lines = (_socrata.csv_line(row.values()) for row in batch.to_pylist())
        yield "".join(lines).encode()


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _json(found: soda_service.Download) -> Iterator[bytes]:
    yield b"["
    first = True
    for batch in found.batches:
        parts = []
        for row in batch.to_pylist():
            text = json.dumps({k: _plain(v) for k, v in row.items()})
            parts.append(text if first else "," + text)
            first = False
        yield ("\n".join(parts) + "\n").encode()
    yield b"]\n"


class _Chunks(io.RawIOBase):
    """A write-only file whose written bytes are taken away after each row group."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.parts.append(chunk)
        self.position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self.position

    def take(self) -> bytes:
        taken, self.parts = b"".join(self.parts), []
        return taken


def _parquet(found: soda_service.Download) -> Iterator[bytes]:
    sink = _Chunks()
    writer: pq.ParquetWriter | None = None
    for batch in found.batches:
        if writer is None:
            writer = pq.ParquetWriter(sink, batch.schema)
        writer.write_table(batch)
        yield sink.take()
    if writer is None:  # no rows: a file with the columns only
        writer = pq.ParquetWriter(sink, found.schema)
    writer.close()
    yield sink.take()
