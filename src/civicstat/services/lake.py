"""The lake's housekeeping and its documents: raw retention, unstructured files of a dataset."""

from __future__ import annotations

import datetime as dt
import mimetypes
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from civicstat.governance import audit
from civicstat.governance.actors import Actor
from civicstat.governance.permissions import (
    DATASET_READ,
    DOCUMENT_ADD,
    LAKE_PRUNE,
    Resource,
    require,
)
from civicstat.metadata.models import Document, RawFile, utcnow
from civicstat.services.context import Context
from civicstat.services.errors import InvalidInput, NotFound

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
            expired = session.scalars(
                select(RawFile).where(
                    RawFile.source_id == source.id,
                    RawFile.deleted_at.is_(None),
                    RawFile.received_at < cutoff,
                )
            ).all()
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
        document = Document(
            dataset_id=dataset_id,
            title=title or path.stem,
            lake_path=landed.relative,
            original_name=path.name,
            sha256=landed.sha256,
            size=landed.size,
            content_type=content_type,
            added_by=str(actor),
        )
        session.add(document)
        session.flush()
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
        return session.scalars(
            select(Document).where(Document.dataset_id == dataset_id).order_by(Document.id)
        ).all()


def _dataset(ctx: Context, dataset_id: str) -> Resource:
    with ctx.db.session() as session:
        plan = ctx.require_plan(session)
    source = plan.source_for_dataset(dataset_id)
    if source is None:
        raise NotFound.of("dataset", dataset_id)
    return Resource("dataset", dataset_id, source.owner, source.classification)
