"""Burlington (Ontario) building permits: each quirk, and "% of permits issued within 30
days of application" by permit type and month, against a plain-Python computation.

KPI definition: every permit in the file (only issued and finaled permits exist here:
refused or withdrawn applications never reach this export, a survivorship bias no spec
can fix) whose issue date is not before its application date (one permit is, by 93 days:
a data error, not a fast permit). Met: issued on or before application date + 30 days.
"""

from __future__ import annotations

import collections
import datetime as dt
import statistics
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

HEADERS = {
    "x": "X",
    "y": "Y",
    "object_id": "OBJECTID",
    "address": "ADDRESS",
    "folder_type": "FOLDERTYPE",
    "file_number": "FILENO",
    "applied_on": "INDATE",
    "issued_on": "ISSUEDATE",
    "work_description": "WORKDESC",
    "sub_description": "SUBDESC",
    "folder_status": "FOLDERSTATUSDESC",
    "reference_file": "REFERENCEFILE",
    "residential_units": "RESUNITS",
    "construction_value": "CONSTRUCTVALUE",
    "ward": "PROPINFOVALUE_WARD",
}
TYPES = {
    "x": "float",
    "y": "float",
    "object_id": "integer",
    "applied_on": "date",
    "issued_on": "date",
    "residential_units": "integer",
    "construction_value": "float",
    "ward": "integer",
}
ISSUED_BEFORE_APPLIED = "issued_on >= applied_on"


def source_spec(path: Path) -> dict[str, Any]:
    return {
        "id": "burlington_permits",
        "title": "Burlington building permits",
        "classification": "public",
        "options": {"path": str(path)},
        "columns": columns(HEADERS, **TYPES),
        "quality": [
            {"check": "unique", "columns": ["file_number"], "severity": "warn"},
            {"check": "sql", "condition": ISSUED_BEFORE_APPLIED, "severity": "warn"},
            {"check": "accepted_values", "column": "folder_status", "values": ["Issued", "Final"]},
            {"check": "not_null", "columns": ["applied_on", "issued_on"]},
        ],
    }


MEASURE = {
    "id": "permits-issued-within-30-days",
    "dataset": "burlington_permits",
    "kind": "share",
    "filter": ISSUED_BEFORE_APPLIED,
    "condition": "issued_on <= applied_on + INTERVAL '30 days'",
    "time": "applied_on",
    "grain": "month",
    "breakdowns": ["folder_type"],
}


@pytest.fixture(scope="module")
def path(shared_data: Path) -> Path:
    return shared_data / "burlington-permits" / "Building_Permits.csv"


@pytest.fixture(scope="module")
def raw(path: Path) -> list[dict[str, str]]:
    return list(raw_records(path))


@pytest.fixture(scope="module")
def loaded(
    path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Context, IngestOutcome]]:
    root = write_workspace(
        tmp_path_factory.mktemp("burlington") / "ws",
        [source_spec(path)],
        [MEASURE],
        timezone="America/Toronto",
    )
    actor = operator("pytest")
    ctx = open_workspace(root, actor)
    try:
        yield ctx, ingest_service.ingest(ctx, actor, "burlington_permits")
    finally:
        ctx.close()


def day(text: str) -> dt.date:
    """``2024/10/03 00:00:00+00`` → 2024-10-03: the text's own date."""
    return dt.date(int(text[0:4]), int(text[5:7]), int(text[8:10]))


def test_every_permit_loads(
    loaded: tuple[Context, IngestOutcome], raw: list[dict[str, str]]
) -> None:
    ctx, outcome = loaded
    assert outcome.result.status == "succeeded"
    assert outcome.result.version is not None
    assert outcome.result.version.row_count == len(raw) == 5_026  # SOURCES.md
    assert outcome.result.rows_quarantined == 0
    statuses = dict(
        query(ctx, "burlington_permits", "SELECT folder_status, count(*) FROM t GROUP BY 1")
    )
    assert statuses == {"Final": 3_460, "Issued": 1_566}  # SOURCES.md


def test_bom_before_the_first_header_is_not_part_of_its_name(
    loaded: tuple[Context, IngestOutcome], path: Path, raw: list[dict[str, str]]
) -> None:
    ctx, outcome = loaded
    assert path.read_bytes().startswith(b"\xef\xbb\xbfX,Y,")
    assert not [w for w in outcome.result.warnings if w.startswith("new column")]
    got = query(ctx, "burlington_permits", "SELECT sum(x) FROM t")
    assert got[0][0] == pytest.approx(sum(float(r["X"]) for r in raw), rel=1e-12)


def test_midnight_utc_values_are_read_as_the_dates_they_name(
    loaded: tuple[Context, IngestOutcome], raw: list[dict[str, str]]
) -> None:
    """``2024/10/03 00:00:00+00`` means "3 October"; in Toronto time that instant is
    2 October 20:00. Declared as ``date``, CivicStat keeps the date the text names."""
    ctx, _ = loaded
    assert {r["INDATE"][10:] for r in raw} == {" 00:00:00+00"}
    types = column_types(ctx, "burlington_permits")
    assert types["applied_on"] == types["issued_on"] == "DATE"
    for header, column in (("INDATE", "applied_on"), ("ISSUEDATE", "issued_on")):
        expected = collections.Counter(day(r[header]) for r in raw)
        got = query(ctx, "burlington_permits", f"SELECT {column}, count(*) FROM t GROUP BY 1")  # noqa: S608
        assert dict(got) == expected, column
    first = query(ctx, "burlington_permits", "SELECT applied_on FROM t WHERE object_id = 1")
    assert first == [(dt.date(2024, 10, 3),)]


