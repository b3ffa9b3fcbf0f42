"""DECC 911 CAD incidents (18 weekly .csv.gz files): what CivicStat does with each quirk.

One workspace declares all 50 columns of the usual layout under snake_case names, with
``NULL``, the empty string and the ``-9999`` elapsed-time sentinel as null markers. The 18
weeks are ingested once for the module; each test then checks one quirk of SOURCES.md
against the raw files, read independently with the standard library.
"""

from __future__ import annotations

import collections
import statistics
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
    raw_lines,
    raw_records,
    run_record,
    write_workspace,
)

from civicstat.governance.actors import Actor, operator
from civicstat.services import ingest as ingest_service
from civicstat.services.context import Context
from civicstat.services.ingest import IngestOutcome

pytestmark = pytest.mark.slow

TIMESTAMPS = [
    "Response_Date",
    "Incident_Start_Time",
    "TimeCallViewed",
    "Incident_Queue_Time",
    "Incident_Dispatch_Time",
    "Incident_Phone_Stop",
    "TimeFirstUnitDispatchAcknowledged",
    "Incident_Enroute_Time",
    "Incident_Arrival_Time",
    "TimeFirstCallCleared",
    "Incident_First_Close_Time",
    "First_Reopen_Time",
    "Final_Closed_Time",
]
INTEGERS = [
    "WeekNo",
    "Day",
    "Hour",
    "Priority_Number",
    "Time_To_Queue",
    "Elapsed_PS_Queue",
    "Time_To_Queue_Diff",
    "Time_To_Dispatch",
    "Elapsed_Queue_Disp",
    "Time_To_Disp_Diff",
    "Phone_Time",
    "Elapsed_PS_CTD",
    "Phone_Time_Diff",
    "Processing_Time",
    "Elapsed_Processing",
    "Diff_Proc_Time",
    "Rollout_Time",
    "Elapsed_Rollout",
    "Diff_Rollout_Time",
    "Transit_Time",
    "Elapsed_Transit",
    "Diff_Transit_Time",
    "Call_Reopened",
    "Total_Call_Time",
    "Elapsed_Call_Time",
    "Diff_Total_Call_Time",
]
# The usual 50-column layout, in file order: source header → clean name.
HEADERS = {
    "Master_Incident_Number": "incident_number",
    "Response_Date": "response_date",
    "WeekNo": "week_no",
    "DOW": "day_of_week",
    "Day": "day_of_month",
    "Hour": "hour",
    "Shift": "shift",
    "Day_Night": "day_night",
    "ShiftPart": "shift_part",
    "Agency": "agency",
    "Problem": "problem",
    "Priority_Number": "priority",
    "Call_Reception": "call_reception",
    "Call_Taker": "call_taker",
    "Dispatcher": "dispatcher",
    "Incident_Start_Time": "started_at",
    "TimeCallViewed": "call_viewed_at",
    "Incident_Queue_Time": "queued_at",
    "Time_To_Queue": "time_to_queue",
    "Elapsed_PS_Queue": "elapsed_ps_queue",
    "Time_To_Queue_Diff": "time_to_queue_diff",
    "Incident_Dispatch_Time": "dispatched_at",
    "Time_To_Dispatch": "time_to_dispatch",
    "Elapsed_Queue_Disp": "elapsed_queue_disp",
    "Time_To_Disp_Diff": "time_to_disp_diff",
    "Incident_Phone_Stop": "phone_stopped_at",
    "Phone_Time": "phone_time",
    "Elapsed_PS_CTD": "elapsed_ps_ctd",
    "Phone_Time_Diff": "phone_time_diff",
    "TimeFirstUnitDispatchAcknowledged": "dispatch_acknowledged_at",
    "Processing_Time": "processing_time",
    "Elapsed_Processing": "elapsed_processing",
    "Diff_Proc_Time": "diff_proc_time",
    "Incident_Enroute_Time": "enroute_at",
    "Rollout_Time": "rollout_time",
    "Elapsed_Rollout": "elapsed_rollout",
    "Diff_Rollout_Time": "diff_rollout_time",
    "Incident_Arrival_Time": "arrived_at",
    "Transit_Time": "transit_time",
    "Elapsed_Transit": "elapsed_transit",
    "Diff_Transit_Time": "diff_transit_time",
    "TimeFirstCallCleared": "first_cleared_at",
    "Incident_First_Close_Time": "first_closed_at",
    "Call_Reopened": "call_reopened",
    "First_Reopen_Time": "first_reopened_at",
    "Final_Closed_Time": "final_closed_at",
    "Total_Call_Time": "total_call_time",
    "Elapsed_Call_Time": "elapsed_call_time",
    "Diff_Total_Call_Time": "diff_total_call_time",
    "Disposition": "disposition",
}
WEEK40_EXTRA = [
    "Elapsed_CallRcvd2InQueue",
    "Elapsed_InQueue_2_FirstAssign",
    "Elapsed_CallRcvd2CalTakDone",
    "Elapsed_CallRcvd2FirstAssign",
    "Elapsed_Assigned2FirstEnroute",
    "Elapsed_Enroute2FirstAtScene",
    "Elapsed_CallRcvd2CallClosed",
]
MISSING = ("NULL", "", "-9999")
ONE_DAY = 86_400


