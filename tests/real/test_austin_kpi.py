"""City of Austin performance-measure inventory (ePerf, FY2016) in its three forms: the
xlsx sheet, the derived plain-CSV dump of it, and the authors' malformed filtered CSV.

Decisions:

- The catalogue as text (every column ``string``) is the faithful copy: all 1,716 measures.
- Typed, the target/actual/monthly columns are ``float``. The catalogue's sentinel words
  (``No Data``, ``New Meas.``, ``No Goal``, ``No Session``, ``No Election``,
  ``No Cadet Class``) mean "no value" and are declared null markers. Anything else that is
  not a number (``Yes``/``No``, bond ratings such as ``AAA``) is not a quantity: the row is
  quarantined with its file, line, column and value, within the 5% default threshold.
- The filtered CSV has 26 rows with an unescaped quote: read tolerantly
  (``csv.strict: false``) every row is recovered; read strictly, those rows belong in the
  quarantine, with the physical line each record starts on.
"""

from __future__ import annotations

import collections
import csv
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from workspaces import (
    column_types,
    open_workspace,
    quarantined,
    query,
    raw_lines,
    run_record,
    write_workspace,
)

from civicstat.governance.actors import Actor, operator
from civicstat.pipeline.runner import IngestError
from civicstat.services import ingest as ingest_service
from civicstat.services import workspace as workspace_service
from civicstat.services.context import Context
from civicstat.services.ingest import IngestOutcome

XLSX = "2016_EPERF_DOWNLOAD_9-22-16.xlsx"
DERIVED = "eperf_measures_fy2016_from_xlsx.csv"
FILTERED = "2016_EPERF_DOWNLOAD_9-22-16_filtered.csv"
SENTINELS = ["No Data", "New Meas.", "No Goal", "No Session", "No Election", "No Cadet Class"]
NUMBERS = [
    "CFY_PROPOSED",
    "CFY_AMENDED",
    "CFY_APPROVED",
    "CFY_ACTUAL",
    "PFY1_AMENDED",
    "PFY1_ACTUAL",
    "PFY2_ACTUAL",
    "PFY3_ACTUAL",
    "PFY4_ACTUAL",
    "PFY5_ACTUAL",
    "OCT",
    "NOV",
    "DEC",
    "JAN",
    "FEB",
    "MAR",
    "APR",
    "MAY",
    "JUN",
    "JUL",
    "AUG",
    "SEP",
    "QTR1",
    "QTR2",
    "QTR3",
    "QTR4",
]
INTEGERS = [
    "ACTIVE",
    "INTERNAL",
    "AGENCY",
    "CATEGORY_ID",
    "LEVEL_ID",
    "MEASURE_ID",
    "KEY_PERFORMANCE",
    "FREQUENCY_ID",
    "CFY",
    "PFY1_DATA_ID",
    "PFY2_DATA_ID",
    "PFY3_DATA_ID",
    "PFY4_DATA_ID",
    "PFY5_DATA_ID",
]
TEXT = ["MEASURE_NAME", "MEASURE_DESCRIPTION", "CALCULATION", "DATA_SOURCE"]


def declared(header: list[str], *, typed: bool) -> list[dict[str, str]]:
    def kind(name: str) -> str:
        if not typed:
            return "string"
        return "float" if name in NUMBERS else "integer" if name in INTEGERS else "string"

    return [{"name": h.lower(), "type": kind(h), "source_column": h} for h in header]


def source(
    source_id: str, path: Path, header: list[str], *, typed: bool, **options: Any
) -> dict[str, Any]:
    load = options.pop("load", {})
    return {
        "id": source_id,
        "title": f"Austin ePerf ({path.name})",
        "classification": "public",
        "options": {"path": str(path), **options},
        "columns": declared(header, typed=typed),
        "load": load,
    }


def attempt(
    root: Path, spec: dict[str, Any], actor: Actor
) -> tuple[Context, IngestOutcome | IngestError]:
    ctx = open_workspace(write_workspace(root, [spec]), actor)
    try:
        return ctx, ingest_service.ingest(ctx, actor, spec["id"])
    except IngestError as error:
        return ctx, error


@pytest.fixture(scope="module")
def folder(shared_data: Path) -> Path:
    return shared_data / "austin-kpi"


@pytest.fixture(scope="module")
def header(folder: Path) -> list[str]:
    return raw_lines(folder / DERIVED)[0]


@pytest.fixture(scope="module")
def filtered_header(folder: Path) -> list[str]:
    return raw_lines(folder / FILTERED)[0]


