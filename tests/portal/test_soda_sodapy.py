"""The unmodified ``sodapy`` client against a served workspace: ``get`` with where, select,
order and limit, ``get_all`` paging, ``get_metadata`` and ``datasets``, each compared with
the example's CSV read with Python's csv module."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from soda_helpers import PUBLIC_REQUEST_COLUMNS, publish, requests_csv, serve
from sodapy import Socrata

from civicstat.governance.actors import Actor
from civicstat.services.context import Context

K = 11  # the example's suppression threshold (governance.yaml)


@pytest.fixture
def client(
    example_ctx: Context, example_root: Path, admin: Actor, database_url: str
) -> Iterator[Socrata]:
    publish(example_ctx, example_root, admin)
    for address in serve(example_ctx, database_url):
        # sodapy speaks https unless given an adapter for another scheme: its own option.
        adapter = {"prefix": "http://", "adapter": requests.adapters.HTTPAdapter()}
        with Socrata(address, None, session_adapter=adapter) as socrata:
            yield socrata


def _soda_time(text: str) -> str:
    """The CSV's "2025-01-01 07:39:29" as Socrata writes a floating timestamp."""
    return dt.datetime.fromisoformat(text).isoformat(timespec="milliseconds")


def test_get_with_where_select_order_limit(client: Socrata, example_root: Path) -> None:
    got = client.get(
        "service_requests",
        select="request_id, district, created_at",
        where="district = 'north' AND created_at >= '2025-03-01T00:00:00'",
        order="created_at DESC",
        limit=5,
    )
    rows = [
        r for r in requests_csv(example_root)
        if r["district"] == "north" and r["created_at"] >= "2025-03-01 00:00:00"
    ]  # fmt: skip
    rows.sort(key=lambda r: r["created_at"], reverse=True)
    assert got == [
        {
            "request_id": r["request_id"],
            "district": "north",
            "created_at": _soda_time(r["created_at"]),
        }
        for r in rows[:5]
    ]


def test_get_returns_every_public_column_and_omits_nulls(
    client: Socrata, example_root: Path
) -> None:
    got = client.get("service_requests", where="closed_at IS NULL", order="request_id")
    expected = sorted(
        (r for r in requests_csv(example_root) if not r["closed_at"]), key=lambda r: r["request_id"]
    )
    assert [g["request_id"] for g in got] == [r["request_id"] for r in expected]
    assert all("closed_at" not in g for g in got)  # Socrata leaves a null field out
    assert set(got[0]) == set(PUBLIC_REQUEST_COLUMNS) - {"closed_at"}


def test_get_all_pages_through_every_row(client: Socrata, example_root: Path) -> None:
    got = list(client.get_all("service_requests", limit=70))
    ids = [g["request_id"] for g in got]
    assert len(ids) == len(set(ids)) == 300
    assert set(ids) == {r["request_id"] for r in requests_csv(example_root)}
    potholes = list(client.get_all("service_requests", where="request_type = 'pothole'", limit=25))
    assert len(potholes) == sum(r["request_type"] == "pothole" for r in requests_csv(example_root))


def test_grouped_counts_pass_suppression(client: Socrata, example_root: Path) -> None:
    got = client.get(
        "service_requests",
        select="request_type, district, count(*) AS n",
        group="request_type, district",
        order="request_type, district",
    )
    counts = Counter((r["request_type"], r["district"]) for r in requests_csv(example_root))
    expected = [
        {"request_type": t, "district": d} | ({"n": str(n)} if n >= K else {})
        for (t, d), n in sorted(counts.items())
    ]
    assert got == expected
    assert any(n < K for n in counts.values())  # the test does hide some cells


def test_a_whole_query_in_one_statement(client: Socrata, example_root: Path) -> None:
    got = client.get(
        "service_requests",
        query="SELECT district, count(*) AS n WHERE district != 'west' GROUP BY district "
        "ORDER BY district LIMIT 3",
    )
    counts = Counter(r["district"] for r in requests_csv(example_root) if r["district"] != "west")
    assert got == [{"district": d, "n": str(n)} for d, n in sorted(counts.items())[:3]]


def test_csv_with_simple_filter_and_full_text(client: Socrata, example_root: Path) -> None:
    got = client.get("service_requests", content_type="csv", district="east", q="GRAFFITI")
    expected = [
        r for r in requests_csv(example_root)
        if r["district"] == "east" and r["request_type"] == "graffiti"
    ]  # fmt: skip
    assert got[0] == PUBLIC_REQUEST_COLUMNS
    assert sorted(g[0] for g in got[1:]) == sorted(r["request_id"] for r in expected)


def test_get_metadata_describes_the_public_columns(client: Socrata) -> None:
    meta = client.get_metadata("service_requests")
    assert meta["id"] == "service_requests"
    assert meta["name"] == "311 service requests"
    assert [c["fieldName"] for c in meta["columns"]] == PUBLIC_REQUEST_COLUMNS
    types = {c["fieldName"]: c["dataTypeName"] for c in meta["columns"]}
    assert types["created_at"] == "floating_timestamp"
    assert types["district"] == "text"
    places = client.get_metadata("places")
    assert "owner_name" not in [c["fieldName"] for c in places["columns"]]


def test_datasets_lists_the_public_catalog_only(client: Socrata) -> None:
    found = client.datasets()
    assert sorted(d["resource"]["id"] for d in found) == ["places", "service_requests"]
    assert [d["resource"]["name"] for d in client.datasets(q="311")] == ["311 service requests"]
    assert [d["resource"]["id"] for d in client.datasets(limit=1, offset=1)] == ["service_requests"]
    assert [d["resource"]["id"] for d in client.datasets(tags=["places"])] == ["places"]


def test_a_bad_query_is_a_400_with_socratas_message(client: Socrata) -> None:
    with pytest.raises(requests.HTTPError) as refused:
        client.get("service_requests", where="nope = 1")
    assert refused.value.response.status_code == 400
    assert "no such column: 'nope'" in str(refused.value)
    with pytest.raises(requests.HTTPError) as missing:
        client.get("staff_notes")
    assert missing.value.response.status_code == 404