def source_spec(cad: Path) -> dict[str, Any]:
    def kind(header: str) -> str:
        return (
            "timestamp" if header in TIMESTAMPS else "integer" if header in INTEGERS else "string"
        )

    return {
        "id": "cad_incidents",
        "title": "DECC CAD incidents",
        "classification": "confidential",
        "options": {"path": f"{cad}/week*.csv.gz", "csv": {"null_values": list(MISSING)}},
        "columns": [
            {"name": name, "type": kind(header), "source_column": header}
            for header, name in HEADERS.items()
        ],
        "quality": [
            {"check": "not_null", "columns": ["incident_number"], "severity": "warn"},
            {
                "check": "range",
                "column": "processing_time",
                "min": 0,
                "max": ONE_DAY,
                "severity": "warn",
            },
            {
                "check": "sql",
                "condition": "diff_proc_time IS NULL OR elapsed_processing IS NOT NULL",
                "severity": "warn",
            },
        ],
    }


MEASURES: list[dict[str, Any]] = [
    {
        # The -9999 sentinel must neither count as a fast time nor sit in the denominator.
        "id": "p1-elapsed-processing-60s",
        "dataset": "cad_incidents",
        "kind": "share",
        "filter": "priority = 1 AND elapsed_processing IS NOT NULL",
        "condition": "elapsed_processing <= 60",
        "time": "started_at",
        "grain": "month",
        "breakdowns": ["agency"],
    },
    {
        # Officer-initiated events have no call taking at all: they are left out.
        "id": "police-p1-processing-60s",
        "dataset": "cad_incidents",
        "kind": "share",
        "filter": "agency = 'POLICE' AND priority = 1 AND call_reception <> 'OFFICER'",
        "condition": "processing_time <= 60",
        "time": "started_at",
        "grain": "month",
    },
]


@pytest.fixture(scope="module")
def cad(shared_data: Path) -> Path:
    return shared_data / "decc-911" / "cad"


@pytest.fixture(scope="module")
def raw(cad: Path) -> list[dict[str, str]]:
    """Every incident of the 18 weeks as the csv module reads it, with its file's name."""
    rows = []
    for path in sorted(cad.glob("week*.csv.gz")):
        for record in raw_records(path):
            rows.append({**record, "_file": path.name})
    return rows


@pytest.fixture(scope="module")
def loaded(
    cad: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Context, IngestOutcome]]:
    root = write_workspace(tmp_path_factory.mktemp("decc-cad") / "ws", [source_spec(cad)], MEASURES)
    actor: Actor = operator("pytest")
    ctx = open_workspace(root, actor)
    try:
        yield ctx, ingest_service.ingest(ctx, actor, "cad_incidents")
    finally:
        ctx.close()


def _int(value: str) -> int | None:
    return None if value in MISSING else int(value)


