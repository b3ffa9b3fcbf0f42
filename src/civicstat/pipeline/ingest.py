"""Run one source: fetch its payloads, keep them as-is, load a new table version, publish.

A run either publishes a complete new version or leaves the previous one untouched: the
version's files are written to a fresh folder first, and only the metadata transaction that
moves the dataset's head makes them visible.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from civicstat.connectors import registry
from civicstat.connectors.base import ConnectorContext, ConnectorError
from civicstat.governance import audit
from civicstat.governance.actors import Actor
from civicstat.metadata import datasets
from civicstat.metadata.db import Database
from civicstat.metadata.models import DataVersion, IngestRun, RawFile, utcnow
from civicstat.spec.models import Source
from civicstat.warehouse.lake import Lake, LandedFile
from civicstat.warehouse.loader import LoadError, load


class IngestError(Exception):
    """A run failed; the previous data version stays published."""

    def __init__(self, run_id: int, message: str) -> None:
        super().__init__(message)
        self.run_id = run_id


@dataclass(frozen=True)
class IngestResult:
    run_id: int
    version: DataVersion
    raw_files: list[LandedFile]


def run_source(
    db: Database, lake: Lake, workspace_root: Path, source: Source, actor: Actor
) -> IngestResult:
    with db.write() as session:
        run = IngestRun(
            source_id=source.id,
            dataset_id=source.dataset_id,
            status="running",
            started_by=str(actor),
        )
        session.add(run)
        session.flush()
        run_id = run.id

    landed: list[LandedFile] = []
    folder_relative: str | None = None
    try:
        connector_cls = registry.get(source.connector)
        options = connector_cls.Options.model_validate(source.options)
        connector = connector_cls(options, ConnectorContext(workspace_root))
        when = dt.datetime.now(dt.UTC)
        formats: set[str] = set()
        for payload in connector.fetch():
            with payload.open() as stream:
                landed.append(
                    lake.land(source.id, payload.name, payload.content_type, stream, when=when)
                )
            formats.add(payload.format)
        if len(formats) != 1:
            raise ConnectorError(f"a pull must give one format, got {sorted(formats)}")
        folder, folder_relative = lake.new_table_folder(source.dataset_id)
        result = load(
            [f.path for f in landed],
            formats.pop(),
            connector.read_options(),
            list(source.columns),
            folder,
            names=[f.original_name for f in landed],
        )
    except (ConnectorError, LoadError, KeyError, OSError, ValueError) as error:
        if folder_relative is not None:
            lake.discard(folder_relative)
        message = str(error).strip("'\"") or type(error).__name__
        with db.write() as session:
            _finish(session, run_id, source, landed, actor, error=message)
        raise IngestError(run_id, message) from error

    with db.write() as session:
        version = datasets.publish(
            session,
            dataset_id=source.dataset_id,
            files=[f"{folder_relative}/{name}" for name in result.files],
            columns=result.columns,
            row_count=result.row_count,
            run_id=run_id,
        )
        _finish(session, run_id, source, landed, actor, version=version)
    return IngestResult(run_id, version, landed)


def _finish(
    session: Session,
    run_id: int,
    source: Source,
    landed: list[LandedFile],
    actor: Actor,
    *,
    version: DataVersion | None = None,
    error: str | None = None,
) -> None:
    """Close the run record, keep the raw files' record and audit the outcome, in one go."""
    run = session.get_one(IngestRun, run_id)
    run.status = "failed" if version is None else "succeeded"
    run.finished_at = utcnow()
    run.error = error
    run.bytes_read = sum(f.size for f in landed)
    if version is not None:
        run.rows_read = run.rows_loaded = version.row_count
        run.data_version_id = version.id
    _record_raw(session, run_id, source, landed)
    detail = (
        {"version": version.version, "rows": version.row_count}
        if version is not None
        else {"error": (error or "")[:500]}
    )
    outcome = "ok" if version is not None else "failed"
    audit.record(
        session, actor, "source:ingest", "source", source.id, outcome, run_id=run_id, **detail
    )


def _record_raw(session: Session, run_id: int, source: Source, landed: list[LandedFile]) -> None:
    session.add_all(
        RawFile(
            run_id=run_id,
            source_id=source.id,
            lake_path=f.relative,
            original_name=f.original_name,
            sha256=f.sha256,
            size=f.size,
            content_type=f.content_type,
        )
        for f in landed
    )