@pytest.fixture(scope="module")
def derived(folder: Path) -> list[dict[str, str]]:
    """The derived CSV's records, each with the physical line its record starts on."""
    records = []
    with (folder / DERIVED).open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        start = 2
        for record in reader:
            records.append({**record, "_line": str(start)})
            start = reader.line_num + 1
    return records


@pytest.fixture(scope="module")
def loaded(
    folder: Path,
    header: list[str],
    filtered_header: list[str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Context, dict[str, IngestOutcome]]]:
    specs = [
        source("eperf_text", folder / XLSX, header, typed=False),
        source(
            "eperf_typed",
            folder / DERIVED,
            header,
            typed=True,
            csv={"null_values": ["", *SENTINELS]},
        ),
        source(
            "eperf_filtered", folder / FILTERED, filtered_header, typed=False, csv={"strict": False}
        ),
    ]
    actor = operator("pytest")
    ctx = open_workspace(write_workspace(tmp_path_factory.mktemp("austin") / "ws", specs), actor)
    try:
        yield ctx, {s["id"]: ingest_service.ingest(ctx, actor, s["id"]) for s in specs}
    finally:
        ctx.close()


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def not_a_quantity(record: dict[str, str]) -> list[str]:
    """The float columns of a record holding text that is neither empty, a sentinel nor a number."""
    return [
        h for h in NUMBERS if record[h] and record[h] not in SENTINELS and not is_number(record[h])
    ]


# --- the xlsx, as text ------------------------------------------------------------------------


def test_the_xlsx_sheet_loads_every_measure_as_text(
    loaded: tuple[Context, dict[str, IngestOutcome]],
) -> None:
    ctx, outcomes = loaded
    result = outcomes["eperf_text"].result
    assert result.version is not None
    assert (result.version.row_count, result.rows_quarantined) == (1_716, 0)  # SOURCES.md
    got = query(
        ctx,
        "eperf_text",
        "SELECT count(DISTINCT dept_cd), count(*) FILTER (WHERE key_performance = '1') FROM t",
    )
    assert got == [(37, 212)]  # SOURCES.md
    frequency = dict(query(ctx, "eperf_text", "SELECT frequency_name, count(*) FROM t GROUP BY 1"))
    assert frequency == {"Monthly": 630, "Annually": 565, "Quarterly": 521}  # SOURCES.md
    kinds = dict(query(ctx, "eperf_text", "SELECT measure_type_name, count(*) FROM t GROUP BY 1"))
    assert kinds == {"Output": 812, "Result": 737, "Efficiency": 101, "Demand": 66}


def test_the_xlsx_as_text_equals_the_derived_csv_cell_for_cell(
    loaded: tuple[Context, dict[str, IngestOutcome]],
    header: list[str],
    derived: list[dict[str, str]],
) -> None:
    """Numbers stored as text come through as the text the sheet holds
    ("91.370000000000005", ".54"), exactly as the derived CSV wrote them. Empty cells and
    empty-text cells are both NULL, in the sheet as in the dump: "" is a null marker."""
    ctx, _ = loaded
    names = ", ".join(f"coalesce(\"{h.lower()}\", '')" for h in header)
    got = query(ctx, "eperf_text", f"SELECT {names} FROM t ORDER BY measure_id::INTEGER")  # noqa: S608
    expected = sorted(
        (tuple(r[h] for h in header) for r in derived),
        key=lambda row: int(row[header.index("MEASURE_ID")] or 0),
    )
    assert got == expected
    assert ("91.370000000000005",) in query(ctx, "eperf_text", "SELECT pfy1_actual FROM t")


def test_smart_quotes_non_breaking_spaces_and_mojibake_survive_from_the_xlsx(
    loaded: tuple[Context, dict[str, IngestOutcome]], folder: Path
) -> None:
    ctx, _ = loaded
    workbook = openpyxl.load_workbook(folder / XLSX, read_only=True, data_only=True)
    try:
        rows = workbook.worksheets[0].iter_rows(values_only=True)
        names = [str(v) for v in next(rows)]
        sheet = [
            dict(zip(names, row, strict=False)) for row in rows if any(v is not None for v in row)
        ]
    finally:
        workbook.close()
    for column in TEXT:
        # Empty text is a null marker (csv.null_values defaults to [""]) in every format.
        expected = collections.Counter(None if r[column] == "" else r[column] for r in sheet)
        got = query(ctx, "eperf_text", f"SELECT {column.lower()}, count(*) FROM t GROUP BY 1")  # noqa: S608
        assert dict(got) == expected, column
    text = "".join(str(v) for r in sheet for c in TEXT if (v := r[c]) is not None)
    assert {"\u2019", "\u201c", "\u00a0", "\u2013", "\u00bf"} <= set(text)