def test_all_eighteen_weeks_load_into_one_dataset(
    loaded: tuple[Context, IngestOutcome], raw: list[dict[str, str]]
) -> None:
    ctx, outcome = loaded
    result = outcome.result
    assert result.status == "succeeded"
    assert len(result.raw_files) == 18
    assert result.version is not None
    assert result.version.row_count == len(raw) == 28_751  # SOURCES.md
    assert result.rows_quarantined == 0
    run = run_record(ctx, result.run_id)
    assert (run.rows_read, run.rows_loaded, run.rows_quarantined) == (28_751, 28_751, 0)
    by_week = collections.Counter(int(r["WeekNo"]) for r in raw)
    assert dict(query(ctx, "cad_incidents", "SELECT week_no, count(*) FROM t GROUP BY 1")) == (
        by_week
    )
    agencies = dict(query(ctx, "cad_incidents", "SELECT agency, count(*) FROM t GROUP BY 1"))
    assert agencies == {"POLICE": 18_989, "EMS": 6_644, "FIRE": 3_118}  # SOURCES.md


def test_week_40_columns_inserted_mid_file_are_matched_by_name(
    loaded: tuple[Context, IngestOutcome], raw: list[dict[str, str]]
) -> None:
    """Week 40's 8 extra columns sit in the middle: loading by position would shift every
    later column. Each declared column of week 40 must hold exactly its own header's values."""
    ctx, _ = loaded
    week40 = [r for r in raw if r["_file"] == "week40.csv.gz"]
    assert len(week40) > 1000
    numeric = [h for h in HEADERS if h in INTEGERS]
    expected = [(h, sum(v for r in week40 if (v := _int(r[h])) is not None)) for h in numeric]
    sums = ", ".join(f"sum({HEADERS[h]})" for h in numeric)
    got = query(ctx, "cad_incidents", f"SELECT {sums} FROM t WHERE week_no = 40")[0]  # noqa: S608
    assert list(zip(numeric, got, strict=True)) == expected
    texts = collections.Counter((r["Master_Incident_Number"], r["Disposition"]) for r in week40)
    got_texts = query(
        ctx,
        "cad_incidents",
        "SELECT coalesce(incident_number, ''), disposition, count(*) FROM t "
        "WHERE week_no = 40 GROUP BY ALL",
    )
    assert {(a, b): n for a, b, n in got_texts} == texts


def test_week_40_extra_columns_are_drift_loaded_as_text_and_reported_unclassified(
    loaded: tuple[Context, IngestOutcome], raw: list[dict[str, str]]
) -> None:
    ctx, outcome = loaded
    drift_warnings = [w for w in outcome.result.warnings if w.startswith("new column")]
    assert len(drift_warnings) == 8  # 7 new headers, one of them twice
    for header in WEEK40_EXTRA:
        assert any(f"{header!r}" in w and "unclassified" in w for w in drift_warnings), header
    version = current_version(ctx, "cad_incidents")
    undeclared = {c["name"]: c for c in version.columns if c.get("declared") == "false"}
    assert set(undeclared) == {
        "elapsed_callrcvd2inqueue",
        "elapsed_inqueue_2_firstassign",
        "elapsed_inqueue_2_firstassign_1",
        "elapsed_callrcvd2caltakdone",
        "elapsed_callrcvd2firstassign",
        "elapsed_assigned2firstenroute",
        "elapsed_enroute2firstatscene",
        "elapsed_callrcvd2callclosed",
    }
    types = column_types(ctx, "cad_incidents")
    assert {types[name] for name in undeclared} == {"VARCHAR"}
    # Only week 40's rows have values there; every other week's are NULL, not shifted in.
    filled = query(
        ctx,
        "cad_incidents",
        "SELECT week_no, count(*) FROM t WHERE elapsed_callrcvd2callclosed IS NOT NULL GROUP BY 1",
    )
    week40 = sum(
        1
        for r in raw
        if r["_file"] == "week40.csv.gz" and r["Elapsed_CallRcvd2CallClosed"] not in MISSING
    )
    assert filled == [(40, week40)]
    # HH:MM:SS text kept as written.
    sample = query(
        ctx,
        "cad_incidents",
        "SELECT elapsed_callrcvd2callclosed FROM t WHERE week_no = 40 AND "
        "elapsed_callrcvd2callclosed NOT IN ('NULL', '') LIMIT 50",
    )
    assert all(len(v.split(":")) == 3 for (v,) in sample)


