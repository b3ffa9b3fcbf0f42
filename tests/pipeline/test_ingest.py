"""Ingest: raw kept as-is, declared types enforced, a failed run publishes nothing."""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from civicstat.connectors.base import ConnectorError, Payload
from civicstat.governance.actors import Actor
from civicstat.metadata import data_versions
from civicstat.metadata.models import IngestRun, QuarantinedRow, RawFile
from civicstat.pipeline.runner import IngestError
from civicstat.services import ingest as ingest_service
from civicstat.services import workspace as workspace_service
from civicstat.services.context import Context
from civicstat.spec.example import write_example

SOURCE = "service_requests"


def data_file(root: Path) -> Path:
    return root / "data" / "service_requests.csv"


def rewrite_rows(path: Path, change: dict[int, dict[str, str]]) -> None:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for index, values in change.items():
        rows[index].update(values)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_ingest_keeps_the_raw_file_and_publishes_a_version(
    example_ctx: Context, admin: Actor
) -> None:
    source_file = data_file(example_ctx.root)
    outcome = ingest_service.ingest(example_ctx, admin, SOURCE)
    with example_ctx.db.session() as session:
        (raw,) = session.scalars(select(RawFile)).all()
        run = session.get_one(IngestRun, outcome.result.run_id)
        head = data_versions.current(session, SOURCE)
    assert example_ctx.lake.path(raw.lake_path).read_bytes() == source_file.read_bytes()
    assert raw.sha256 == hashlib.sha256(source_file.read_bytes()).hexdigest()
    assert raw.size == source_file.stat().st_size
    assert raw.lake_path.startswith(f"raw/{SOURCE}/")
    assert (run.status, run.rows_loaded, run.data_version_id) == (
        "succeeded",
        300,
        head.id if head else None,
    )
    assert run.finished_at is not None
    assert run.finished_at >= run.started_at


def test_a_row_that_does_not_fit_is_quarantined_with_its_file_line_and_reason(
    example_ctx: Context, admin: Actor
) -> None:
    path = data_file(example_ctx.root)
    rewrite_rows(path, {4: {"created_at": "not-a-date"}})
    bad_line = path.read_text(encoding="utf-8").splitlines()[5]

    outcome = ingest_service.ingest(example_ctx, admin, SOURCE)

    assert outcome.result.status == "succeeded"
    assert outcome.result.version is not None
    assert outcome.result.version.row_count == 299
    with example_ctx.db.session() as session:
        (row,) = session.scalars(select(QuarantinedRow)).all()
        run = session.get_one(IngestRun, outcome.result.run_id)
    # Row 4 of the data is line 6 of the file (the header is line 1); the file is named as
    # the source gave it, not by its copy in the lake.
    assert (row.file, row.line, row.column) == ("service_requests.csv", 6, "created_at")
    assert row.reason == "column 'created_at': 'not-a-date' is not a valid timestamp"
    assert row.raw == bad_line
    assert (run.rows_read, run.rows_loaded, run.rows_quarantined) == (300, 299, 1)


def test_too_many_bad_rows_fail_the_run_and_keep_the_last_good_version(
    example_ctx: Context, admin: Actor
) -> None:
    good = ingest_service.ingest(example_ctx, admin, SOURCE).result.version
    assert good is not None
    rewrite_rows(data_file(example_ctx.root), {i: {"due_at": "soon"} for i in range(10, 30)})

    with pytest.raises(IngestError) as failure:
        ingest_service.ingest(example_ctx, admin, SOURCE)

    message = str(failure.value)
    assert message.startswith("20 of 300 rows (6.7%) do not fit the declared schema")
    assert (
        "first: service_requests.csv:12: column 'due_at': 'soon' is not a valid timestamp"
        in message
    )
    with example_ctx.db.session() as session:
        head = data_versions.current(session, SOURCE)
        failed = session.get_one(IngestRun, failure.value.run_id)
        raw_of_failed = session.scalars(select(RawFile).where(RawFile.run_id == failed.id)).all()
        quarantined = session.scalars(
            select(QuarantinedRow).where(QuarantinedRow.run_id == failed.id)
        ).all()
    assert head is not None
    assert head.id == good.id
    assert failed.status == "failed"
    assert len(quarantined) == 20  # why it failed stays on record
    assert len(raw_of_failed) == 1  # what arrived is kept, even when it could not be loaded
    tables = example_ctx.lake.root / "tables" / SOURCE
    assert len(list(tables.iterdir())) == 1  # the failed version's folder was removed


