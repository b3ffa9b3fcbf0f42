"""DECC 911 phone data (9 weekly files of hourly call-answer buckets): each quirk, and the
KPI "% of 911 calls answered within 10 s" per week as a ratio of summed counts.

A ``share`` measure counts rows meeting a condition; it cannot weight by the counts in a
row, so the weekly KPI is computed with DuckDB over the published version's Parquet files
and compared with a plain-Python computation over the raw CSVs.
"""

from __future__ import annotations

import collections
import datetime as dt
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from workspaces import (
    check_results,
    column_types,
    current_version,
    open_workspace,
    quarantined,
    query,
    raw_lines,
    raw_records,
    run_record,
    write_workspace,
)

from civicstat.governance.actors import Actor, operator
from civicstat.metadata.models import QualityResult
from civicstat.pipeline.runner import IngestError
from civicstat.services import ingest as ingest_service
from civicstat.services.context import Context
from civicstat.services.ingest import IngestOutcome

BUCKETS = ["10", "15", "20", "40", "60", "120", "121"]  # answered in 0-10 s, 11-15 s, ...
TIMESTAMP_FORMAT = "%m/%d/%Y %H:%M"
# Excel wrote #DIV/0! for the abandoned share of two hours with no 911 call (week 47).
NULLS = ["", "#DIV/0!"]
# The Sunday that starts the DECC week of hour_start, in SQL.
SUNDAY = "CAST(date_trunc('week', hour_start + INTERVAL 1 DAY) - INTERVAL 1 DAY AS DATE)"


def clean_name(header: str) -> str:
    """``911_PCT_10`` → ``e911_pct_10``; ``PCT_ADM_15`` (sic) → ``adm_pct_15``."""
    if header == "PCT_ADM_15":
        return "adm_pct_15"
    name = header.lower()
    return f"e{name}" if name[0].isdigit() else name


def source_spec(folder: Path, *, severity: str = "warn", **csv: Any) -> dict[str, Any]:
    header = raw_lines(folder / "week_44_phone.csv")[0]
    columns: list[dict[str, str]] = [
        {"name": "hour_start", "type": "timestamp", "source_column": "DateTime"},
        {"name": "hour", "type": "integer", "source_column": "Hour"},
    ]
    for name in header[2:]:
        kind = "float" if "PCT" in name else "integer"
        columns.append({"name": clean_name(name), "type": kind, "source_column": name})
    return {
        "id": "phone_answer_times",
        "title": "DECC hourly call-answer buckets",
        "options": {
            "path": f"{folder}/week_*_phone.csv",
            "csv": {"timestamp_format": TIMESTAMP_FORMAT, "null_values": NULLS, **csv},
        },
        "columns": columns,
        # One row per hour: a repeated hour means a day was exported under the wrong date.
        "quality": [{"check": "unique", "columns": ["hour_start"], "severity": severity}],
    }


@pytest.fixture(scope="module")
def folder(shared_data: Path) -> Path:
    return shared_data / "decc-911" / "phone"


@pytest.fixture(scope="module")
def raw(folder: Path) -> list[dict[str, str]]:
    return [
        {**record, "_file": path.name}
        for path in sorted(folder.glob("week_*_phone.csv"))
        for record in raw_records(path)
    ]


def ingest_once(
    root: Path, source: dict[str, Any], actor: Actor
) -> tuple[Context, IngestOutcome | IngestError]:
    ctx = open_workspace(write_workspace(root, [source]), actor)
    try:
        return ctx, ingest_service.ingest(ctx, actor, source["id"])
    except IngestError as error:
        return ctx, error


@pytest.fixture(scope="module")
def loaded(
    folder: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Context, IngestOutcome]]:
    ctx, outcome = ingest_once(
        tmp_path_factory.mktemp("phone") / "ws", source_spec(folder), operator("pytest")
    )
    try:
        assert isinstance(outcome, IngestOutcome), outcome
        yield ctx, outcome
    finally:
        ctx.close()


def parsed(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, TIMESTAMP_FORMAT)