def test_week_40_duplicated_header_keeps_each_copy_in_its_own_column(
    loaded: tuple[Context, IngestOutcome], cad: Path
) -> None:
    ctx, _ = loaded
    lines = raw_lines(cad / "week40.csv.gz")
    header = lines[0]
    first, second = (i for i, h in enumerate(header) if h == "Elapsed_InQueue_2_FirstAssign")
    expected = collections.Counter((row[first], row[second]) for row in lines[1:])
    assert (first, second) == (24, 34)  # one copy after Time_To_Dispatch, one after Processing_Time
    got = query(
        ctx,
        "cad_incidents",
        "SELECT elapsed_inqueue_2_firstassign, elapsed_inqueue_2_firstassign_1, count(*) "
        "FROM t WHERE week_no = 40 GROUP BY ALL",
    )
    assert {(a or "", b or ""): n for a, b, n in got} == expected


def test_null_strings_become_sql_null(
    loaded: tuple[Context, IngestOutcome], raw: list[dict[str, str]]
) -> None:
    ctx, _ = loaded
    for header in ("First_Reopen_Time", "Incident_Arrival_Time", "Dispatcher", "Phone_Time"):
        expected = sum(1 for r in raw if r[header] in MISSING)
        column = HEADERS[header]
        got = query(ctx, "cad_incidents", f"SELECT count(*) FROM t WHERE {column} IS NULL")  # noqa: S608
        assert got == [(expected,)], header
    first_reopen = query(
        ctx, "cad_incidents", "SELECT count(*) FROM t WHERE first_reopened_at IS NULL"
    )
    arrival = query(ctx, "cad_incidents", "SELECT count(*) FROM t WHERE arrived_at IS NULL")
    assert (first_reopen, arrival) == ([(28_180,)], [(3_343,)])  # SOURCES.md
    # No literal 'NULL' text survives in any text column.
    texts = [n for h, n in HEADERS.items() if h not in TIMESTAMPS and h not in INTEGERS]
    found = " + ".join(f"count(*) FILTER (WHERE {c} = 'NULL')" for c in texts)
    assert query(ctx, "cad_incidents", f"SELECT {found} FROM t") == [(0,)]  # noqa: S608


def test_minus_9999_elapsed_sentinel_is_null_and_never_counts_as_a_fast_time(
    loaded: tuple[Context, IngestOutcome], raw: list[dict[str, str]]
) -> None:
    ctx, _ = loaded
    sentinels = sum(1 for r in raw if r["Elapsed_Processing"] == "-9999")
    assert sentinels > 1000
    assert query(ctx, "cad_incidents", "SELECT min(elapsed_processing) FROM t")[0][0] >= 0
    nulls = sum(1 for r in raw if r["Elapsed_Processing"] in MISSING)
    assert query(
        ctx, "cad_incidents", "SELECT count(*) FROM t WHERE elapsed_processing IS NULL"
    ) == [(nulls,)]

    # The share of P1 incidents processed within 60 s, by month and agency, by hand:
    # sentinel and NULL rows are out of both numerator and denominator.
    counts: dict[tuple[str, str], list[int]] = collections.defaultdict(lambda: [0, 0])
    naive: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    for r in raw:
        if r["Priority_Number"] != "1":
            continue
        month = r["Incident_Start_Time"][:7] + "-01"
        value = r["Elapsed_Processing"]
        if value not in ("NULL", ""):
            naive[month][0] += int(int(value) <= 60)  # what reading -9999 as a number gives
            naive[month][1] += 1
        if value in MISSING:
            continue
        for key in ((month, ""), (month, f"agency={r['Agency']}")):
            counts[key][0] += int(int(value) <= 60)
            counts[key][1] += 1
    got = observations(ctx, "p1-elapsed-processing-60s")
    assert set(got) == set(counts)
    for key, (met, total) in counts.items():
        assert (got[key].numerator, got[key].denominator) == (met, total), key
        assert got[key].value == 100 * met / total
    # Had the sentinel been read as -9999 seconds, some months would look better than they are.
    assert any(naive[m][0] / naive[m][1] > counts[(m, "")][0] / counts[(m, "")][1] for m in naive)


