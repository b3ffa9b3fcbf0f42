"""Readers stage JSON, NDJSON, Excel and Parquet payloads as ``raw0``: every column, in file
order, plus the landed path, with values as the file holds them (typing is the loader's)."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path
from typing import Any

import duckdb
import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from civicstat.spec.models import Column
from civicstat.warehouse import loader, readers
from civicstat.warehouse.readers import ReadError


def stage(
    fmt: str, paths: list[Path], options: dict[str, Any] | None = None
) -> duckdb.DuckDBPyRelation:
    con = duckdb.connect()
    readers.get(fmt)(con, [str(p) for p in paths], options or {})
    return con.sql("SELECT * FROM raw0 ORDER BY rowid")


def rows(relation: duckdb.DuckDBPyRelation) -> list[dict[str, Any]]:
    return [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]


SODA_LIKE: list[dict[str, Any]] = [
    {"unique_key": "1", "status": "Closed", "due_date": "2012-11-20T15:50:59.000"},
    {"unique_key": "2", "status": "Open"},  # due_date omitted: null keys are left out
    {
        "unique_key": "3",
        "status": "Open",
        "location": {"type": "Point", "coordinates": [-73.9, 40.7]},
        "tags": ["a", "b"],
        "note": 'She said "ok" — naïve ☃',
        "count": 7,
        "ratio": 0.25,
        "flag": True,
        "empty": None,
    },
]


def test_json_missing_keys_are_null_and_nested_values_stay_json_text(tmp_path: Path) -> None:
    path = tmp_path / "page.json"
    path.write_text(json.dumps(SODA_LIKE), encoding="utf-8")
    staged = stage("json", [path])
    assert staged.columns == [
        "unique_key", "status", "due_date", "location", "tags", "note", "count", "ratio",
        "flag", "empty", "filename",
    ]  # fmt: skip
    assert {str(t) for t in staged.types} == {"VARCHAR"}
    got = rows(staged)
    assert [r["unique_key"] for r in got] == ["1", "2", "3"]
    assert got[1]["due_date"] is None
    assert got[0]["location"] is None
    assert json.loads(got[2]["location"]) == SODA_LIKE[2]["location"]
    assert json.loads(got[2]["tags"]) == ["a", "b"]
    assert got[2]["note"] == 'She said "ok" — naïve ☃'
    assert (got[2]["count"], got[2]["ratio"], got[2]["flag"]) == ("7", "0.25", "true")
    assert got[2]["empty"] is None
    assert {r["filename"] for r in got} == {str(path)}


def test_json_records_at_a_dot_path_inside_the_document(tmp_path: Path) -> None:
    path = tmp_path / "response.json"
    path.write_text(json.dumps({"meta": {"n": 3}, "result": {"rows": SODA_LIKE}}))
    staged = stage("json", [path], {"json": {"records": "result.rows"}})
    assert [r["unique_key"] for r in rows(staged)] == ["1", "2", "3"]
    assert "meta" not in staged.columns


def test_json_records_path_parts_are_keys_first_then_array_indexes(tmp_path: Path) -> None:
    path = tmp_path / "pages.json"
    path.write_text(json.dumps({"pages": [{"rows": [{"a": "x"}]}], "by": {"0": [{"a": "y"}]}}))
    pages = stage("json", [path], {"json": {"records": "pages.0.rows"}})
    assert pages.fetchall() == [("x", str(path))]
    keyed = stage("json", [path], {"json": {"records": "by.0"}})
    assert keyed.fetchall() == [("y", str(path))]


def test_json_gzipped_is_read_by_its_bytes_not_its_name(tmp_path: Path) -> None:
    path = tmp_path / "payload-without-suffix"
    path.write_bytes(gzip.compress(json.dumps(SODA_LIKE).encode()))
    assert len(rows(stage("json", [path]))) == 3


def test_json_key_seen_only_in_the_last_of_many_records_is_kept(tmp_path: Path) -> None:
    records: list[dict[str, Any]] = [{"id": i} for i in range(30_000)]
    records[-1]["late"] = "here"
    path = tmp_path / "many.json"
    path.write_text(json.dumps(records))
    staged = stage("json", [path])
    assert staged.columns == ["id", "late", "filename"]
    assert staged.filter("late IS NOT NULL").fetchall() == [("29999", "here", str(path))]
    ids = [int(r[0]) for r in staged.select("id").fetchall()]
    assert ids == list(range(30_000)), "file order is kept"


@pytest.mark.parametrize(
    ("document", "options", "message"),
    [
        ({"rows": []}, {}, "not an array of records"),
        ({"rows": []}, {"json": {"records": "data.rows"}}, "'data.rows' is not found"),
        ({"rows": {"a": 1}}, {"json": {"records": "rows"}}, "is a OBJECT"),
        ([{"a": 1}, 2], {}, "not a JSON object"),
    ],
)
def test_json_that_is_not_an_array_of_objects_is_refused_clearly(
    tmp_path: Path, document: Any, options: dict[str, Any], message: str
) -> None:
    path = tmp_path / "odd.json"
    path.write_text(json.dumps(document))
    with pytest.raises(ReadError, match=message):
        stage("json", [path], options)


def test_json_keys_differing_only_in_case_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "case.json"
    path.write_text(json.dumps([{"ID": 1}, {"id": 2}]))
    with pytest.raises(ReadError, match="differ only in case"):
        stage("json", [path])


def test_a_json_key_that_is_empty_is_left_out_and_the_record_kept(tmp_path: Path) -> None:
    """Found by schemathesis pushing ``[{"": 1}]``: DuckDB cannot name a column "" and the
    run failed with its parser's message. No declared column can have that name."""
    path = tmp_path / "empty-key.json"
    path.write_text(json.dumps([{"": 1, "id": "a"}, {"id": "b", "": {"": 2}}]))

    staged = stage("json", [path])

    assert staged.columns == ["id", "filename"]
    assert [r["id"] for r in rows(staged)] == ["a", "b"]


