"""Baltimore 311 sample (10,000 requests, 2014-2019): each quirk, and "% closed by due date"
per agency per month against a plain-Python computation.

KPI definition, with its exclusions written out:

- the request has a due date (286 have none: the SLA cannot be judged);
- duplicates and transfers (``SRStatus`` ending "(Duplicate)" or "(Transferred)") are out:
  the work was done, or judged, on another request;
- met: closed (``CloseDate`` present) on or before ``DueDate``. Open requests count as
  not met: this sample was exported in 2019, long after their due dates.
- a second measure also leaves out "Proactive" request types, which staff create
  themselves, to give the resident-reported figure.
"""

from __future__ import annotations

import collections
import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from workspaces import (
    check_results,
    column_types,
    columns,
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

TIMESTAMP_FORMAT = "%m/%d/%Y %I:%M:%S %p"
LEGACY_ID = re.compile(r"\d{2}-\d{8}")
PLACEHOLDER = "latitude IS NULL OR NOT (latitude = 39 AND longitude = -77)"
HEADERS = {
    "sr_record_id": "SRRecordID",
    "service_request_number": "ServiceRequestNum",
    "sr_type": "SRType",
    "method_received": "MethodReceived",
    "created_date": "CreatedDate",
    "sr_status": "SRStatus",
    "status_date": "StatusDate",
    "due_date": "DueDate",
    "close_date": "CloseDate",
    "agency": "Agency",
    "last_activity": "LastActivity",
    "last_activity_date": "LastActivityDate",
    "outcome": "Outcome",
    "address": "Address",
    "zip_code": "ZipCode",
    "neighborhood": "Neighborhood",
    "council_district": "CouncilDistrict",
    "police_district": "PoliceDistrict",
    "police_post": "PolicePost",
    "latitude": "Latitude",
    "longitude": "Longitude",
    "geo_location": "GeoLocation",
    "census_wards_precincts_region": "2010 Census Wards Precincts",
    "census_neighborhoods_region": "2010 Census Neighborhoods",
    "zip_codes_region": "Zip Codes",  # Socrata computed-region ids, not ZIP codes
    "days_open": "DaysOpen",
}
TYPES = {
    "created_date": "timestamp",
    "status_date": "timestamp",
    "due_date": "timestamp",
    "close_date": "timestamp",
    "last_activity_date": "timestamp",
    "council_district": "integer",
    "latitude": "float",
    "longitude": "float",
    "days_open": "integer",
}
# Both spellings of the negation, NOT (x LIKE p) and x NOT LIKE p, are tested below.
SLA_FILTER = (
    "due_date IS NOT NULL AND NOT (sr_status LIKE '%(Duplicate)') "
    "AND NOT (sr_status LIKE '%(Transferred)')"
)
SLA_CONDITION = "close_date IS NOT NULL AND close_date <= due_date"


def source_spec(path: Path) -> dict[str, Any]:
    return {
        "id": "baltimore_311",
        "title": "Baltimore 311 customer service requests (sample)",
        "options": {"path": str(path), "csv": {"timestamp_format": TIMESTAMP_FORMAT}},
        "columns": columns(HEADERS, **TYPES),
        "quality": [
            {"check": "sql", "condition": PLACEHOLDER, "severity": "warn"},
            {"check": "regex", "column": "zip_code", "pattern": r"\d{5}", "severity": "warn"},
            # The public request number survived the CRM migration: an error if it breaks.
            {"check": "regex", "column": "service_request_number", "pattern": r"\d{2}-\d{8}"},
            {"check": "unique", "columns": ["service_request_number"]},
        ],
    }


MEASURES = [
    {
        "id": "closed-by-due-date",
        "dataset": "baltimore_311",
        "kind": "share",
        "filter": SLA_FILTER,
        "condition": SLA_CONDITION,
        "time": "created_date",
        "grain": "month",
        "breakdowns": ["agency"],
    },
    {
        "id": "resident-requests-closed-by-due-date",
        "dataset": "baltimore_311",
        "kind": "share",
        "filter": f"{SLA_FILTER} AND NOT (sr_type LIKE '%Proactive%')",
        "condition": SLA_CONDITION,
        "time": "created_date",
        "grain": "month",
        "breakdowns": ["agency"],
    },
    {
        # The same as closed-by-due-date, as most people would write it.
        "id": "closed-by-due-date-not-like",
        "dataset": "baltimore_311",
        "kind": "share",
        "filter": (
            "due_date IS NOT NULL AND sr_status NOT LIKE '%(Duplicate)' "
            "AND sr_status NOT LIKE '%(Transferred)'"
        ),
        "condition": SLA_CONDITION,
        "time": "created_date",
        "grain": "month",
        "breakdowns": ["agency"],
    },
]


@pytest.fixture(scope="module")
def path(shared_data: Path) -> Path:
    return shared_data / "baltimore-311" / "311_sample.csv"


@pytest.fixture(scope="module")
def raw(path: Path) -> list[dict[str, str]]:
    return list(raw_records(path))


@pytest.fixture(scope="module")
def loaded(
    path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Context, IngestOutcome]]:
    root = write_workspace(
        tmp_path_factory.mktemp("baltimore") / "ws",
        [source_spec(path)],
        MEASURES,
        timezone="America/New_York",
    )
    actor = operator("pytest")
    ctx = open_workspace(root, actor)
    try:
        yield ctx, ingest_service.ingest(ctx, actor, "baltimore_311")
    finally:
        ctx.close()


