"""Ingest: raw kept as-is, declared types enforced, a failed run publishes nothing."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from civicstat.governance.actors import Actor
from civicstat.metadata import datasets
from civicstat.metadata.models import IngestRun, RawFile
from civicstat.pipeline.ingest import IngestError
from civicstat.services import ingest as ingest_service
from civicstat.services import workspace as workspace_service
from civicstat.services.context import Context

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
        head = datasets.current(session, SOURCE)
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


def test_a_value_that_does_not_fit_its_type_fails_the_run_and_keeps_the_last_good_version(
    example_ctx: Context, admin: Actor
) -> None:
    good = ingest_service.ingest(example_ctx, admin, SOURCE).result.version
    rewrite_rows(data_file(example_ctx.root), {4: {"created_at": "not-a-date"}})

    with pytest.raises(IngestError) as failure:
        ingest_service.ingest(example_ctx, admin, SOURCE)

    # Row 4 of the data is line 6 of the file (the header is line 1); the file is named as
    # the source gave it, not by its copy in the lake.
    first_line = str(failure.value).splitlines()[0]
    assert first_line.startswith(
        "service_requests.csv:6: column 'created_at': 'not-a-date' is not a valid timestamp"
    )
    with example_ctx.db.session() as session:
        head = datasets.current(session, SOURCE)
        failed = session.get_one(IngestRun, failure.value.run_id)
        raw_of_failed = session.scalars(select(RawFile).where(RawFile.run_id == failed.id)).all()
    assert head is not None
    assert head.id == good.id
    assert failed.status == "failed"
    assert "not-a-date" in (failed.error or "")
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