def test_ndjson_one_record_per_line_blank_lines_ignored_gzip_too(tmp_path: Path) -> None:
    text = "\n".join(json.dumps(r) for r in SODA_LIKE) + "\n\n"
    plain, packed = tmp_path / "a.ndjson", tmp_path / "b.ndjson.gz"
    plain.write_text(text)
    packed.write_bytes(gzip.compress(text.encode()))
    staged = stage("ndjson", [plain, packed])
    got = rows(staged)
    assert [(r["unique_key"], Path(r["filename"]).name) for r in got] == [
        ("1", "a.ndjson"), ("2", "a.ndjson"), ("3", "a.ndjson"),
        ("1", "b.ndjson.gz"), ("2", "b.ndjson.gz"), ("3", "b.ndjson.gz"),
    ]  # fmt: skip


def write_workbook(path: Path, sheets: dict[str, list[list[Any]]]) -> None:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, cells in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in cells:
            sheet.append(row)
    workbook.save(path)


def test_xlsx_cells_become_text_as_stored_and_dates_iso(tmp_path: Path) -> None:
    path = tmp_path / "measures.xlsx"
    write_workbook(
        path,
        {
            "cover": [["not this one"]],
            "data": [
                ["Exported 2016-09-22"],  # a title row above the header
                ["id", "target", "actual", "opened", "day", "ok", "note", "id"],
                [1, "91.370000000000005", 93.5, dt.datetime(2016, 9, 22, 7, 5, 3),
                 dt.date(2016, 1, 2), True, ".54", "x"],
                [None, None, None, None, None, None, None, None],  # a blank formatted row
                [2, "No Data", 0.1, None, None, False, "smart “quotes” ¿", None],
            ],
        },
    )  # fmt: skip
    staged = stage("xlsx", [path], {"xlsx": {"sheet": "data", "header_row": 2}})
    assert staged.columns == [
        "id",
        "target",
        "actual",
        "opened",
        "day",
        "ok",
        "note",
        "id_1",
        "filename",
    ]
    got = rows(staged)
    assert len(got) == 2, "the blank row is left out"
    first, second = got
    assert (first["id"], first["target"], first["actual"]) == ("1", "91.370000000000005", "93.5")
    assert (first["opened"], first["day"], first["ok"]) == (
        "2016-09-22 07:05:03",
        "2016-01-02 00:00:00",
        "true",
    )
    assert (first["note"], first["id_1"]) == (".54", "x")
    assert (second["target"], second["actual"], second["ok"]) == ("No Data", "0.1", "false")
    assert second["note"] == "smart “quotes” ¿"
    assert second["opened"] is None


def test_xlsx_sheet_by_index_and_unknown_sheet(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    write_workbook(path, {"one": [["a"], [1]], "two": [["b"], [2]]})
    assert stage("xlsx", [path], {"xlsx": {"sheet": 1}}).fetchall() == [("2", str(path))]
    assert stage("xlsx", [path]).fetchall() == [("1", str(path))]
    with pytest.raises(ReadError, match="no sheet 'three'"):
        stage("xlsx", [path], {"xlsx": {"sheet": "three"}})


def test_xlsx_several_files_union_their_columns_in_file_order(tmp_path: Path) -> None:
    a, b = tmp_path / "a.xlsx", tmp_path / "b.xlsx"
    write_workbook(a, {"s": [["x", "y"], [1, 2]]})
    write_workbook(b, {"s": [["y", "z"], [3, 4], [5, 6]]})
    got = stage("xlsx", [a, b]).fetchall()
    assert [r[:2] for r in got] == [("1", "2"), (None, "3"), (None, "5")]


def test_xlsx_header_only_gives_columns_and_no_rows(tmp_path: Path) -> None:
    path = tmp_path / "empty.xlsx"
    write_workbook(path, {"s": [["a", "b"]]})
    staged = stage("xlsx", [path])
    assert staged.columns == ["a", "b", "filename"]
    assert staged.fetchall() == []


def test_parquet_keeps_its_types(tmp_path: Path) -> None:
    path = tmp_path / "part.parquet"
    pq.write_table(pa.table({"n": [1, 2], "d": [dt.date(2024, 1, 1), None]}), path)
    staged = stage("parquet", [path])
    assert staged.fetchall() == [(1, dt.date(2024, 1, 1), str(path)), (2, None, str(path))]


def test_unknown_format_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="json, ndjson, parquet, xlsx"):
        readers.get("xml")