# --- typed: numbers, sentinels and the quarantine ---------------------------------------------


def test_numbers_stored_as_text_become_floats(
    loaded: tuple[Context, dict[str, IngestOutcome]], derived: list[dict[str, str]]
) -> None:
    ctx, _ = loaded
    types = column_types(ctx, "eperf_typed")
    assert {types[h.lower()] for h in NUMBERS} == {"DOUBLE"}
    kept = [r for r in derived if not not_a_quantity(r)]
    for column in NUMBERS:
        expected = math.fsum(float(r[column]) for r in kept if is_number(r[column]))
        got = query(ctx, "eperf_typed", f"SELECT sum({column.lower()}) FROM t")[0][0]  # noqa: S608
        assert got == pytest.approx(expected, rel=1e-12, abs=1e-9), column
    raw = {r["MEASURE_ID"]: (r["PFY1_ACTUAL"], r["PFY2_ACTUAL"]) for r in derived}
    assert raw["7663"] == ("91.370000000000005", "90.760000000000005")  # float artefacts
    assert raw["6742"] == (".54", ".5")  # no leading zero
    artefacts = query(
        ctx,
        "eperf_typed",
        "SELECT measure_id, pfy1_actual, pfy2_actual FROM t WHERE measure_id IN (7663, 6742)",
    )
    assert sorted(artefacts) == [(6742, 0.54, 0.5), (7663, 91.37, 90.76)]


def test_sentinel_words_in_numeric_columns_are_null(
    loaded: tuple[Context, dict[str, IngestOutcome]], derived: list[dict[str, str]]
) -> None:
    ctx, _ = loaded
    counts = collections.Counter(r[h] for r in derived for h in NUMBERS if r[h] in SENTINELS)
    assert (counts["No Data"], counts["New Meas."]) == (1_699, 1_563)  # SOURCES.md
    kept = [r for r in derived if not not_a_quantity(r)]
    for column in NUMBERS:
        expected = sum(1 for r in kept if r[column] in ("", *SENTINELS))
        got = query(ctx, "eperf_typed", f"SELECT count(*) FROM t WHERE {column.lower()} IS NULL")  # noqa: S608
        assert got == [(expected,)], column


def quarantined_measure(raw: str | None) -> str:
    """The MEASURE_ID of a quarantined CSV line (the 7th field)."""
    return next(csv.reader([raw or ""]))[6]


def test_other_text_in_a_numeric_column_quarantines_the_row_with_its_values(
    loaded: tuple[Context, dict[str, IngestOutcome]], derived: list[dict[str, str]]
) -> None:
    """``Yes``/``No`` and bond ratings (``AAA``, ``Aa1``, ``A+``) are not quantities. The
    row is set aside with its file, the columns, the first bad value and the raw line; the
    other 1,702 measures are published (14 of 1,716 is within the 5% default)."""
    ctx, outcomes = loaded
    result = outcomes["eperf_typed"].result
    bad = {r["MEASURE_ID"]: r for r in derived if not_a_quantity(r)}
    assert len(bad) == 14
    assert result.version is not None
    assert (result.version.row_count, result.rows_quarantined) == (1_716 - 14, 14)
    assert "14 row(s) quarantined" in result.warnings
    rows = quarantined(ctx, result.run_id)
    assert sorted(quarantined_measure(q.raw) for q in rows) == sorted(bad)
    for q in rows:
        record = bad[quarantined_measure(q.raw)]
        columns = not_a_quantity(record)
        assert q.file == DERIVED
        assert q.column == ", ".join(columns)
        assert q.reason.startswith(f"column {columns[0].lower()!r}: '{record[columns[0]]}")
    run = run_record(ctx, result.run_id)
    assert (run.rows_read, run.rows_loaded, run.rows_quarantined) == (1_716, 1_702, 14)
    published = {r[0] for r in query(ctx, "eperf_typed", "SELECT measure_id FROM t")}
    assert not published & {int(m) for m in bad}


