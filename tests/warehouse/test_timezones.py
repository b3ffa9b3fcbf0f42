"""Timestamps are stored as the workspace's local wall-clock time, so periods bucket in
the city's time: a source's declared zone and a value's own UTC offset are converted."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from civicstat.governance.actors import Actor
from civicstat.services import ingest as ingest_service
from civicstat.services import workspace as workspace_service
from civicstat.services.context import Context
from civicstat.spec.models import Column
from civicstat.warehouse import loader
from civicstat.warehouse.loader import Input, LoadError

NEW_YORK = "America/New_York"


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def load(
    tmp_path: Path,
    body: str,
    *,
    zone: str | None = None,
    local: str = NEW_YORK,
    fmt: str = "csv",
    options: dict[str, Any] | None = None,
) -> tuple[list[Any], loader.Pulled]:
    """Load one payload with an ``id`` and an ``at`` timestamp column; the stored rows."""
    path = tmp_path / f"payload.{fmt}"
    path.write_text(body, encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    con = loader.connect()
    columns = [
        Column(name="id", type="integer"),
        Column(name="at", type="timestamp", timezone=zone),
    ]
    pulled = loader.pull(
        con, [Input(path, path.name, fmt)], columns, options or {}, out, local=local
    )
    rows = con.execute('SELECT "at" FROM pulled ORDER BY id').fetchall()
    return [row[0] for row in rows], pulled


def test_a_utc_source_in_a_new_york_workspace_puts_3am_utc_on_march_1_into_february_29(
    tmp_path: Path,
) -> None:
    stored, _ = load(tmp_path, "id,at\n1,2024-03-01 03:00:00\n2,2024-03-01 05:00:00\n", zone="UTC")
    assert stored == [at("2024-02-29T22:00:00"), at("2024-03-01T00:00:00")]


def test_the_spring_forward_edge_of_march_10_2024(tmp_path: Path) -> None:
    body = "id,at\n1,2024-03-10 06:59:59\n2,2024-03-10 07:00:00\n3,2024-03-10 12:00:00\n"
    stored, _ = load(tmp_path, body, zone="UTC")
    # 02:00 to 03:00 local does not exist that night: EST (UTC-5) until 07:00 UTC, then EDT.
    assert stored == [
        at("2024-03-10T01:59:59"),
        at("2024-03-10T03:00:00"),
        at("2024-03-10T08:00:00"),
    ]


def test_the_fall_back_edge_of_november_3_2024(tmp_path: Path) -> None:
    body = "id,at\n1,2024-11-03 05:30:00\n2,2024-11-03 06:30:00\n3,2024-11-03 07:30:00\n"
    stored, _ = load(tmp_path, body, zone="UTC")
    # 01:00 to 02:00 local happens twice: first in EDT (UTC-4), then again in EST (UTC-5).
    assert stored == [
        at("2024-11-03T01:30:00"),
        at("2024-11-03T01:30:00"),
        at("2024-11-03T02:30:00"),
    ]


def test_a_local_source_zone_is_converted_to_the_workspaces(tmp_path: Path) -> None:
    stored, _ = load(tmp_path, "id,at\n1,2024-03-01 00:30:00\n", zone="America/Chicago")
    assert stored == [at("2024-03-01T01:30:00")]


def test_values_with_a_utc_offset_are_converted_by_their_offset(tmp_path: Path) -> None:
    body = (
        "id,at\n"
        "1,2024-03-10T07:30:00Z\n"
        "2,2024-03-10 07:30:00+00:00\n"
        "3,2024-03-10 07:30:00-05:00\n"
        "4,2024-03-10 01:30:00\n"  # no offset: in the column's zone
    )
    stored, _ = load(tmp_path, body, zone="America/Chicago")
    assert stored == [
        at("2024-03-10T03:30:00"),
        at("2024-03-10T03:30:00"),
        at("2024-03-10T08:30:00"),
        at("2024-03-10T03:30:00"),
    ]


def test_offsets_are_converted_in_a_column_without_a_timezone(tmp_path: Path) -> None:
    stored, _ = load(tmp_path, "id,at\n1,2024-03-01T03:00:00Z\n2,2024-03-01 12:00:00\n")
    # The offset says when; a value without one is already local time.
    assert stored == [at("2024-02-29T22:00:00"), at("2024-03-01T12:00:00")]


def test_no_timezone_and_no_offset_is_kept_as_written(tmp_path: Path) -> None:
    stored, _ = load(tmp_path, "id,at\n1,2024-03-10 02:30:00\n2,2024-11-03 01:30:00\n")
    assert stored == [at("2024-03-10T02:30:00"), at("2024-11-03T01:30:00")]


def test_a_value_that_is_not_a_timestamp_is_quarantined_as_before(tmp_path: Path) -> None:
    stored, pulled = load(tmp_path, "id,at\n1,2024-03-01T03:00:00Z\n2,soon\n", zone="UTC")
    assert stored == [at("2024-02-29T22:00:00")]
    (bad,) = pulled.bad_rows
    assert (bad.line, bad.column, bad.reason) == (
        3,
        "at",
        "column 'at': 'soon' is not a valid timestamp",
    )


def test_a_timestamp_format_is_read_in_the_columns_zone(tmp_path: Path) -> None:
    csv = {"csv": {"timestamp_format": "%m/%d/%Y %H:%M"}}
    stored, _ = load(tmp_path, "id,at\n1,03/01/2024 03:00\n", zone="UTC", options=csv)
    assert stored == [at("2024-02-29T22:00:00")]
    with_offset = {"csv": {"timestamp_format": "%m/%d/%Y %H:%M %z"}}
    stored, _ = load(tmp_path, "id,at\n1,03/01/2024 03:00 -0500\n", options=with_offset)
    assert stored == [at("2024-03-01T03:00:00")]


def test_json_values_are_converted_value_by_value(tmp_path: Path) -> None:
    records = [
        {"id": 1, "at": "2024-03-01T03:00:00Z"},
        {"id": 2, "at": "2024-03-01T03:00:00"},  # in the column's zone, UTC
        {"id": 3, "at": "2024-03-01T03:00:00-08:00"},
    ]
    stored, _ = load(tmp_path, json.dumps(records), zone="UTC", fmt="json")
    assert stored == [
        at("2024-02-29T22:00:00"),
        at("2024-02-29T22:00:00"),
        at("2024-03-01T06:00:00"),
    ]


def test_one_csv_cannot_read_its_timestamps_in_two_zones(tmp_path: Path) -> None:
    path = tmp_path / "two.csv"
    path.write_text("a,b\n2024-03-01 03:00,2024-03-01 03:00\n", encoding="utf-8")
    columns = [
        Column(name="a", type="timestamp", timezone="UTC"),
        Column(name="b", type="timestamp", timezone="America/Chicago"),
    ]
    with pytest.raises(LoadError, match="different time zones"):
        loader.pull(
            loader.connect(), [Input(path, "two.csv", "csv")], columns, {}, tmp_path, local=NEW_YORK
        )


def test_timezone_is_for_timestamp_columns_and_known_zones() -> None:
    with pytest.raises(ValidationError, match="timezone applies to timestamp columns"):
        Column(name="d", type="date", timezone="UTC")
    with pytest.raises(ValidationError, match="unknown time zone 'Mars/Olympus'"):
        Column(name="t", type="timestamp", timezone="Mars/Olympus")


def test_an_ingest_stores_utc_source_times_as_the_citys_local_time(
    example_ctx: Context, admin: Actor
) -> None:
    """The example town is in America/Chicago; its 311 export is declared as UTC."""
    root = example_ctx.root
    spec_path = root / "sources" / "service_requests.yaml"
    spec = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
    for column in spec["columns"]:
        if column["name"] == "created_at":
            column["timezone"] = "UTC"
    spec_path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    data = root / "data" / "service_requests.csv"
    lines = data.read_text(encoding="utf-8").splitlines()
    first = lines[1].split(",")
    first[3] = "2025-03-01 03:00:00"
    lines[1] = ",".join(first)
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    workspace_service.apply(example_ctx, admin, root)

    outcome = ingest_service.ingest(example_ctx, admin, "service_requests", recompute=False)

    version = outcome.result.version
    assert version is not None
    con = loader.connect()
    files = [str(example_ctx.lake.path(f)) for f in version.files]
    row = con.execute(
        "SELECT created_at, due_at FROM read_parquet($files) WHERE request_id = $id",
        {"files": files, "id": first[0]},
    ).fetchone()
    # Chicago is UTC-6 in winter: 03:00 UTC on March 1 is 21:00 on February 28, local.
    # due_at declares no zone and is kept as written.
    assert row == (at("2025-02-28T21:00:00"), at(first[4]))
