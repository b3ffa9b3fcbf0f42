"""NYC 311 in two formats: a CSV export and a Socrata (SODA) JSON response, loaded through
the file connector into two datasets with the same clean schema.

KPI: share of requests closed by their due date, by agency and month of creation. Only
requests with a due date count (the SLA cannot be judged without one). Met: a closed date
that is neither before the creation (the ``1900-01-01`` sentinel, clock errors) nor after
the due date. The JSON sentinel record is still open in reality ("Assigned"), so counting
1900 as "closed on time" would flatter DOHMH.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from workspaces import (
    check_results,
    column_types,
    current_version,
    observations,
    open_workspace,
    query,
    raw_records,
    write_workspace,
)

from civicstat.governance.actors import operator
from civicstat.services import ingest as ingest_service
from civicstat.services.context import Context
from civicstat.services.ingest import IngestOutcome

CSV_TIMESTAMPS = "%m/%d/%Y %I:%M:%S %p"
# Clean name → CSV header. The JSON keys are the clean names themselves.
HEADERS = {
    "unique_key": "Unique Key",
    "created_date": "Created Date",
    "closed_date": "Closed Date",
    "agency": "Agency",
    "agency_name": "Agency Name",
    "complaint_type": "Complaint Type",
    "descriptor": "Descriptor",
    "location_type": "Location Type",
    "incident_zip": "Incident Zip",
    "incident_address": "Incident Address",
    "street_name": "Street Name",
    "cross_street_1": "Cross Street 1",
    "cross_street_2": "Cross Street 2",
    "intersection_street_1": "Intersection Street 1",
    "intersection_street_2": "Intersection Street 2",
    "address_type": "Address Type",
    "city": "City",
    "landmark": "Landmark",
    "facility_type": "Facility Type",
    "status": "Status",
    "due_date": "Due Date",
    "resolution_description": "Resolution Description",
    "resolution_action_updated_date": "Resolution Action Updated Date",
    "community_board": "Community Board",
    "bbl": "BBL",
    "borough": "Borough",
    "x_coordinate_state_plane": "X Coordinate (State Plane)",
    "y_coordinate_state_plane": "Y Coordinate (State Plane)",
    "open_data_channel_type": "Open Data Channel Type",
    "park_facility_name": "Park Facility Name",
    "park_borough": "Park Borough",
    "vehicle_type": "Vehicle Type",
    "taxi_company_borough": "Taxi Company Borough",
    "taxi_pick_up_location": "Taxi Pick Up Location",
    "bridge_highway_name": "Bridge Highway Name",
    "bridge_highway_direction": "Bridge Highway Direction",
    "road_ramp": "Road Ramp",
    "bridge_highway_segment": "Bridge Highway Segment",
    "latitude": "Latitude",
    "longitude": "Longitude",
    "location": "Location",
}
TYPES = {
    "created_date": "timestamp",
    "closed_date": "timestamp",
    "due_date": "timestamp",
    "resolution_action_updated_date": "timestamp",
    "x_coordinate_state_plane": "integer",
    "y_coordinate_state_plane": "integer",
    "latitude": "float",
    "longitude": "float",
}
SENTINEL = "closed_date IS NULL OR closed_date >= TIMESTAMP '2000-01-01 00:00:00'"
BEFORE_CREATION = "closed_date IS NULL OR closed_date >= created_date"
FAR_DUE = "due_date IS NULL OR due_date <= created_date + INTERVAL '365 days'"
BOROUGHS = ["BRONX", "BROOKLYN", "MANHATTAN", "QUEENS", "STATEN ISLAND"]
QUALITY: list[dict[str, Any]] = [
    {"check": "sql", "condition": SENTINEL, "severity": "warn"},
    {"check": "sql", "condition": BEFORE_CREATION, "severity": "warn"},
    {"check": "sql", "condition": FAR_DUE, "severity": "warn"},
    {"check": "accepted_values", "column": "borough", "values": BOROUGHS, "severity": "warn"},
    {"check": "unique", "columns": ["unique_key"]},
]


def declared(*, json_keys: bool) -> list[dict[str, str]]:
    out = []
    for name, header in HEADERS.items():
        column = {"name": name, "type": TYPES.get(name, "string")}
        if not json_keys:
            column["source_column"] = header
        out.append(column)
    return out


def csv_source(folder: Path) -> dict[str, Any]:
    return {
        "id": "nyc_311_csv",
        "options": {
            "path": str(folder / "311_Service_Requests.csv"),
            "csv": {"timestamp_format": CSV_TIMESTAMPS},
        },
        "columns": declared(json_keys=False),
        "quality": QUALITY,
    }


def json_source(folder: Path) -> dict[str, Any]:
    return {
        "id": "nyc_311_soda",
        "options": {"path": str(folder / "fhrw-4uyv.json"), "format": "json"},
        "columns": declared(json_keys=True),
        "quality": QUALITY,
    }


def measure(dataset: str) -> dict[str, Any]:
    return {
        "id": f"{dataset.replace('_', '-')}-closed-by-due-date",
        "dataset": dataset,
        "kind": "share",
        "filter": "due_date IS NOT NULL",
        "condition": "closed_date >= created_date AND closed_date <= due_date",
        "time": "created_date",
        "grain": "month",
        "breakdowns": ["agency"],
    }


@pytest.fixture(scope="module")
def folder(shared_data: Path) -> Path:
    return shared_data / "nyc-311"


@pytest.fixture(scope="module")
def raw_csv(folder: Path) -> list[dict[str, str]]:
    return list(raw_records(folder / "311_Service_Requests.csv"))


@pytest.fixture(scope="module")
def raw_json(folder: Path) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = json.loads((folder / "fhrw-4uyv.json").read_text("utf-8"))
    return records


@pytest.fixture(scope="module")
def loaded(
    folder: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Context, dict[str, IngestOutcome]]]:
    root = write_workspace(
        tmp_path_factory.mktemp("nyc") / "ws",
        [csv_source(folder), json_source(folder)],
        [measure("nyc_311_csv"), measure("nyc_311_soda")],
        timezone="America/New_York",
    )
    actor = operator("pytest")
    ctx = open_workspace(root, actor)
    try:
        yield (
            ctx,
            {s: ingest_service.ingest(ctx, actor, s) for s in ("nyc_311_csv", "nyc_311_soda")},
        )
    finally:
        ctx.close()


def csv_time(text: str) -> dt.datetime | None:
    return dt.datetime.strptime(text, CSV_TIMESTAMPS) if text else None


def json_time(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text) if text else None


def earlier(a: dt.datetime | None, b: dt.datetime | None) -> bool:
    """Both known and a < b."""
    return a is not None and b is not None and a < b


def test_csv_and_soda_json_load_whole(
    loaded: tuple[Context, dict[str, IngestOutcome]],
    raw_csv: list[dict[str, str]],
    raw_json: list[dict[str, Any]],
) -> None:
    _, outcomes = loaded
    for source_id, raw in (("nyc_311_csv", raw_csv), ("nyc_311_soda", raw_json)):
        result = outcomes[source_id].result
        assert result.status == "succeeded"
        assert result.version is not None
        assert result.version.row_count == len(raw) == 1_000  # SOURCES.md
        assert result.rows_quarantined == 0
    # Different samples: not one request is in both.
    assert not {r["Unique Key"] for r in raw_csv} & {r["unique_key"] for r in raw_json}


def test_both_formats_give_the_same_declared_columns_and_types(
    loaded: tuple[Context, dict[str, IngestOutcome]],
) -> None:
    ctx, _ = loaded
    csv_types = column_types(ctx, "nyc_311_csv")
    json_types = column_types(ctx, "nyc_311_soda")
    assert {n: csv_types[n] for n in HEADERS} == {n: json_types[n] for n in HEADERS}
    assert csv_types["created_date"] == "TIMESTAMP"
    assert csv_types["latitude"] == "DOUBLE"


def test_csv_am_pm_and_json_iso_timestamps_are_the_same_local_times(
    loaded: tuple[Context, dict[str, IngestOutcome]],
    raw_csv: list[dict[str, str]],
    raw_json: list[dict[str, Any]],
) -> None:
    ctx, _ = loaded
    for column, header in (("created_date", "Created Date"), ("due_date", "Due Date")):
        expected = collections.Counter(csv_time(r[header]) for r in raw_csv)
        got = query(ctx, "nyc_311_csv", f"SELECT {column}, count(*) FROM t GROUP BY 1")  # noqa: S608
        assert dict(got) == expected, column
        expected = collections.Counter(json_time(r.get(column)) for r in raw_json)
        got = query(ctx, "nyc_311_soda", f"SELECT {column}, count(*) FROM t GROUP BY 1")  # noqa: S608
        assert dict(got) == expected, column
    # No offset in either: naive local New York times, not shifted to UTC.
    got = query(ctx, "nyc_311_soda", "SELECT created_date FROM t WHERE unique_key = '24445308'")
    assert got == [(dt.datetime(2012, 11, 20, 7, 50, 59),)]


def test_keys_omitted_from_json_records_are_null(
    loaded: tuple[Context, dict[str, IngestOutcome]], raw_json: list[dict[str, Any]]
) -> None:
    ctx, _ = loaded
    key_sets = {frozenset(r) for r in raw_json}
    assert len(key_sets) > 1  # records really differ in their keys
    for name in HEADERS:
        missing = sum(1 for r in raw_json if r.get(name) is None)
        got = query(ctx, "nyc_311_soda", f"SELECT count(*) FROM t WHERE {name} IS NULL")  # noqa: S608
        assert got == [(missing,)], name
    assert sum("due_date" not in r for r in raw_json) == 715  # SOURCES.md


def test_a_declared_key_soda_omitted_from_every_record_is_an_all_null_column(
    loaded: tuple[Context, dict[str, IngestOutcome]],
    raw_csv: list[dict[str, str]],
    raw_json: list[dict[str, Any]],
) -> None:
    """No JSON record has ``landmark`` (SODA leaves out null keys): the JSON dataset still
    has the column, all NULL, so both datasets keep one schema; no run error."""
    ctx, _ = loaded
    assert not any("landmark" in r for r in raw_json)
    assert any(r["Landmark"] for r in raw_csv)
    assert query(ctx, "nyc_311_soda", "SELECT count(*), count(landmark) FROM t") == [(1_000, 0)]
    assert column_types(ctx, "nyc_311_soda")["landmark"] == "VARCHAR"


def test_due_dates_are_missing_for_most_requests_and_left_out_of_the_kpi(
    loaded: tuple[Context, dict[str, IngestOutcome]], raw_csv: list[dict[str, str]]
) -> None:
    ctx, _ = loaded
    assert sum(r["Due Date"] == "" for r in raw_csv) == 514  # SOURCES.md
    got = observations(ctx, "nyc-311-csv-closed-by-due-date")
    assert sum(o.denominator or 0 for (_, s), o in got.items() if s == "") == 1_000 - 514


def test_computed_region_keys_are_reported_as_unclassified_drift(
    loaded: tuple[Context, dict[str, IngestOutcome]], raw_json: list[dict[str, Any]]
) -> None:
    ctx, outcomes = loaded
    regions = sorted({k for r in raw_json for k in r if k.startswith(":@computed_region_")})
    assert len(regions) == 5  # SOURCES.md
    warnings = [w for w in outcomes["nyc_311_soda"].result.warnings if w.startswith("new column")]
    assert len(warnings) == 5
    for key in regions:
        assert any(repr(key) in w and "unclassified" in w for w in warnings), key
    version = current_version(ctx, "nyc_311_soda")
    drift = sorted(c["source_column"] for c in version.columns if c.get("declared") == "false")
    assert drift == regions
    assert not [w for w in outcomes["nyc_311_csv"].result.warnings if w.startswith("new column")]


def test_geojson_location_is_kept_as_json_text(
    loaded: tuple[Context, dict[str, IngestOutcome]], raw_json: list[dict[str, Any]]
) -> None:
    ctx, _ = loaded
    got = query(ctx, "nyc_311_soda", "SELECT unique_key, location FROM t")
    expected = {r["unique_key"]: r["location"] for r in raw_json}
    assert {key: json.loads(text) for key, text in got} == expected
    csv_location = query(
        ctx, "nyc_311_csv", "SELECT count(*) FROM t WHERE location NOT LIKE '(%, %)'"
    )
    assert csv_location == [(0,)]


def test_1900_sentinel_closed_date_is_flagged_and_never_counts_as_on_time(
    loaded: tuple[Context, dict[str, IngestOutcome]], raw_json: list[dict[str, Any]]
) -> None:
    ctx, outcomes = loaded
    sentinel = [r for r in raw_json if r.get("closed_date", "").startswith("1900-")]
    assert len(sentinel) == 1
    assert sentinel[0]["agency"] == "DOHMH"
    result = check_results(ctx, outcomes["nyc_311_soda"].result.run_id)[("sql", SENTINEL)]
    assert (result.severity, result.passed, result.failing_rows) == ("warn", False, 1)
    assert check_results(ctx, outcomes["nyc_311_csv"].result.run_id)[("sql", SENTINEL)].passed
    # Kept as given (the steward sees it), but not a closure on time.
    record = sentinel[0]
    got = query(
        ctx,
        "nyc_311_soda",
        "SELECT closed_date, due_date FROM t WHERE unique_key = $1",
        [record["unique_key"]],
    )
    assert got == [(dt.datetime(1900, 1, 1), json_time(record["due_date"]))]
    created = json_time(record["created_date"])
    assert created is not None
    key = (created.strftime("%Y-%m-01"), "agency=DOHMH")
    obs = observations(ctx, "nyc-311-soda-closed-by-due-date")[key]

    def closed_on_time(r: dict[str, Any]) -> bool:
        opened, closed, due = (
            json_time(r.get(k)) for k in ("created_date", "closed_date", "due_date")
        )
        return None not in (opened, closed, due) and opened <= closed <= due  # type: ignore[operator]

    same_cell = [
        r
        for r in raw_json
        if r["agency"] == "DOHMH" and r.get("due_date") and r["created_date"][:7] == key[0][:7]
    ]
    assert record in same_cell
    assert not closed_on_time(record)
    assert obs.denominator == len(same_cell)
    assert obs.numerator == sum(map(closed_on_time, same_cell))


def test_closes_before_creation_are_flagged_by_a_warn_check(
    loaded: tuple[Context, dict[str, IngestOutcome]],
    raw_csv: list[dict[str, str]],
    raw_json: list[dict[str, Any]],
) -> None:
    ctx, outcomes = loaded
    before_csv = [
        r for r in raw_csv if earlier(csv_time(r["Closed Date"]), csv_time(r["Created Date"]))
    ]
    same_csv = [r for r in raw_csv if r["Closed Date"] and r["Closed Date"] == r["Created Date"]]
    before_json = [
        r
        for r in raw_json
        if earlier(json_time(r.get("closed_date")), json_time(r["created_date"]))
    ]
    assert (len(before_csv), len(same_csv), len(before_json)) == (10, 48, 7)  # SOURCES.md
    for source_id, expected in (("nyc_311_csv", 10), ("nyc_311_soda", 7)):
        result = check_results(ctx, outcomes[source_id].result.run_id)[("sql", BEFORE_CREATION)]
        assert (result.severity, result.passed, result.failing_rows) == ("warn", False, expected)
        assert outcomes[source_id].result.status == "succeeded"  # warn: published anyway


def test_due_dates_years_after_creation_are_flagged_by_a_warn_check(
    loaded: tuple[Context, dict[str, IngestOutcome]], raw_csv: list[dict[str, str]]
) -> None:
    ctx, outcomes = loaded
    far = []
    for r in raw_csv:
        created, due = csv_time(r["Created Date"]), csv_time(r["Due Date"])
        if created is not None and due is not None and due > created + dt.timedelta(days=365):
            far.append(r)
    assert far
    result = check_results(ctx, outcomes["nyc_311_csv"].result.run_id)[("sql", FAR_DUE)]
    assert (result.passed, result.failing_rows) == (False, len(far))
    assert check_results(ctx, outcomes["nyc_311_soda"].result.run_id)[("sql", FAR_DUE)].passed


def test_unspecified_borough_is_kept_as_a_value_and_reported(
    loaded: tuple[Context, dict[str, IngestOutcome]], raw_csv: list[dict[str, str]]
) -> None:
    ctx, outcomes = loaded
    unspecified = sum(r["Borough"] == "Unspecified" for r in raw_csv)
    assert unspecified > 0
    result = check_results(ctx, outcomes["nyc_311_csv"].result.run_id)[
        ("accepted_values", "borough")
    ]
    assert (result.severity, result.passed, result.failing_rows) == ("warn", False, unspecified)
    assert "'Unspecified'" in result.detail
    got = query(ctx, "nyc_311_csv", "SELECT count(*) FROM t WHERE borough = 'Unspecified'")
    assert got == [(unspecified,)]


Times = tuple[str, dt.datetime | None, dt.datetime | None, dt.datetime | None]


def closed_by_due_by_hand(records: list[Times]) -> dict[tuple[str, str], tuple[int, int]]:
    """(agency, created, closed, due) → (month, slice) → (met, total)."""
    counts: dict[tuple[str, str], list[int]] = collections.defaultdict(lambda: [0, 0])
    for agency, created, closed, due in records:
        if due is None or created is None:
            continue
        met = closed is not None and created <= closed <= due
        month = created.strftime("%Y-%m-01")
        for key in ((month, ""), (month, f"agency={agency}")):
            counts[key][0] += met
            counts[key][1] += 1
    return {k: (m, t) for k, (m, t) in counts.items()}


def test_share_closed_by_due_date_by_agency_matches_a_hand_computation(
    loaded: tuple[Context, dict[str, IngestOutcome]],
    raw_csv: list[dict[str, str]],
    raw_json: list[dict[str, Any]],
) -> None:
    ctx, _ = loaded
    from_csv = [
        (
            r["Agency"],
            csv_time(r["Created Date"]),
            csv_time(r["Closed Date"]),
            csv_time(r["Due Date"]),
        )
        for r in raw_csv
    ]
    from_json = [
        (
            r["agency"],
            json_time(r["created_date"]),
            json_time(r.get("closed_date")),
            json_time(r.get("due_date")),
        )
        for r in raw_json
    ]
    for measure_id, records in (
        ("nyc-311-csv-closed-by-due-date", from_csv),
        ("nyc-311-soda-closed-by-due-date", from_json),
    ):
        expected = closed_by_due_by_hand(records)
        got = observations(ctx, measure_id)
        assert set(got) == set(expected), measure_id
        for key, (met, total) in expected.items():
            assert (got[key].numerator, got[key].denominator) == (met, total), (measure_id, key)
            assert got[key].value == 100 * met / total
    csv_total = closed_by_due_by_hand(from_csv)
    met = sum(m for (_, s), (m, _) in csv_total.items() if s == "")
    total = sum(t for (_, s), (_, t) in csv_total.items() if s == "")
    assert 0.85 < met / total < 0.93  # SOURCES.md: about 89% where a due date exists