def test_a_missing_declared_column_is_a_clear_error(
    example_ctx: Context, admin: Actor, example_root: Path
) -> None:
    path = data_file(example_root)
    text = path.read_text(encoding="utf-8").replace("closed_at", "closed_time", 1)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(
        IngestError, match=r"declared column\(s\) missing from the source: closed_at"
    ):
        ingest_service.ingest(example_ctx, admin, SOURCE)


def test_a_path_that_matches_nothing_is_a_clear_error(
    example_ctx: Context, admin: Actor, example_root: Path
) -> None:
    spec_path = example_root / "sources" / "service_requests.yaml"
    spec = yaml.safe_load(spec_path.read_text())
    spec["options"]["path"] = "data/nothing-*.csv"
    spec_path.write_text(yaml.safe_dump(spec, sort_keys=False))
    workspace_service.apply(example_ctx, admin)
    with pytest.raises(IngestError, match=r"no file matches 'data/nothing-\*\.csv'"):
        ingest_service.ingest(example_ctx, admin, SOURCE)


def test_ingest_recomputes_the_measures_of_its_dataset(example_ctx: Context, admin: Actor) -> None:
    outcome = ingest_service.ingest(example_ctx, admin, SOURCE)
    with example_ctx.db.session() as session:
        plan = example_ctx.applied_plan(session)
    assert plan is not None
    assert sorted(c.measure_id for c in outcome.computed) == sorted(plan.measures)
    assert all(c.changed and c.observations > 0 for c in outcome.computed)


def test_a_fraction_in_an_integer_column_is_quarantined_not_rounded(
    tmp_path: Path, make_context: Callable[[Path], Context], admin: Actor
) -> None:
    root = tmp_path / "ws"
    write_example(root)
    spec_path = root / "sources" / "service_requests.yaml"
    spec = yaml.safe_load(spec_path.read_text())
    spec["options"] = {"path": "data/requests.ndjson"}
    spec["columns"] = [*spec["columns"], {"name": "crew", "type": "integer"}]
    spec_path.write_text(yaml.safe_dump(spec, sort_keys=False))
    lines = [
        {"request_id": "a", "crew": "12", "created_at": "2025-01-01 08:00:00"},
        {"request_id": "b", "crew": "1.5", "created_at": "2025-01-01 09:00:00"},
        {"request_id": "c", "crew": 7, "created_at": "2025-01-01 10:00:00"},
    ]
    (root / "data" / "requests.ndjson").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    ctx = make_context(root)
    workspace_service.apply(ctx, admin)
    with pytest.raises(IngestError, match="1 of 3 rows"):  # 33% is past the 5% allowed
        ingest_service.ingest(ctx, admin, SOURCE)
    with ctx.db.session() as session:
        (bad,) = session.scalars(select(QuarantinedRow)).all()
    assert (bad.file, bad.line, bad.column) == ("requests.ndjson", 2, "crew")


def test_a_fetch_that_fails_midway_still_records_what_it_landed_with_its_hash(
    example_ctx: Context, admin: Actor
) -> None:
    source_file = data_file(example_ctx.root)

    def payloads() -> Iterator[Payload]:
        yield Payload(
            "part-1.csv", "csv", "text/csv", partial(source_file.open, "rb"), {}, source_file
        )
        raise ConnectorError("the server hung up after the first file")

    with pytest.raises(IngestError, match="hung up"):
        ingest_service.ingest(example_ctx, admin, SOURCE, payloads=payloads())

    with example_ctx.db.session() as session:
        (raw,) = session.scalars(select(RawFile)).all()
    assert raw.sha256 == hashlib.sha256(source_file.read_bytes()).hexdigest()
