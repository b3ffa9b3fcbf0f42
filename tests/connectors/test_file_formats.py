"""The ``file`` connector: every format, gzipped where that makes sense, globs, fsspec URLs
on a real S3 protocol server (moto), and each file's bytes handed over untouched."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from moto.server import ThreadedMotoServer
from pydantic import ValidationError

from civicstat.connectors import registry
from civicstat.connectors.base import ConnectorContext, ConnectorError, Payload
from civicstat.connectors.file import FileConnector, FileOptions, format_of
from civicstat.spec.models import Column
from civicstat.warehouse import loader

CSV_BOM = (
    "\ufeffid,opened,closed,status\n"
    "1,05/10/2014 01:02:03 PM,NULL,Open\n"
    "2,05/11/2014 09:00:00 AM,05/12/2014 10:30:00 PM,Closed\n"
)


def connector(
    root: Path, env: dict[str, str] | None = None, allow: tuple[str, ...] = (), **options: Any
) -> FileConnector:
    context = ConnectorContext(root, source_id="src", env=env or {}, allow=allow)
    return FileConnector(FileOptions.model_validate(options), context)


def fetched(conn: FileConnector) -> list[tuple[Payload, bytes]]:
    out = []
    for payload in conn.fetch():
        with payload.open() as stream:
            out.append((payload, stream.read()))
    return out


def load(
    conn: FileConnector, tmp_path: Path, columns: list[Column]
) -> tuple[loader.Pulled, list[tuple[Any, ...]]]:
    """Land each payload as the pipeline does (its name kept at the end) and load it."""
    lake, out = tmp_path / "lake", tmp_path / "out"
    lake.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    inputs = []
    for index, (payload, data) in enumerate(fetched(conn)):
        landed = lake / f"{index:03d}-{payload.name}"
        landed.write_bytes(data)
        inputs.append(loader.Input(landed, payload.name, payload.format, payload.read_options))
    con = loader.connect()
    pulled = loader.pull(con, inputs, columns, conn.read_options(), out)
    names = ", ".join(loader.quote(c.name) for c in columns)
    return pulled, con.execute(f"SELECT {names} FROM pulled").fetchall()  # noqa: S608


def test_file_is_registered_through_the_entry_point() -> None:
    found: object = registry.get("file")
    assert found is FileConnector


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("week35.csv", "csv"), ("week35.CSV.GZ", "csv"), ("export.txt", "csv"),
        ("calls.tsv", "tsv"), ("calls.tsv.gz", "tsv"), ("part.parquet", "parquet"),
        ("page.json", "json"), ("page.json.gz", "json"), ("feed.ndjson", "ndjson"),
        ("feed.jsonl.gz", "ndjson"), ("measures.xlsx", "xlsx"),
        ("s3://bucket/prefix/week01.csv.gz", "csv"),
    ],
)  # fmt: skip
def test_format_comes_from_the_file_name(name: str, fmt: str) -> None:
    assert format_of(name) == fmt


@pytest.mark.parametrize("name", ["part.parquet.gz", "book.xlsx.gz", "notes.pdf", "data"])
def test_a_name_that_says_no_readable_format_asks_for_options_format(name: str) -> None:
    with pytest.raises(ConnectorError, match=r"set options\.format"):
        format_of(name)


def write_all_formats(folder: Path) -> dict[str, Path]:
    """One tiny file per format and gzip variant, all holding ids 1 and 2."""
    records = [{"id": 1, "name": 'Zoë "Z" O\'Neil'}, {"id": 2, "name": "東京"}]
    files = {
        "csv": folder / "a.csv", "csv.gz": folder / "a.csv.gz", "tsv": folder / "a.tsv",
        "tsv.gz": folder / "a.tsv.gz", "json": folder / "a.json", "json.gz": folder / "a.json.gz",
        "ndjson": folder / "a.ndjson", "ndjson.gz": folder / "a.ndjson.gz",
        "parquet": folder / "a.parquet", "xlsx": folder / "a.xlsx",
    }  # fmt: skip
    csv = 'id,name\n1,"Zoë ""Z"" O\'Neil"\n2,東京\n'
    tsv = 'id\tname\n1\tZoë "Z" O\'Neil\n2\t東京\n'
    ndjson = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    files["csv"].write_text(csv, encoding="utf-8")
    files["csv.gz"].write_bytes(gzip.compress(csv.encode()))
    files["tsv"].write_text(tsv, encoding="utf-8")
    files["tsv.gz"].write_bytes(gzip.compress(tsv.encode()))
    files["json"].write_text(json.dumps(records), encoding="utf-8")
    files["json.gz"].write_bytes(gzip.compress(json.dumps(records).encode()))
    files["ndjson"].write_text(ndjson, encoding="utf-8")
    files["ndjson.gz"].write_bytes(gzip.compress(ndjson.encode()))
    pq.write_table(pa.Table.from_pylist(records), files["parquet"])
    workbook = openpyxl.Workbook()
    workbook.active.append(["id", "name"])
    for r in records:
        workbook.active.append([r["id"], r["name"]])
    workbook.save(files["xlsx"])
    return files


CONTENT_TYPES = {
    "csv": "text/csv", "tsv": "text/tab-separated-values", "json": "application/json",
    "ndjson": "application/x-ndjson", "parquet": "application/vnd.apache.parquet",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}  # fmt: skip


@pytest.mark.parametrize(
    "kind",
    ["csv", "csv.gz", "tsv", "tsv.gz", "json", "json.gz", "ndjson", "ndjson.gz", "parquet", "xlsx"],
)
def test_every_format_lands_byte_for_byte_and_loads_the_same_rows(
    tmp_path: Path, kind: str
) -> None:
    files = write_all_formats(tmp_path)
    conn = connector(tmp_path, path=files[kind].name)
    [(payload, data)] = fetched(conn)
    fmt = kind.removesuffix(".gz")
    assert data == files[kind].read_bytes()
    assert (payload.name, payload.format) == (files[kind].name, fmt)
    assert payload.content_type == (
        "application/gzip" if kind.endswith(".gz") else CONTENT_TYPES[fmt]
    )
    columns = [Column(name="id", type="integer"), Column(name="name", type="string")]
    pulled, got = load(conn, tmp_path, columns)
    assert pulled.rows_bad == 0
    assert sorted(got) == [(1, 'Zoë "Z" O\'Neil'), (2, "東京")]


def test_a_glob_of_weekly_files_is_one_pull_sorted_by_name(tmp_path: Path) -> None:
    weeks = tmp_path / "weeks"
    weeks.mkdir()
    for week in (40, 9, 35):
        (weeks / f"week{week:02d}.csv.gz").write_bytes(gzip.compress(f"week\n{week}\n".encode()))
    conn = connector(tmp_path, path="weeks/week*.csv.gz")
    assert [p.name for p, _ in fetched(conn)] == ["week09.csv.gz", "week35.csv.gz", "week40.csv.gz"]
    _, got = load(conn, tmp_path, [Column(name="week", type="integer")])
    assert sorted(got) == [(9,), (35,), (40,)]


def test_a_glob_mixing_formats_is_refused_before_anything_is_read(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("x\n1\n")
    (tmp_path / "b.tsv").write_text("x\n1\n")
    with pytest.raises(ConnectorError, match=r"more than one format \(csv: a.csv, tsv: b.tsv\)"):
        fetched(connector(tmp_path, path="*"))


def test_format_option_overrides_the_name(tmp_path: Path) -> None:
    (tmp_path / "export.dat").write_text('[{"x": "1"}]')
    [(payload, _)] = fetched(connector(tmp_path, path="export.dat", format="json"))
    assert (payload.format, payload.content_type) == ("json", "application/json")


def test_no_match_names_the_pattern(tmp_path: Path) -> None:
    with pytest.raises(ConnectorError, match=r"no file matches 'missing/\*.csv'"):
        fetched(connector(tmp_path, path="missing/*.csv"))


def test_json_records_path_and_xlsx_sheet_reach_the_readers(tmp_path: Path) -> None:
    (tmp_path / "resp.json").write_text(json.dumps({"data": {"rows": [{"x": "7"}]}}))
    conn = connector(tmp_path, path="resp.json", records="data.rows")
    assert conn.read_options()["json"] == {"records": "data.rows"}
    _, got = load(conn, tmp_path, [Column(name="x", type="integer")])
    assert got == [(7,)]
    workbook = openpyxl.Workbook()
    workbook.active.append(["report"])
    workbook.create_sheet("numbers").append(["junk"])
    workbook["numbers"].append(["n"])
    workbook["numbers"].append([41.5])
    workbook.save(tmp_path / "book.xlsx")
    conn = connector(tmp_path, path="book.xlsx", sheet="numbers", header_row=2)
    _, got = load(conn, tmp_path / "x", [Column(name="n", type="float")])
    assert got == [(41.5,)]


def test_tsv_payload_carries_its_tab_delimiter(tmp_path: Path) -> None:
    (tmp_path / "a.tsv").write_text("x\n")
    [(payload, _)] = fetched(connector(tmp_path, path="a.tsv", csv={"null_values": ["NULL"]}))
    assert payload.read_options["csv"]["delimiter"] == "\t"
    assert payload.read_options["csv"]["null_values"] == ["NULL"]


# --- CSV quirks of the real data (SOURCES.md) ----------------------------------------------


def test_bom_null_strings_and_am_pm_timestamps(tmp_path: Path) -> None:
    """Burlington and DECC phone files start with a BOM; DECC writes missing as NULL;
    NYC 311 writes MM/DD/YYYY hh:mm:ss AM/PM."""
    (tmp_path / "sr.csv").write_text(CSV_BOM, encoding="utf-8")
    conn = connector(
        tmp_path,
        path="sr.csv",
        csv={"null_values": ["", "NULL"], "timestamp_format": "%m/%d/%Y %I:%M:%S %p"},
    )
    columns = [
        Column(name="id", type="integer"),
        Column(name="opened", type="timestamp"),
        Column(name="closed", type="timestamp"),
    ]
    pulled, got = load(conn, tmp_path, columns)
    assert pulled.rows_bad == 0
    assert sorted(got) == [
        (1, dt.datetime(2014, 5, 10, 13, 2, 3), None),
        (2, dt.datetime(2014, 5, 11, 9, 0), dt.datetime(2014, 5, 12, 22, 30)),
    ]


AUSTIN_FILTERED = "austin-kpi/2016_EPERF_DOWNLOAD_9-22-16_filtered.csv"


def test_austin_filtered_csv_lines_with_an_unescaped_quote_are_quarantined_by_default(
    shared_data: Path, tmp_path: Path
) -> None:
    """Strict parsing: the 26 lines with 14 fields are set aside with their line numbers
    (the first is line 38, as SOURCES.md says); the other 1,690 load."""
    conn = connector(shared_data, path=AUSTIN_FILTERED)
    pulled, got = load(conn, tmp_path, [Column(name="MEASURE_ID", type="integer")])
    assert (pulled.rows_bad, len(got)) == (26, 1690)
    first = pulled.bad_rows[0]
    assert (first.line, first.column) == (38, "DATA_SOURCE")
    assert "Expected Number of Columns: 13 Found: 14" in first.reason


def test_austin_filtered_csv_loads_every_row_with_strict_off(
    shared_data: Path, tmp_path: Path
) -> None:
    """26 rows carry an unescaped quote inside DATA_SOURCE; with strict off DuckDB reads
    them as the fields a person sees, and no row is lost."""
    conn = connector(shared_data, path=AUSTIN_FILTERED, csv={"strict": False})
    with (shared_data / AUSTIN_FILTERED).open(encoding="utf-8") as handle:
        data_lines = sum(1 for line in handle if line.strip()) - 1
    pulled, got = load(conn, tmp_path, [Column(name="MEASURE_ID", type="integer")])
    assert pulled.rows_bad == 0
    assert len(got) == data_lines == 1716


@pytest.mark.parametrize(
    "storage_options",
    [
        {"key": "AKIAEXAMPLE"},
        {"secret": "abc/def+"},
        {"token": "t0k3n"},
        {"client_kwargs": {"region_name": "x"}, "aws_secret_access_key": "s"},
    ],
)
def test_a_secret_written_into_the_spec_is_refused(storage_options: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match=r"looks like a secret.*storage_env"):
        FileOptions.model_validate({"path": "s3://b/x.csv", "storage_options": storage_options})


def test_storage_env_holds_variable_names_not_values() -> None:
    with pytest.raises(ValidationError, match=r"storage_env\.secret"):
        FileOptions.model_validate({"path": "s3://b/x.csv", "storage_env": {"secret": "abc/def+"}})


# --- fsspec URLs: a real S3 protocol server (moto) on this machine ---------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        yield endpoint
    finally:
        server.stop()


S3_ENV = {"CITY_S3_KEY": "testing-key-id", "CITY_S3_SECRET": "testing-secret"}


def _bucket(endpoint: str, files: dict[str, bytes]) -> None:
    client = boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id=S3_ENV["CITY_S3_KEY"], aws_secret_access_key=S3_ENV["CITY_S3_SECRET"],
    )  # fmt: skip
    client.create_bucket(Bucket="city-exports")
    for key, body in files.items():
        client.put_object(Bucket="city-exports", Key=key, Body=body)


def test_an_s3_glob_is_pulled_byte_for_byte_with_credentials_from_the_environment(
    s3_endpoint: str, tmp_path: Path
) -> None:
    weeks = {
        "311/week-02.csv": b"id,opened\n3,2026-01-12 09:00:00\n",
        "311/week-01.csv": b"id,opened\n1,2026-01-05 08:00:00\n2,2026-01-06 10:30:00\n",
        "311/readme.txt": b"not part of the dataset",
    }
    _bucket(s3_endpoint, weeks)
    conn = connector(
        tmp_path,
        env=S3_ENV,
        allow=("127.0.0.1",),  # the S3 server is on loopback, as a city's MinIO is internal
        path="s3://city-exports/311/week-*.csv",
        storage_options={
            "client_kwargs": {"endpoint_url": s3_endpoint, "region_name": "us-east-1"}
        },
        storage_env={"key": "CITY_S3_KEY", "secret": "CITY_S3_SECRET"},
    )
    got = fetched(conn)
    assert [p.name for p, _ in got] == ["week-01.csv", "week-02.csv"]
    assert [body for _, body in got] == [weeks["311/week-01.csv"], weeks["311/week-02.csv"]]
    pulled, rows = load(conn, tmp_path, [Column(name="id", type="integer"),
                                         Column(name="opened", type="timestamp")])  # fmt: skip
    assert pulled.rows_bad == 0
    assert sorted(r[0] for r in rows) == [1, 2, 3]


def test_a_missing_credential_variable_is_a_clear_error(s3_endpoint: str, tmp_path: Path) -> None:
    conn = connector(
        tmp_path,
        env={},
        allow=("127.0.0.1",),
        path="s3://city-exports/311/*.csv",
        storage_options={"client_kwargs": {"endpoint_url": s3_endpoint}},
        storage_env={"key": "CITY_S3_KEY"},
    )
    with pytest.raises(ConnectorError, match="environment variable CITY_S3_KEY is not set"):
        fetched(conn)
