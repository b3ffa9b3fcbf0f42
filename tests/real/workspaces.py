"""Minimal workspaces around real datasets, and ways to look at what an ingest produced.

Each real-data test module writes a workspace for its own source specs (a plan with one
goal and no objectives, one owning department), ingests through
:func:`civicstat.services.ingest.ingest` like the CLI does, and then reads the published
version's Parquet files, the run record, the quarantine and the check results. Metadata is
kept in SQLite: the loader, not the metadata store, is what these tests are about.
"""

from __future__ import annotations

import csv
import gzip
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import yaml
from sqlalchemy import select

from civicstat.governance.actors import Actor
from civicstat.metadata import data_versions
from civicstat.metadata.models import (
    DataVersion,
    IngestRun,
    Observation,
    QualityResult,
    QuarantinedRow,
)
from civicstat.services import workspace as workspace_service
from civicstat.services.context import Context
from civicstat.settings import Settings

DEPARTMENT = "performance"
# The real datasets' folder (as tests/conftest.py finds it): a data root of every workspace
# here, as an operator lists the folder of a city's exports in CIVICSTAT_DATA_ROOTS.
SHARED_DATA = Path(
    os.environ.get("CIVICSTAT_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data")
)


def write_workspace(
    root: Path,
    sources: Sequence[Mapping[str, Any]],
    measures: Sequence[Mapping[str, Any]] = (),
    *,
    timezone: str = "UTC",
) -> Path:
    """Write civicstat.yaml, governance.yaml, plan.yaml and one file per source and measure.

    A source dict needs ``id``, ``options`` and ``columns``; ``title`` and ``owner`` default.
    """
    (root / "sources").mkdir(parents=True)
    (root / "measures").mkdir()
    files: dict[str, Any] = {
        "civicstat.yaml": {"name": "realdata", "title": "Real data", "timezone": timezone},
        "governance.yaml": {
            "departments": [{"id": DEPARTMENT, "title": "Performance office"}],
        },
        "plan.yaml": {
            "title": "Real data plan",
            "period": {"start": "2010-01-01", "end": "2030-12-31"},
            "goals": [{"id": "trusted-data", "title": "Trusted data", "objectives": []}],
        },
    }
    for source in sources:
        body = {"title": source["id"], "owner": DEPARTMENT, **source}
        files[f"sources/{source['id']}.yaml"] = body
    for measure in measures:
        files[f"measures/{measure['id']}.yaml"] = {"title": measure["id"], **measure}
    for name, content in files.items():
        (root / name).write_text(yaml.safe_dump(content, sort_keys=False), encoding="utf-8")
    return root


def open_workspace(root: Path, actor: Actor) -> Context:
    """A context on ``root`` with SQLite metadata, migrated, the workspace applied."""
    database = f"sqlite:///{root / 'metadata.db'}"
    ctx = Context(Settings(workspace=root, database_url=database, data_roots=[SHARED_DATA]))
    ctx.migrate()
    workspace_service.apply(ctx, actor)
    return ctx


def columns(spec: Mapping[str, str], **types: str) -> list[dict[str, str]]:
    """Declared columns from ``{clean_name: source header}``; every type ``string`` unless
    given in ``types`` (clean name → type). A header equal to the name gets no rename."""
    unknown = set(types) - set(spec)
    assert not unknown, f"types for undeclared columns: {unknown}"
    out = []
    for name, header in spec.items():
        column = {"name": name, "type": types.get(name, "string")}
        if header != name:
            column["source_column"] = header
        out.append(column)
    return out


# --- what a run produced --------------------------------------------------------------------


def current_version(ctx: Context, dataset_id: str) -> DataVersion:
    with ctx.db.session() as session:
        version = data_versions.current(session, dataset_id)
    assert version is not None, f"{dataset_id} has no published version"
    return version


def query(ctx: Context, dataset_id: str, sql: str, params: Sequence[Any] = ()) -> list[Any]:
    """Run ``sql`` over the dataset's current version, visible as the view ``t``."""
    version = current_version(ctx, dataset_id)
    files = [str(ctx.lake.path(f)) for f in version.files]
    con = duckdb.connect()
    try:
        con.read_parquet(files, union_by_name=True).create_view("t")
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def column_types(ctx: Context, dataset_id: str) -> dict[str, str]:
    """Column → DuckDB type of the current version's Parquet files."""
    return {row[0]: row[1] for row in query(ctx, dataset_id, "DESCRIBE t")}


def run_record(ctx: Context, run_id: int) -> IngestRun:
    with ctx.db.session() as session:
        return session.get_one(IngestRun, run_id)


def quarantined(ctx: Context, run_id: int) -> list[QuarantinedRow]:
    with ctx.db.session() as session:
        rows = session.scalars(
            select(QuarantinedRow)
            .where(QuarantinedRow.run_id == run_id)
            .order_by(QuarantinedRow.file, QuarantinedRow.line)
        ).all()
    return list(rows)


def check_results(ctx: Context, run_id: int) -> dict[tuple[str, str], QualityResult]:
    """(check, target) → the stored result of that check in the run."""
    with ctx.db.session() as session:
        found = session.scalars(select(QualityResult).where(QualityResult.run_id == run_id)).all()
    return {(r.check, r.target): r for r in found}


def observations(ctx: Context, measure_id: str) -> dict[tuple[str, str], Observation]:
    """(period start ISO date, slice key) → the current observation of the measure."""
    with ctx.db.session() as session:
        found = session.scalars(
            select(Observation).where(
                Observation.measure_id == measure_id, Observation.superseded_at.is_(None)
            )
        ).all()
    return {(o.period_start.isoformat(), o.slice_key): o for o in found}


# --- the raw files, read independently --------------------------------------------------------


def raw_records(path: Path, encoding: str = "utf-8-sig") -> Iterator[dict[str, str]]:
    """Every record of a CSV (gzipped or not) as the standard library reads it."""
    opener: Any = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding=encoding, newline="") as handle:
        yield from csv.DictReader(handle)


def raw_lines(path: Path, encoding: str = "utf-8-sig") -> list[list[str]]:
    """Every record of a CSV (gzipped or not) as a list of fields, header first: repeated
    headers and rows of the wrong width stay visible, unlike with a DictReader."""
    opener: Any = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding=encoding, newline="") as handle:
        return list(csv.reader(handle))


# --- KPI checks against independent computations ----------------------------------------------


def set_workspace_settings(root: Path, **settings: Any) -> None:
    """Add or replace keys of a written workspace's civicstat.yaml (e.g. ``holidays``),
    before :func:`open_workspace` applies it."""
    path = root / "civicstat.yaml"
    content = yaml.safe_load(path.read_text(encoding="utf-8"))
    content.update(settings)
    path.write_text(yaml.safe_dump(content, sort_keys=False), encoding="utf-8")


def relative_difference(got: float | None, expected: float) -> float:
    """|got - expected| / |expected| (the absolute difference when expected is 0)."""
    assert got is not None, f"no value where {expected!r} was expected"
    if expected == 0:
        return abs(got)
    return abs(got - expected) / abs(expected)