def test_the_quarantine_line_is_the_line_the_record_starts_on(
    loaded: tuple[Context, dict[str, IngestOutcome]], derived: list[dict[str, str]]
) -> None:
    ctx, outcomes = loaded
    starts = {r["MEASURE_ID"]: int(r["_line"]) for r in derived if not_a_quantity(r)}
    rows = quarantined(ctx, outcomes["eperf_typed"].result.run_id)
    assert {quarantined_measure(q.raw): q.line for q in rows} == starts


def test_the_quarantine_reason_names_every_bad_value_of_the_row(
    loaded: tuple[Context, dict[str, IngestOutcome]], derived: list[dict[str, str]]
) -> None:
    ctx, outcomes = loaded
    bad = {r["MEASURE_ID"]: r for r in derived if not_a_quantity(r)}
    rows = quarantined(ctx, outcomes["eperf_typed"].result.run_id)
    assert any(len(not_a_quantity(bad[quarantined_measure(q.raw)])) > 1 for q in rows)
    for q in rows:
        record = bad[quarantined_measure(q.raw)]
        assert "Error when converting" not in q.reason
        for column in not_a_quantity(record):
            assert f"column {column.lower()!r}: {record[column]!r} is not a valid float" in q.reason


def test_the_quarantine_is_kept_alike_on_both_metadata_stores(
    folder: Path,
    header: list[str],
    tmp_path: Path,
    make_context: Callable[[Path], Context],
    admin: Actor,
) -> None:
    """Quarantined lines are long, multi-line and full of quotes: each is stored as the
    exact text of its record in the file, on SQLite and on PostgreSQL."""
    spec = source(
        "eperf_typed", folder / DERIVED, header, typed=True, csv={"null_values": ["", *SENTINELS]}
    )
    ctx = make_context(write_workspace(tmp_path / "ws", [spec]))
    workspace_service.apply(ctx, admin)
    outcome = ingest_service.ingest(ctx, admin, "eperf_typed")
    rows = quarantined(ctx, outcome.result.run_id)
    text = (folder / DERIVED).read_text(encoding="utf-8")
    assert len(rows) == 14
    assert all(q.raw and q.raw in text and q.file == DERIVED for q in rows)
    assert any('""' in (q.raw or "") for q in rows)  # an escaped quote survives the round trip
    run = run_record(ctx, outcome.result.run_id)
    assert (run.status, run.rows_quarantined, run.warnings) == (
        "succeeded",
        14,
        ["14 row(s) quarantined"],
    )


def test_past_a_stricter_bad_row_threshold_the_run_fails_and_nothing_is_published(
    folder: Path, header: list[str], derived: list[dict[str, str]], tmp_path: Path
) -> None:
    spec = source(
        "eperf_typed",
        folder / DERIVED,
        header,
        typed=True,
        csv={"null_values": ["", *SENTINELS]},
        load={"max_bad_rows": 0.005},
    )
    ctx, outcome = attempt(tmp_path / "ws", spec, operator("pytest"))
    try:
        assert isinstance(outcome, IngestError)
        assert "14 of 1716 rows (0.8%)" in str(outcome)
        first = min(int(r["_line"]) for r in derived if not_a_quantity(r))
        assert f"{DERIVED}:{first}:" in str(outcome)  # the first quarantined line
        run = run_record(ctx, outcome.run_id)
        assert (run.status, run.data_version_id, run.rows_quarantined) == ("failed", None, 14)
        assert len(quarantined(ctx, outcome.run_id)) == 14  # kept for diagnosis
    finally:
        ctx.close()


def test_the_xlsx_with_float_columns_nulls_the_sentinels_like_the_csv_dump(
    folder: Path, header: list[str], tmp_path: Path
) -> None:
    spec = source(
        "eperf_xlsx_typed",
        folder / XLSX,
        header,
        typed=True,
        csv={"null_values": ["", *SENTINELS]},
    )
    ctx, outcome = attempt(tmp_path / "ws", spec, operator("pytest"))
    try:
        assert isinstance(outcome, IngestOutcome), outcome
        assert outcome.result.rows_quarantined == 14
        assert outcome.result.version is not None
        assert outcome.result.version.row_count == 1_702
    finally:
        ctx.close()


# --- meanings CivicStat cannot settle ------------------------------------------------------