def sunday_week(moment: dt.datetime) -> dt.date:
    """The DECC's weeks run Sunday to Saturday."""
    day = moment.date()
    return day - dt.timedelta(days=(day.weekday() + 1) % 7)


def test_nine_weeks_of_hourly_buckets_load_whole(
    loaded: tuple[Context, IngestOutcome], raw: list[dict[str, str]]
) -> None:
    _ctx, outcome = loaded
    assert outcome.result.status == "succeeded"
    assert outcome.result.version is not None
    assert outcome.result.version.row_count == len(raw) == 1_512  # SOURCES.md
    assert outcome.result.rows_quarantined == 0
    assert collections.Counter(r["_file"] for r in raw) == dict.fromkeys(
        [f"week_{n}_phone.csv" for n in range(44, 53)], 168
    )


def test_bom_before_the_first_header_is_not_part_of_its_name(
    loaded: tuple[Context, IngestOutcome], folder: Path
) -> None:
    ctx, outcome = loaded
    assert all(p.read_bytes().startswith(b"\xef\xbb\xbfDateTime,") for p in folder.glob("*.csv"))
    # Had the BOM stayed in the name, 'DateTime' would be missing and the run would fail;
    # or the header would come in as an undeclared drift column.
    assert not [w for w in outcome.result.warnings if w.startswith("new column")]
    version = current_version(ctx, "phone_answer_times")
    assert all(c.get("declared") != "false" for c in version.columns)
    assert query(ctx, "phone_answer_times", "SELECT count(hour_start) FROM t") == [(1_512,)]


def test_unpadded_month_day_hour_timestamps_parse_with_the_declared_format(
    loaded: tuple[Context, IngestOutcome], raw: list[dict[str, str]]
) -> None:
    ctx, _ = loaded
    assert any(len(r["DateTime"]) < len("12/07/2025 00:00") for r in raw)
    expected = collections.Counter(parsed(r["DateTime"]) for r in raw)
    got = query(ctx, "phone_answer_times", "SELECT hour_start, count(*) FROM t GROUP BY 1")
    assert dict(got) == expected
    assert column_types(ctx, "phone_answer_times")["hour_start"] == "TIMESTAMP"


def test_without_the_timestamp_format_every_row_is_quarantined_and_the_run_fails(
    folder: Path, tmp_path: Path
) -> None:
    """A performance office must not get a dataset of NULL times: past the bad-row
    threshold the run fails, nothing is published, and the reason names the column."""
    source = source_spec(folder)
    source["options"]["csv"].pop("timestamp_format")
    ctx, outcome = ingest_once(tmp_path / "ws", source, operator("pytest"))
    try:
        assert isinstance(outcome, IngestError)
        assert "do not fit the declared schema" in str(outcome)
        assert "hour_start" in str(outcome)
        run = run_record(ctx, outcome.run_id)
        assert (run.status, run.data_version_id) == ("failed", None)
        bad = quarantined(ctx, outcome.run_id)
        assert len(bad) == 1_512
        assert {b.column for b in bad} == {"DateTime"}
        first = bad[0]
        assert (first.file, first.line) == ("week_44_phone.csv", 2)
        assert "hour_start" in first.reason
        assert "10/26/2025 0:00" in first.reason
    finally:
        ctx.close()


def test_hour_text_00_to_23_is_read_as_the_hour_number(
    loaded: tuple[Context, IngestOutcome], raw: list[dict[str, str]]
) -> None:
    ctx, _ = loaded
    assert {r["Hour"] for r in raw} == {f"{h:02d}" for h in range(24)}
    mismatched = query(
        ctx, "phone_answer_times", "SELECT count(*) FROM t WHERE hour <> hour(hour_start)"
    )
    assert mismatched == [(0,)]


def test_inconsistent_header_pct_adm_15_is_mapped_to_a_consistent_name(
    loaded: tuple[Context, IngestOutcome], raw: list[dict[str, str]]
) -> None:
    ctx, _ = loaded
    types = column_types(ctx, "phone_answer_times")
    assert "adm_pct_15" in types
    assert "pct_adm_15" not in types
    expected = sum(Fraction(r["PCT_ADM_15"]) for r in raw)
    got = query(ctx, "phone_answer_times", "SELECT sum(adm_pct_15::DECIMAL(18, 4)) FROM t")
    assert Fraction(got[0][0]) == expected