def test_diff_columns_computed_against_the_sentinel_are_flagged_by_a_warn_check(
    loaded: tuple[Context, IngestOutcome], raw: list[dict[str, str]]
) -> None:
    """``Diff_Proc_Time`` = CAD value − recomputed value, and the recomputation was the
    -9999 sentinel: 9999 + x. CivicStat cannot tell such a number from a real one, so a
    warn check reports every row whose diff has no recomputed value behind it."""
    ctx, outcome = loaded
    unbacked = [
        r
        for r in raw
        if r["Elapsed_Processing"] in MISSING and r["Diff_Proc_Time"] not in ("NULL", "")
    ]
    sentinel = [r for r in unbacked if r["Elapsed_Processing"] == "-9999"]
    assert len(sentinel) > 1000
    assert all(int(r["Diff_Proc_Time"]) == int(r["Processing_Time"]) + 9999 for r in sentinel)
    condition = "diff_proc_time IS NULL OR elapsed_processing IS NOT NULL"
    result = check_results(ctx, outcome.result.run_id)[("sql", condition)]
    assert (result.severity, result.passed, result.failing_rows) == ("warn", False, len(unbacked))
    assert any(w.startswith(f"check sql {condition}") for w in outcome.result.warnings)


def test_empty_incident_numbers_are_kept_and_reported_by_a_warn_check(
    loaded: tuple[Context, IngestOutcome], raw: list[dict[str, str]]
) -> None:
    """Prisoner transports and similar have no incident number: they are real workload,
    so they are loaded (NULL id) and a warn check says how many."""
    ctx, outcome = loaded
    empty = [r for r in raw if r["Master_Incident_Number"] == ""]
    assert len(empty) == 11  # SOURCES.md
    result = check_results(ctx, outcome.result.run_id)[("not_null", "incident_number")]
    assert (result.passed, result.failing_rows, result.severity) == (False, 11, "warn")
    got = query(
        ctx,
        "cad_incidents",
        "SELECT problem, count(*) FROM t WHERE incident_number IS NULL GROUP BY 1",
    )
    assert dict(got) == collections.Counter(r["Problem"] for r in empty)


def test_timestamps_keep_their_milliseconds_with_or_without_them(
    loaded: tuple[Context, IngestOutcome], raw: list[dict[str, str]]
) -> None:
    ctx, _ = loaded
    expected = collections.Counter(
        r["Incident_Dispatch_Time"] for r in raw if r["Incident_Dispatch_Time"] not in MISSING
    )
    assert any(not v.endswith(".000") for v in expected)
    assert any(v.endswith(".000") for v in expected)
    got = query(
        ctx,
        "cad_incidents",
        "SELECT strftime(dispatched_at, '%Y-%m-%d %H:%M:%S.%g'), count(*) FROM t "
        "WHERE dispatched_at IS NOT NULL GROUP BY 1",
    )
    assert dict(got) == expected


def test_local_times_are_kept_as_written_across_the_dst_change(
    loaded: tuple[Context, IngestOutcome], raw: list[dict[str, str]]
) -> None:
    """2025-11-02 01:00–01:59 happened twice in US Eastern. The CAD writes naive local
    times; CivicStat keeps them as written (no zone applied, nothing shifted or dropped)."""
    ctx, _ = loaded
    expected = collections.Counter(
        int(r["Incident_Start_Time"][11:13])
        for r in raw
        if r["Incident_Start_Time"].startswith("2025-11-02")
    )
    assert expected[1] > 0
    got = query(
        ctx,
        "cad_incidents",
        "SELECT hour(started_at), count(*) FROM t "
        "WHERE started_at >= '2025-11-02' AND started_at < '2025-11-03' GROUP BY 1",
    )
    assert dict(got) == expected
    types = column_types(ctx, "cad_incidents")
    assert types["started_at"] == "TIMESTAMP"  # naive, not TIMESTAMP WITH TIME ZONE