def test_ambiguous_units_and_disagreeing_definitions_are_loaded_verbatim(
    loaded: tuple[Context, dict[str, IngestOutcome]], derived: list[dict[str, str]]
) -> None:
    """Some APD times look like minutes.seconds (".58" then "1.04"), and "Call Service
    Level" is described as a percentage but calculated as seconds per call. CivicStat
    cannot know which is meant: it keeps the numbers as written and both texts, so a
    steward can see the disagreement."""
    ctx, _ = loaded
    dispatch = next(r for r in derived if r["MEASURE_ID"] == "6743")
    assert (dispatch["PFY1_ACTUAL"], dispatch["PFY2_ACTUAL"]) == ("1.04", ".58")
    apd = query(
        ctx,
        "eperf_typed",
        "SELECT pfy1_actual, pfy2_actual FROM t WHERE measure_id = 6743",
    )
    assert apd == [(1.04, 0.58)]  # not reinterpreted as 1 min 4 s or 58 s
    level = next(r for r in derived if r["MEASURE_ID"] == "7663")
    got = query(
        ctx, "eperf_typed", "SELECT measure_description, calculation FROM t WHERE measure_id = 7663"
    )
    assert got == [(level["MEASURE_DESCRIPTION"], level["CALCULATION"])]
    assert "within 30 seconds" in got[0][0]
    assert "phone call/total number of" in got[0][1]


# --- the malformed filtered CSV ----------------------------------------------------------------


def malformed_lines(path: Path) -> dict[int, str]:
    """Physical line → DATA_SOURCE as meant, for the lines with 14 fields instead of 13.

    Parsed by hand: the ten fields before DATA_SOURCE and the two after it hold no quote
    or comma, so DATA_SOURCE is what lies between them, less its outer quotes."""
    out = {}
    for number, line in enumerate(path.read_text(encoding="ascii").splitlines(), start=1):
        if len(next(csv.reader([line]))) != 14:
            continue
        head = line.split(",", 10)
        rest, _frequency, _cfy = head[10].rsplit(",", 2)
        assert '"' not in ",".join(head[:10])
        assert rest[0] == rest[-1] == '"'
        out[number] = rest[1:-1]
    return out


def test_the_filtered_csv_read_tolerantly_recovers_every_row(
    loaded: tuple[Context, dict[str, IngestOutcome]], folder: Path
) -> None:
    ctx, outcomes = loaded
    malformed = malformed_lines(folder / FILTERED)
    assert len(malformed) == 26
    assert min(malformed) == 38
    result = outcomes["eperf_filtered"].result
    assert result.version is not None
    assert (result.version.row_count, result.rows_quarantined) == (1_716, 0)
    lines = (folder / FILTERED).read_text(encoding="ascii").splitlines()
    for number, data_source in malformed.items():
        measure_id = lines[number - 1].split(",")[2]
        got = query(
            ctx,
            "eperf_filtered",
            "SELECT data_source, frequency_name, cfy FROM t WHERE measure_id = $1",
            [measure_id],
        )
        assert got == [(data_source, lines[number - 1].rsplit(",", 2)[1], "2016")], number
    frequency = dict(
        query(ctx, "eperf_filtered", "SELECT frequency_name, count(*) FROM t GROUP BY 1")
    )
    assert frequency == {"Monthly": 630, "Annually": 565, "Quarterly": 521}


def test_the_filtered_csv_read_strictly_quarantines_the_malformed_rows(
    folder: Path, filtered_header: list[str], tmp_path: Path
) -> None:
    malformed = malformed_lines(folder / FILTERED)
    spec = source("eperf_filtered", folder / FILTERED, filtered_header, typed=False)
    ctx, outcome = attempt(tmp_path / "ws", spec, operator("pytest"))
    try:
        assert isinstance(outcome, IngestOutcome), outcome
        assert outcome.result.version is not None
        assert (outcome.result.version.row_count, outcome.result.rows_quarantined) == (1_690, 26)
        rows = quarantined(ctx, outcome.result.run_id)
        assert sorted(q.line for q in rows if q.line is not None) == sorted(malformed)
        assert all("quote" in q.reason.lower() or "14" in q.reason for q in rows)
    finally:
        ctx.close()


def test_the_filtered_csv_read_strictly_fails_past_a_lower_threshold(
    folder: Path, filtered_header: list[str], tmp_path: Path
) -> None:
    spec = source(
        "eperf_filtered",
        folder / FILTERED,
        filtered_header,
        typed=False,
        load={"max_bad_rows": 0.01},
    )
    ctx, outcome = attempt(tmp_path / "ws", spec, operator("pytest"))
    try:
        assert isinstance(outcome, IngestError)
        assert "26 of 1716 rows" in str(outcome)
        assert f"{FILTERED}:38" in str(outcome)
        assert len(quarantined(ctx, outcome.run_id)) == 26
    finally:
        ctx.close()