def test_repeated_file_numbers_are_kept_and_reported_by_a_warn_unique_check(
    loaded: tuple[Context, IngestOutcome], raw: list[dict[str, str]]
) -> None:
    ctx, outcome = loaded
    per_file = collections.Counter(r["FILENO"] for r in raw)
    repeated = {f: n for f, n in per_file.items() if n > 1}
    assert len(raw) - len(per_file) == 356  # SOURCES.md: 356 repeats
    result = check_results(ctx, outcome.result.run_id)[("unique", "file_number")]
    assert (result.severity, result.passed) == ("warn", False)
    assert result.failing_rows == sum(repeated.values())
    assert f"{len(repeated)} duplicated values" in result.detail
    assert query(ctx, "burlington_permits", "SELECT count(DISTINCT file_number) FROM t") == [
        (len(per_file),)
    ]


def test_negative_duration_is_flagged_and_left_out_of_the_kpi(
    loaded: tuple[Context, IngestOutcome], raw: list[dict[str, str]]
) -> None:
    ctx, outcome = loaded
    negative = [r["FILENO"] for r in raw if day(r["ISSUEDATE"]) < day(r["INDATE"])]
    assert negative == ["22-000251"]  # SOURCES.md
    result = check_results(ctx, outcome.result.run_id)[("sql", ISSUED_BEFORE_APPLIED)]
    assert (result.severity, result.passed, result.failing_rows) == ("warn", False, 1)
    got = query(
        ctx,
        "burlington_permits",
        "SELECT issued_on - applied_on FROM t WHERE file_number = '22-000251'",
    )
    assert got == [(-93,)]
    observed = observations(ctx, "permits-issued-within-30-days")
    counted = sum(o.denominator or 0 for (_, s), o in observed.items() if s == "")
    assert counted == len(raw) - 1


def test_long_durations_are_kept(
    loaded: tuple[Context, IngestOutcome], raw: list[dict[str, str]]
) -> None:
    ctx, _ = loaded
    days = [(day(r["ISSUEDATE"]) - day(r["INDATE"])).days for r in raw]
    assert max(days) == 1_112  # SOURCES.md
    got = query(
        ctx,
        "burlington_permits",
        "SELECT max(issued_on - applied_on), median(issued_on - applied_on), "
        "quantile_cont(issued_on - applied_on, 0.75) FROM t",
    )
    assert got == [
        (1_112, statistics.median(days), statistics.quantiles(days, n=4, method="inclusive")[2])
    ]
    assert got[0][1] == 27  # SOURCES.md: median 27 days


def test_only_issued_and_final_permits_exist(
    loaded: tuple[Context, IngestOutcome],
) -> None:
    """Survivorship: the accepted_values check (error) passes, which is the point: a
    refused or withdrawn application would fail it, and with it the run."""
    ctx, outcome = loaded
    result = check_results(ctx, outcome.result.run_id)[("accepted_values", "folder_status")]
    assert (result.severity, result.passed) == ("error", True)


def test_trailing_spaces_in_addresses_are_kept_as_given(
    loaded: tuple[Context, IngestOutcome], raw: list[dict[str, str]]
) -> None:
    ctx, _ = loaded
    padded = sum(r["ADDRESS"] != r["ADDRESS"].rstrip() for r in raw)
    assert padded > 4_000
    expected = collections.Counter(r["ADDRESS"] for r in raw)
    assert (
        dict(query(ctx, "burlington_permits", "SELECT address, count(*) FROM t GROUP BY 1"))
        == expected
    )


def test_the_partial_current_year_is_loaded_as_it_is(
    loaded: tuple[Context, IngestOutcome], raw: list[dict[str, str]]
) -> None:
    ctx, _ = loaded
    expected = collections.Counter(day(r["INDATE"]).year for r in raw)
    assert expected == {2022: 607, 2023: 1_287, 2024: 1_378, 2025: 1_376, 2026: 378}  # SOURCES.md
    got = query(ctx, "burlington_permits", "SELECT year(applied_on), count(*) FROM t GROUP BY 1")
    assert dict(got) == expected
    assert query(ctx, "burlington_permits", "SELECT max(applied_on) FROM t") == [
        (dt.date(2026, 6, 4),)
    ]


def test_share_issued_within_30_days_by_permit_type_matches_a_hand_computation(
    loaded: tuple[Context, IngestOutcome], raw: list[dict[str, str]]
) -> None:
    ctx, _ = loaded
    counts: dict[tuple[str, str], list[int]] = collections.defaultdict(lambda: [0, 0])
    for r in raw:
        applied, issued = day(r["INDATE"]), day(r["ISSUEDATE"])
        if issued < applied:
            continue
        month = applied.replace(day=1).isoformat()
        met = (issued - applied).days <= 30
        for key in ((month, ""), (month, f"folder_type={r['FOLDERTYPE']}")):
            counts[key][0] += met
            counts[key][1] += 1
    got = observations(ctx, "permits-issued-within-30-days")
    assert set(got) == set(counts)
    for key, (hits, total) in counts.items():
        assert (got[key].numerator, got[key].denominator) == (hits, total), key
        assert got[key].value == 100 * hits / total
