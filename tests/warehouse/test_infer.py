"""`civicstat infer`: a typed columns block proposed from a sample, never all text."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from civicstat.cli import app
from civicstat.spec.models import Source
from civicstat.warehouse.infer import infer_columns, to_yaml


def test_csv_columns_get_the_narrowest_type_and_ids_stay_text(tmp_path: Path) -> None:
    sample = tmp_path / "calls.csv"
    sample.write_text(
        "Call Number,Station Area,Received DtTm,Units,Delay Minutes,ALS Unit,Call Date\n"
        "090100225,02,01/05/2018 01:02:03 PM,2,3.5,true,2018-01-05\n"
        "090100226,10,01/06/2018 09:00:00 AM,1,0.25,false,2018-01-06\n"
    )
    inferred = infer_columns(sample)
    kinds = {c.name: c.type for c in inferred.columns}
    assert kinds == {
        "call_number": "string",  # an identifier: leading zeros are kept
        "station_area": "string",
        "received_dttm": "timestamp",
        "units": "integer",
        "delay_minutes": "float",
        "als_unit": "boolean",
        "call_date": "date",
    }
    assert inferred.timestamp_format == "%m/%d/%Y %I:%M:%S %p"


def test_the_proposal_is_a_valid_source_spec(tmp_path: Path) -> None:
    sample = tmp_path / "requests.ndjson"
    records = [{"unique_key": "1", "created_date": "2012-11-20T07:50:59.000", "borough": "BRONX"},
               {"unique_key": "2", "created_date": "2012-11-21T08:00:00.000"}]  # fmt: skip
    sample.write_text("\n".join(json.dumps(r) for r in records))
    block = yaml.safe_load(to_yaml(infer_columns(sample, "ndjson")))
    source = Source.model_validate({"id": "r", "title": "R", "owner": "x", **block})
    assert [(c.name, c.type) for c in source.columns] == [
        ("unique_key", "string"),
        ("created_date", "timestamp"),  # a time of day: never proposed as a date
        ("borough", "string"),
    ]


def test_the_command_prints_the_block_and_says_what_is_wrong(tmp_path: Path) -> None:
    sample = tmp_path / "permits.csv"
    sample.write_text("FILENO,INDATE\n24-019651,2024-10-03\n")
    runner = CliRunner()
    ok = runner.invoke(app, ["infer", str(sample)])
    assert ok.exit_code == 0
    assert ok.stdout.splitlines() == [
        "columns:",
        "  - {name: fileno, type: string, source_column: 'FILENO'}",
        "  - {name: indate, type: date, source_column: 'INDATE'}",
    ]
    missing = runner.invoke(app, ["infer", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 1
