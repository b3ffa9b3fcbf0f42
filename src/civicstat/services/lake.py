"""The lake's housekeeping and its documents: raw retention, the sweep of what killed
ingests left, unstructured files of a dataset."""

from __future__ import annotations

import datetime as dt
import logging
import mimetypes
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from civicstat.governance import audit
from civicstat.governance.actors import Actor, system
from civicstat.governance.audit import Event
from civicstat.governance.permissions import (
    DATASET_READ,
    DOCUMENT_ADD,
    LAKE_PRUNE,
    LAKE_SWEEP,
    Resource,
    require,
)
from civicstat.metadata import documents as document_rows
from civicstat.metadata import raw_files
from civicstat.metadata.models import Document, utcnow
from civicstat.pipeline import sweep as lake_sweep
from civicstat.pipeline.locks import SourceBusy, source_lock
from civicstat.pipeline.sweep import Leftover
from civicstat.services.context import Context
from civicstat.services.errors import InvalidInput, NotFound

log = logging.getLogger(__name__)

DOCUMENT_TYPES = {
    "application/pdf",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/svg+xml",
    "image/tiff",
    "image/webp",
    "text/plain",
    "text/markdown",
}


@dataclass(frozen=True)
class PruneResult:
    files: int
    bytes: int


def prune(ctx: Context, actor: Actor, now: dt.datetime | None = None) -> PruneResult:
    """Delete raw payloads older than their source's ``retention.raw_days``.

    The records stay (name, size, SHA-256, when it was deleted): what arrived remains
    known, and the curated versions built from it are untouched.
    """
    now = now or utcnow()
    with ctx.db.session() as session:
        plan = ctx.require_plan(session)
    require(actor, LAKE_PRUNE, Resource("workspace", plan.settings.name))
    files = size = 0
    for source in plan.sources.values():
        if source.retention is None:
            continue
        cutoff = now - dt.timedelta(days=source.retention.raw_days)
        with ctx.db.write() as session:
            expired = raw_files.expired(session, source.id, cutoff)
            for raw in expired:
                ctx.lake.remove(raw.lake_path)
                raw.deleted_at = now
                files += 1
                size += raw.size
            if expired:
                audit.record(
                    session,
                    actor,
                    "lake:prune",
                    "source",
                    source.id,
                    files=len(expired),
                    older_than_days=source.retention.raw_days,
                )
    return PruneResult(files, size)


@dataclass(frozen=True)
class SweepResult:
    """What a sweep removed (or, in a dry run, would remove), and the sources it passed
    over because they were being ingested."""

    removed: list[Leftover]
    busy: list[str]
    dry_run: bool

    @property
    def bytes(self) -> int:
        return sum(item.size for item in self.removed)


@dataclass(frozen=True)
class _Area:
    """What one sweep step covers, under one run lock: a source's raw files and its
    dataset's table folders (either may be gone from the plan and still on disk)."""

    lock: str
    source_id: str | None
    dataset_id: str | None


def sweep(ctx: Context, actor: Actor, *, dry_run: bool = False) -> SweepResult:
    """Remove the lake files no record refers to (what killed ingests left), source by
    source under the source's run lock; a source being ingested is passed over."""
    with ctx.db.session() as session:
        plan = ctx.require_plan(session)
    require(actor, LAKE_SWEEP, Resource("workspace", plan.settings.name))
    raw, tables = ctx.lake.areas()
    areas = [_Area(s.id, s.id, s.dataset_id) for s in plan.sources.values()]
    areas += [_Area(name, name, None) for name in raw if name not in plan.sources]
    datasets = {s.dataset_id for s in plan.sources.values()}
    areas += [_Area(name, None, name) for name in tables if name not in datasets]
    removed: list[Leftover] = []
    busy: list[str] = []
    for area in areas:
        try:
            removed += _sweep_area(ctx, area, dry_run=dry_run)
        except SourceBusy:
            busy.append(area.lock)
    result = SweepResult(removed, busy, dry_run)
    with ctx.db.write() as session:
        audit.record(
            session,
            actor,
            Event.LAKE_SWEEP,
            "workspace",
            plan.settings.name,
            files=len(removed),
            bytes=result.bytes,
            dry_run=dry_run,
            busy=busy,
        )
    return result


def sweep_source(ctx: Context, source_id: str, dataset_id: str) -> list[Leftover]:
    """Sweep one source before its run, under the run's lock (the caller holds it: the
    lock is re-entrant); audited as the platform's own housekeeping when it removed any."""
    try:
        removed = _sweep_area(ctx, _Area(source_id, source_id, dataset_id), dry_run=False)
    except OSError as error:  # housekeeping must not stop the run: the next one tries again
        log.warning("could not sweep the lake for source %s: %s", source_id, error)
        return []
    if removed:
        with ctx.db.write() as session:
            audit.record(
                session,
                system("lake sweep"),
                Event.LAKE_SWEEP,
                "source",
                source_id,
                files=len(removed),
                bytes=sum(item.size for item in removed),
                dry_run=False,
            )
    return removed


def _sweep_area(ctx: Context, area: _Area, *, dry_run: bool) -> list[Leftover]:
    cutoff = time.time() - ctx.settings.sweep_grace_minutes * 60
    with source_lock(ctx.db, area.lock):
        with ctx.db.session() as session:
            found = lake_sweep.leftovers(
                session, ctx.lake, source_id=area.source_id, dataset_id=area.dataset_id,
                cutoff=cutoff,
            )  # fmt: skip
        return found if dry_run else lake_sweep.remove(ctx.lake, found)


def add_document(
    ctx: Context, actor: Actor, dataset_id: str, path: Path, title: str | None = None
) -> Document:
    """Keep a PDF or image as-is beside a dataset (a data dictionary, a scanned form...)."""
    resource = _dataset(ctx, dataset_id)
    require(actor, DOCUMENT_ADD, resource)
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if content_type not in DOCUMENT_TYPES:
        known = ", ".join(sorted(DOCUMENT_TYPES))
        raise InvalidInput(f"{path.name}: {content_type} is not a document type ({known})")
    if not path.is_file():
        raise InvalidInput(f"{path}: no such file")
    with path.open("rb") as stream:
        landed = ctx.lake.land(
            f"documents/{dataset_id}", path.name, content_type, stream, when=dt.datetime.now(dt.UTC)
        )
    with ctx.db.write() as session:
        document = document_rows.add(
            session, dataset_id, title=title or path.stem, lake_path=landed.relative,
            original_name=path.name, sha256=landed.sha256, size=landed.size,
            content_type=content_type, added_by=str(actor),
        )  # fmt: skip
        audit.record(
            session,
            actor,
            "dataset:document",
            "dataset",
            dataset_id,
            document=path.name,
            sha256=landed.sha256,
        )
    return document


def documents(ctx: Context, actor: Actor, dataset_id: str) -> Sequence[Document]:
    require(actor, DATASET_READ, _dataset(ctx, dataset_id))
    with ctx.db.session() as session:
        return document_rows.of_dataset(session, dataset_id)


def _dataset(ctx: Context, dataset_id: str) -> Resource:
    with ctx.db.session() as session:
        plan = ctx.require_plan(session)
    source = plan.source_for_dataset(dataset_id)
    if source is None:
        raise NotFound.of("dataset", dataset_id)
    return Resource("dataset", dataset_id, source.owner, source.classification)