def test_mislabeled_day_in_week_50_is_reported_and_lands_in_the_week_its_date_names(
    loaded: tuple[Context, IngestOutcome], raw: list[dict[str, str]]
) -> None:
    """week_50_phone.csv calls 12/10/2025 "12/3/2025". CivicStat loads what the data says:
    those 24 hours repeat week 49's 12/3 and 12/10 is missing. The unique check on the
    hour (warn) names the repeated hours, so the office sees that weeks 49 and 50 are
    wrong before anyone reads them; the other weeks stay published."""
    ctx, outcome = loaded
    week50 = [r["DateTime"] for r in raw if r["_file"] == "week_50_phone.csv"]
    assert sorted({d.split(" ")[0] for d in week50}) == [
        "12/11/2025", "12/12/2025", "12/13/2025", "12/3/2025", "12/7/2025", "12/8/2025",
        "12/9/2025",
    ]  # fmt: skip
    result = check_results(ctx, outcome.result.run_id)[("unique", "hour_start")]
    assert (result.severity, result.passed, result.failing_rows) == ("warn", False, 48)
    assert "24 duplicated values" in result.detail
    assert "2025-12-03 00:00:00" in result.detail
    assert any(w.startswith("check unique hour_start") for w in outcome.result.warnings)
    per_day = dict(
        query(
            ctx,
            "phone_answer_times",
            "SELECT CAST(hour_start AS DATE), count(*) FROM t "
            "WHERE hour_start BETWEEN '2025-12-01' AND '2025-12-12' GROUP BY 1",
        )
    )
    assert per_day[dt.date(2025, 12, 3)] == 48
    assert dt.date(2025, 12, 10) not in per_day
    weeks = dict(
        query(
            ctx,
            "phone_answer_times",
            f"SELECT {SUNDAY}, count(*) FROM t GROUP BY 1",  # noqa: S608
        )
    )
    assert (weeks[dt.date(2025, 11, 30)], weeks[dt.date(2025, 12, 7)]) == (192, 144)
    assert {
        n for w, n in weeks.items() if w not in (dt.date(2025, 11, 30), dt.date(2025, 12, 7))
    } == {168}


def test_mislabeled_day_fails_the_run_when_the_check_is_an_error(
    folder: Path, tmp_path: Path
) -> None:
    """An office that would rather publish nothing than a wrong week declares the check
    with severity error: the run fails naming the check, and the check's result says which
    hours repeat (the run's error quotes no value: it is shown to whoever reads runs)."""
    ctx, outcome = ingest_once(
        tmp_path / "ws", source_spec(folder, severity="error"), operator("pytest")
    )
    try:
        assert isinstance(outcome, IngestError)
        assert "unique hour_start: failed on 48 rows" in str(outcome)
        assert "2025-12-03" not in str(outcome)
        with ctx.db.session() as session:
            result = session.scalars(
                select(QualityResult).where(
                    QualityResult.run_id == outcome.run_id, QualityResult.check == "unique"
                )
            ).one()
        assert not result.passed
        assert "2025-12-03" in result.detail
        assert run_record(ctx, outcome.run_id).data_version_id is None
    finally:
        ctx.close()


def test_dst_day_has_exactly_24_hours(loaded: tuple[Context, IngestOutcome]) -> None:
    ctx, _ = loaded
    got = query(
        ctx,
        "phone_answer_times",
        "SELECT count(*), count(DISTINCT hour) FROM t "
        "WHERE CAST(hour_start AS DATE) = '2025-11-02'",
    )
    assert got == [(24, 24)]