def parsed(text: str) -> dt.datetime | None:
    return dt.datetime.strptime(text, TIMESTAMP_FORMAT) if text else None


def test_every_request_loads(
    loaded: tuple[Context, IngestOutcome], raw: list[dict[str, str]]
) -> None:
    ctx, outcome = loaded
    assert outcome.result.status == "succeeded"
    assert outcome.result.version is not None
    assert outcome.result.version.row_count == len(raw) == 10_000  # SOURCES.md
    assert outcome.result.rows_quarantined == 0
    results = check_results(ctx, outcome.result.run_id)
    assert results[("unique", "service_request_number")].passed


def test_am_pm_timestamps_become_24_hour_local_times(
    loaded: tuple[Context, IngestOutcome], raw: list[dict[str, str]]
) -> None:
    ctx, _ = loaded
    for header, column in (("CreatedDate", "created_date"), ("CloseDate", "close_date")):
        expected = collections.Counter(parsed(r[header]) for r in raw)
        got = query(ctx, "baltimore_311", f"SELECT {column}, count(*) FROM t GROUP BY 1")  # noqa: S608
        assert dict(got) == expected, column
    got = query(ctx, "baltimore_311", "SELECT min(created_date), max(created_date) FROM t")
    assert [(a.date(), b.date()) for a, b in got] == [
        (dt.date(2014, 1, 1), dt.date(2019, 2, 13))
    ]  # SOURCES.md


def test_both_record_id_formats_are_kept_as_text(
    loaded: tuple[Context, IngestOutcome], raw: list[dict[str, str]]
) -> None:
    """The CRM migration of 2018-08-24 changed SRRecordID from ``18-00269879`` to
    Salesforce ids such as ``5004100000j6t9wAAA``. Both stay text, unchanged, and the
    public request number stays the stable key across the migration."""
    ctx, outcome = loaded
    assert column_types(ctx, "baltimore_311")["sr_record_id"] == "VARCHAR"
    expected = collections.Counter(bool(LEGACY_ID.fullmatch(r["SRRecordID"])) for r in raw)
    assert expected == {True: 9_121, False: 879}  # SOURCES.md
    got = query(
        ctx,
        "baltimore_311",
        "SELECT regexp_full_match(sr_record_id, '\\d{2}-\\d{8}'), count(*) FROM t GROUP BY 1",
    )
    assert dict(got) == expected
    ids = {r[0] for r in query(ctx, "baltimore_311", "SELECT sr_record_id FROM t")}
    assert ids == {r["SRRecordID"] for r in raw}
    first_new = query(
        ctx,
        "baltimore_311",
        "SELECT min(created_date) FROM t "
        "WHERE NOT regexp_full_match(sr_record_id, '\\d{2}-\\d{8}')",
    )
    assert first_new[0][0].date() == dt.date(2018, 8, 24)
    regex = check_results(ctx, outcome.result.run_id)[("regex", "service_request_number")]
    assert regex.passed
    assert regex.severity == "error"


def test_empty_due_close_and_days_open_are_null(
    loaded: tuple[Context, IngestOutcome], raw: list[dict[str, str]]
) -> None:
    ctx, _ = loaded
    expected = tuple(sum(r[h] == "" for r in raw) for h in ("DueDate", "CloseDate", "DaysOpen"))
    assert expected == (286, 208, 208)  # SOURCES.md
    got = query(
        ctx,
        "baltimore_311",
        "SELECT count(*) FILTER (WHERE due_date IS NULL), "
        "count(*) FILTER (WHERE close_date IS NULL), "
        "count(*) FILTER (WHERE days_open IS NULL) FROM t",
    )
    assert got == [expected]
    always_empty = query(
        ctx,
        "baltimore_311",
        "SELECT count(last_activity), count(last_activity_date), count(outcome) FROM t",
    )
    assert always_empty == [(0, 0, 0)]


def test_zip_codes_are_text_and_never_float_like(
    loaded: tuple[Context, IngestOutcome], raw: list[dict[str, str]]
) -> None:
    """Pandas reads ZipCode as 21215.0 (a float column, because of the empty cells).
    Declared as text, each ZIP stays as written, and the values that are not a 5-digit
    ZIP (two ZIPs run together, a lone "0") are reported by a warn check."""
    ctx, outcome = loaded
    assert column_types(ctx, "baltimore_311")["zip_code"] == "VARCHAR"
    expected = collections.Counter(r["ZipCode"] or None for r in raw)
    assert dict(query(ctx, "baltimore_311", "SELECT zip_code, count(*) FROM t GROUP BY 1")) == (
        expected
    )
    assert query(ctx, "baltimore_311", "SELECT count(*) FROM t WHERE zip_code LIKE '%.0'") == [(0,)]
    odd = sum(1 for r in raw if r["ZipCode"] and not re.fullmatch(r"\d{5}", r["ZipCode"]))
    result = check_results(ctx, outcome.result.run_id)[("regex", "zip_code")]
    assert (result.severity, result.passed, result.failing_rows) == ("warn", False, odd)
    assert "'2122321223'" in result.detail