# --- the real files ------------------------------------------------------------------------


def test_austin_kpi_workbook_every_row_and_cell_as_openpyxl_sees_it(shared_data: Path) -> None:
    path = shared_data / "austin-kpi" / "2016_EPERF_DOWNLOAD_9-22-16.xlsx"
    staged = stage("xlsx", [path], {"xlsx": {"sheet": "OM_EPERF_MEASURES_VW"}})
    workbook = openpyxl.load_workbook(path, read_only=True)
    expected = list(workbook["OM_EPERF_MEASURES_VW"].iter_rows(values_only=True))
    workbook.close()
    header, body = list(expected[0]), expected[1:]
    assert staged.columns == [*header, "filename"]
    got = staged.fetchall()
    assert len(got) == len(body) == 1_716

    def text(value: Any) -> str | None:
        return None if value is None else repr(value) if isinstance(value, float) else str(value)

    assert [r[:-1] for r in got] == [tuple(text(v) for v in row) for row in body]
    by_id = {r[header.index("MEASURE_ID")]: dict(zip(header, r, strict=False)) for r in got}
    service_level = by_id["7663"]
    assert service_level["MEASURE_NAME"] == "Call Service Level"
    assert service_level["PFY1_ACTUAL"] == "91.370000000000005", "numbers stored as text stay"
    assert service_level["CFY_ACTUAL"] == "No Data"


def test_austin_kpi_workbook_matches_the_derived_csv_dump(shared_data: Path) -> None:
    """SOURCES.md's derived CSV wrote every cell as text the same way: int str, float repr."""
    folder = shared_data / "austin-kpi"
    staged = stage("xlsx", [folder / "2016_EPERF_DOWNLOAD_9-22-16.xlsx"])
    dump = duckdb.execute(
        "SELECT * FROM read_csv($path, all_varchar = true, header = true, nullstr = '')",
        {"path": str(folder / "eperf_measures_fy2016_from_xlsx.csv")},
    )

    # A CSV cannot tell an empty text cell from an empty cell: compare both as missing.
    def blank_is_none(row: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(None if v == "" else v for v in row)

    assert [blank_is_none(r[:-1]) for r in staged.fetchall()] == dump.fetchall()


def test_nyc_311_soda_response_every_record_every_key(shared_data: Path) -> None:
    path = shared_data / "nyc-311" / "fhrw-4uyv.json"
    records = json.loads(path.read_text(encoding="utf-8"))
    staged = stage("json", [path])
    got = rows(staged)
    assert len(got) == len(records) == 1_000
    keys = {k for r in records for k in r}
    assert set(staged.columns) == keys | {"filename"}
    for record, row in zip(records, got, strict=True):
        for key in keys:
            value = record.get(key)
            if isinstance(value, dict):
                assert json.loads(row[key]) == value
            else:
                assert row[key] == value, f"{record['unique_key']}: {key}"
    assert sum(r["due_date"] is None for r in got) == 715  # SOURCES.md: 715 without due date


def test_nyc_311_through_the_loader_types_and_quarantines_nothing(
    shared_data: Path, tmp_path: Path
) -> None:
    """The loader's side of the contract: staged text cast to the declared types."""
    path = shared_data / "nyc-311" / "fhrw-4uyv.json"
    con = loader.connect()
    columns = [
        Column(name="unique_key", type="integer"),
        Column(name="created_date", type="timestamp"),
        Column(name="due_date", type="timestamp"),
        Column(name="latitude", type="float"),
    ]
    pulled = loader.pull(con, [loader.Input(path, path.name, "json")], columns, {}, tmp_path)
    assert (pulled.rows_good, pulled.rows_bad) == (1_000, 0)
    first = con.execute(
        "SELECT unique_key, created_date, due_date FROM pulled ORDER BY unique_key LIMIT 1"
    ).fetchone()
    assert first is not None
    assert isinstance(first[1], dt.datetime)