def test_percentages_are_zero_not_blank_when_no_call_was_answered(
    loaded: tuple[Context, IngestOutcome], raw: list[dict[str, str]]
) -> None:
    ctx, _ = loaded
    idle = [r for r in raw if sum(int(r[f"911_{b}"]) for b in BUCKETS) == 0]
    assert idle
    assert all(r["911_PCT_10"] == "0" for r in idle)
    answered = " + ".join(f"e911_{b}" for b in BUCKETS)
    got = query(
        ctx,
        "phone_answer_times",
        f"SELECT count(*), count(e911_pct_10), sum(e911_pct_10) FROM t WHERE {answered} = 0",  # noqa: S608
    )
    assert got == [(len(idle), len(idle), 0.0)]


def test_spreadsheet_division_errors_are_null_and_keep_their_hour(
    loaded: tuple[Context, IngestOutcome], raw: list[dict[str, str]]
) -> None:
    """Not in SOURCES.md: two hours of week 47 had no 911 call at all and Excel wrote
    ``#DIV/0!`` as their abandoned share. Declared as a null marker, the hour is kept (its
    admin calls count) with a NULL share, instead of the whole hour being quarantined."""
    ctx, _ = loaded
    errors = [r for r in raw if r["911_PCT_AB"] == "#DIV/0!"]
    assert [(r["_file"], r["DateTime"]) for r in errors] == [
        ("week_47_phone.csv", "11/17/2025 4:00"),
        ("week_47_phone.csv", "11/21/2025 4:00"),
    ]
    got = query(
        ctx,
        "phone_answer_times",
        "SELECT hour_start, e911_t, adm_t FROM t WHERE e911_pct_ab IS NULL ORDER BY 1",
    )
    assert got == [(parsed(r["DateTime"]), 0, int(r["ADM_T"])) for r in errors]


def weekly_shares_by_hand(
    raw: list[dict[str, str]], week_of: Any
) -> dict[Any, dict[int, Fraction]]:
    """Per week: answered within 10, 15, 20 s ÷ answered, summing counts (buckets are
    exclusive, so 'within 15 s' is the 0-10 and 11-15 buckets together)."""
    sums: dict[Any, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for r in raw:
        week = week_of(r)
        for bucket in BUCKETS:
            sums[week][bucket] += int(r[f"911_{bucket}"])
    out = {}
    for week, counts in sums.items():
        answered = sum(counts.values())
        out[week] = {
            limit: Fraction(sum(counts[b] for b in BUCKETS[: i + 1]), answered)
            for i, limit in enumerate((10, 15, 20))
        }
    return out


def test_weekly_share_of_911_calls_answered_within_10_15_20_seconds(
    loaded: tuple[Context, IngestOutcome], raw: list[dict[str, str]]
) -> None:
    ctx, _ = loaded
    expected = weekly_shares_by_hand(raw, lambda r: sunday_week(parsed(r["DateTime"])))
    answered = " + ".join(f"e911_{b}" for b in BUCKETS)
    got = query(
        ctx,
        "phone_answer_times",
        f"SELECT {SUNDAY}, sum(e911_10), sum(e911_10 + e911_15), "  # noqa: S608
        f"sum(e911_10 + e911_15 + e911_20), sum({answered}) FROM t GROUP BY 1",
    )
    warehouse = {
        week: {10: Fraction(w10, n), 15: Fraction(w15, n), 20: Fraction(w20, n)}
        for week, w10, w15, w20, n in got
    }
    assert warehouse == expected
    assert len(warehouse) == 9


def test_weekly_kpi_sums_counts_and_never_averages_the_pct_columns(
    raw: list[dict[str, str]],
) -> None:
    """The analyst's own weeks (one per file) land between 85.0% and 90.9% (SOURCES.md)
    only when counts are summed; the mean of the hourly PCT columns is a different number."""
    by_file = weekly_shares_by_hand(raw, lambda r: r["_file"])
    assert {f"{float(s[10]):.1%}" for s in by_file.values()} >= {"85.0%", "90.9%"}
    assert all(Fraction(8495, 10000) <= s[10] < Fraction(9095, 10000) for s in by_file.values())
    pct = collections.defaultdict(list)
    for r in raw:
        pct[r["_file"]].append(float(r["911_PCT_10"]))
    means = {week: sum(v) / len(v) for week, v in pct.items()}
    assert all(abs(means[w] - float(by_file[w][10])) > 0.001 for w in by_file)