def test_placeholder_coordinates_are_flagged_by_a_warn_check(
    loaded: tuple[Context, IngestOutcome], raw: list[dict[str, str]]
) -> None:
    ctx, outcome = loaded
    placeholders = sum(1 for r in raw if (r["Latitude"], r["Longitude"]) == ("39", "-77"))
    missing = sum(1 for r in raw if r["Latitude"] == "")
    assert (placeholders, missing) == (885, 590)  # SOURCES.md
    result = check_results(ctx, outcome.result.run_id)[("sql", PLACEHOLDER)]
    assert (result.severity, result.passed, result.failing_rows) == ("warn", False, 885)
    assert any(w.startswith(f"check sql {PLACEHOLDER}") for w in outcome.result.warnings)
    # Flagged, not dropped: the requests still count in every KPI.
    got = query(
        ctx,
        "baltimore_311",
        "SELECT count(*) FILTER (WHERE latitude = 39 AND longitude = -77), "
        "count(*) FILTER (WHERE latitude IS NULL) FROM t",
    )
    assert got == [(885, 590)]


def closed_by_due_by_hand(
    raw: list[dict[str, str]], *, residents_only: bool
) -> dict[tuple[str, str], tuple[int, int]]:
    counts: dict[tuple[str, str], list[int]] = collections.defaultdict(lambda: [0, 0])
    for r in raw:
        due, closed = parsed(r["DueDate"]), parsed(r["CloseDate"])
        if due is None or r["SRStatus"].endswith(("(Duplicate)", "(Transferred)")):
            continue
        if residents_only and "Proactive" in r["SRType"]:
            continue
        month = r["CreatedDate"][6:10] + "-" + r["CreatedDate"][:2] + "-01"
        met = closed is not None and closed <= due
        for key in ((month, ""), (month, f"agency={r['Agency']}")):
            counts[key][0] += met
            counts[key][1] += 1
    return {key: (met, total) for key, (met, total) in counts.items()}


@pytest.mark.parametrize(
    ("measure_id", "residents_only"),
    [("closed-by-due-date", False), ("resident-requests-closed-by-due-date", True)],
)
def test_share_closed_by_due_date_per_agency_per_month_matches_a_hand_computation(
    loaded: tuple[Context, IngestOutcome],
    raw: list[dict[str, str]],
    measure_id: str,
    residents_only: bool,
) -> None:
    ctx, _ = loaded
    expected = closed_by_due_by_hand(raw, residents_only=residents_only)
    got = observations(ctx, measure_id)
    assert set(got) == set(expected)
    for key, (met, total) in expected.items():
        assert (got[key].numerator, got[key].denominator) == (met, total), key
        assert got[key].value == 100 * met / total
    months = [v for (_, s), v in expected.items() if s == ""]
    assert len(months) == 62  # SOURCES.md
    overall = sum(m for m, _ in months) / sum(t for _, t in months)
    assert 0.7 < overall < 0.9  # SOURCES.md: about 80%


def test_duplicates_transfers_and_proactive_requests_are_what_the_filters_leave_out(
    loaded: tuple[Context, IngestOutcome], raw: list[dict[str, str]]
) -> None:
    ctx, _ = loaded
    with_due = [r for r in raw if r["DueDate"]]
    duplicate_or_transfer = sum(
        r["SRStatus"].endswith(("(Duplicate)", "(Transferred)")) for r in with_due
    )
    proactive = sum(
        "Proactive" in r["SRType"]
        for r in with_due
        if not r["SRStatus"].endswith(("(Duplicate)", "(Transferred)"))
    )
    assert duplicate_or_transfer > 0
    assert proactive > 0
    everything = observations(ctx, "closed-by-due-date")
    residents = observations(ctx, "resident-requests-closed-by-due-date")
    total = sum(o.denominator or 0 for (_, s), o in everything.items() if s == "")
    resident_total = sum(o.denominator or 0 for (_, s), o in residents.items() if s == "")
    assert total == len(with_due) - duplicate_or_transfer
    assert resident_total == total - proactive


def test_not_like_in_a_measure_filter_leaves_the_matching_rows_out(
    loaded: tuple[Context, IngestOutcome],
) -> None:
    ctx, _ = loaded
    written_with_not = observations(ctx, "closed-by-due-date")
    written_with_not_like = observations(ctx, "closed-by-due-date-not-like")
    assert written_with_not
    assert {k: (o.numerator, o.denominator) for k, o in written_with_not_like.items()} == {
        k: (o.numerator, o.denominator) for k, o in written_with_not.items()
    }