def test_processing_time_outliers_are_kept_and_flagged_by_a_range_check(
    loaded: tuple[Context, IngestOutcome], raw: list[dict[str, str]]
) -> None:
    ctx, outcome = loaded
    values = [v for r in raw if (v := _int(r["Processing_Time"])) is not None]
    outside = [v for v in values if v < 0 or v > ONE_DAY]
    assert min(values) == -1_926
    assert max(values) == 418_758
    got = query(ctx, "cad_incidents", "SELECT min(processing_time), max(processing_time) FROM t")
    assert got == [(-1_926, 418_758)]
    result = check_results(ctx, outcome.result.run_id)[("range", "processing_time")]
    assert (result.passed, result.failing_rows, result.severity) == (False, len(outside), "warn")
    assert "-1926" in result.detail
    # The far outliers are deferred police reports ("... DELAY", "WARRANT ISSUED").
    deferred = query(
        ctx,
        "cad_incidents",
        "SELECT DISTINCT agency FROM t WHERE processing_time > $1",
        [ONE_DAY],
    )
    assert deferred == [("POLICE",)]


def test_officer_initiated_events_are_left_out_by_the_measure_filter(
    loaded: tuple[Context, IngestOutcome], raw: list[dict[str, str]]
) -> None:
    ctx, _ = loaded
    counts: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    with_officer: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    for r in raw:
        if r["Agency"] != "POLICE" or r["Priority_Number"] != "1":
            continue
        month = r["Incident_Start_Time"][:7] + "-01"
        processing = _int(r["Processing_Time"])
        met = processing is not None and processing <= 60
        with_officer[month][0] += met
        with_officer[month][1] += 1
        if r["Call_Reception"] == "OFFICER":
            continue
        counts[month][0] += met
        counts[month][1] += 1
    got = observations(ctx, "police-p1-processing-60s")
    assert {k: (o.numerator, o.denominator) for k, o in got.items()} == {
        (m, ""): (met, total) for m, (met, total) in counts.items()
    }
    # Officer-initiated events (zero call taking) would inflate the share.
    assert sum(v[0] for v in with_officer.values()) / sum(v[1] for v in with_officer.values()) > (
        sum(v[0] for v in counts.values()) / sum(v[1] for v in counts.values())
    )


def test_fire_automatic_dispatch_shows_as_near_zero_processing(
    loaded: tuple[Context, IngestOutcome], raw: list[dict[str, str]]
) -> None:
    """Priority-1 FIRE incidents are dispatched automatically: a median near 1 s is real,
    not a loading error, and each agency's median matches the raw file's."""
    ctx, _ = loaded
    medians = {}
    for agency in ("FIRE", "EMS", "POLICE"):
        values = [
            v
            for r in raw
            if r["Agency"] == agency
            and r["Priority_Number"] == "1"
            and (v := _int(r["Processing_Time"])) is not None
        ]
        got = query(
            ctx,
            "cad_incidents",
            "SELECT median(processing_time) FROM t WHERE agency = $1 AND priority = 1",
            [agency],
        )
        assert got[0][0] == statistics.median(values), agency
        medians[agency] = got[0][0]
    assert medians["FIRE"] <= 2 < medians["EMS"]  # SOURCES.md: FIRE about 1 s


def test_the_run_is_recorded_with_its_raw_files(
    loaded: tuple[Context, IngestOutcome], cad: Path
) -> None:
    ctx, outcome = loaded
    run = run_record(ctx, outcome.result.run_id)
    files = sorted(cad.glob("week*.csv.gz"))
    assert run.status == "succeeded"
    assert run.bytes_read == sum(p.stat().st_size for p in files)
    assert sorted(f.original_name for f in outcome.result.raw_files) == [p.name for p in files]
