"""Whole public datasets as CSV, JSON and Parquet: every row (past any page's cap), read in
bounded batches, the same as the source file says, and safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from soda_helpers import PLACES, PUBLIC_REQUEST_COLUMNS, SECRET_NAME, publish, requests_csv

from civicstat.governance.actors import Actor
from civicstat.services import open_data, soda
from civicstat.services.context import Context

BIG = 25_000  # more rows than the governed page (10,000) or a SODA page (50,000 is the max)


@pytest.fixture
def web(
    example_ctx: Context,
    example_root: Path,
    admin: Actor,
    make_client: Callable[[Context], TestClient],
) -> TestClient:
    publish(example_ctx, example_root, admin, big=BIG)
    return make_client(example_ctx)


def _time(text: str) -> str:
    return dt.datetime.fromisoformat(text).isoformat(timespec="milliseconds") if text else ""


def test_csv_holds_every_row_as_the_source_says(web: TestClient, example_root: Path) -> None:
    response = web.get("/portal/datasets/service_requests/rows.csv")
    assert response.status_code == 200
    got = list(csv.reader(io.StringIO(response.text)))
    assert got[0] == PUBLIC_REQUEST_COLUMNS
    times = {"created_at", "due_at", "closed_at"}
    expected = [
        [_time(r[c]) if c in times else r[c] for c in PUBLIC_REQUEST_COLUMNS]
        for r in requests_csv(example_root)
    ]
    assert sorted(got[1:]) == sorted(expected)
    alias = web.get("/api/views/service_requests/rows.csv")
    assert alias.text == response.text


def test_json_and_parquet_hold_the_same_rows(web: TestClient, example_root: Path) -> None:
    source = {r["request_id"]: r for r in requests_csv(example_root)}
    rows = web.get("/portal/datasets/service_requests/rows.json").json()
    assert sorted(r["request_id"] for r in rows) == sorted(source)
    for row in rows[:20]:
        assert row["created_at"] == source[row["request_id"]]["created_at"].replace(" ", "T")
    assert web.get("/api/views/service_requests/rows.json").json() == rows
    parquet = web.get("/portal/datasets/service_requests/rows.parquet")
    table = pq.read_table(io.BytesIO(parquet.content))
    assert table.column_names == PUBLIC_REQUEST_COLUMNS
    assert sorted(table.column("request_id").to_pylist()) == sorted(source)


def test_cells_a_spreadsheet_would_run_are_quoted(web: TestClient) -> None:
    text = web.get("/portal/datasets/places/rows.csv").text
    got = {r["place_id"]: r for r in csv.DictReader(io.StringIO(text))}
    for place_id, *_, visits, note, _active in PLACES:
        formula = note.startswith(("=", "+", "-", "@"))
        assert got[place_id]["note"] == ("'" + note if formula else note)
        assert got[place_id]["visits"] == str(visits)  # a negative number stays a number
    assert got["P1"]["longitude"] == "-122.41"
    assert SECRET_NAME not in text
    assert "owner_name" not in text


def test_a_download_is_not_capped_and_reads_in_bounded_batches(
    web: TestClient, example_ctx: Context
) -> None:
    download = soda.download(example_ctx, "big", batch=4_096)
    sizes, ids = [], []
    for batch in download.batches:
        sizes.append(batch.num_rows)
        ids += batch.column("row_id").to_pylist()
    assert max(sizes) == 4_096
    assert sum(sizes) == BIG
    assert sorted(ids) == [f"R{i:06d}" for i in range(BIG)]  # each row once
    lines = web.get("/portal/datasets/big/rows.csv").text.splitlines()
    assert len(lines) == BIG + 1
    assert len(set(lines)) == BIG + 1


def test_caching_headers_come_from_the_data_version(web: TestClient, example_ctx: Context) -> None:
    found = open_data.dataset(example_ctx, "service_requests")
    response = web.get("/portal/datasets/service_requests/rows.json")
    assert response.headers["ETag"] == f'"{found.etag}"'
    assert found.modified is not None
    http_date = found.modified.strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert response.headers["Last-Modified"] == http_date
    assert 'filename="service_requests.json"' in response.headers["Content-Disposition"]


def test_unknown_formats_and_datasets_are_404s(web: TestClient) -> None:
    for path in (
        "/portal/datasets/service_requests/rows.xlsx",
        "/api/views/service_requests/rows.parquet",
        "/portal/datasets/staff_notes/rows.csv",
        "/portal/datasets/nope/rows.json",
    ):
        assert web.get(path).status_code == 404, path
