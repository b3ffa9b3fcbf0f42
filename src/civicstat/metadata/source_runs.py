"""What readers ask of a source's ingest runs: when it last succeeded, how its last run
ended, and the raw payloads a run kept (for freshness, scorecards and lineage)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from civicstat.metadata.models import IngestRun, RawFile


def last_success(session: Session, source_id: str) -> dt.datetime | None:
    """When the source's newest successful (or unchanged) run finished, if any did."""
    return session.scalar(
        select(IngestRun.finished_at)
        .where(
            IngestRun.source_id == source_id,
            IngestRun.status.in_(("succeeded", "unchanged")),
            IngestRun.finished_at.is_not(None),
        )
        .order_by(IngestRun.finished_at.desc())
        .limit(1)
    )


def last_status(session: Session, source_id: str) -> str | None:
    """The status of the source's newest run; None before its first."""
    return session.scalar(
        select(IngestRun.status)
        .where(IngestRun.source_id == source_id)
        .order_by(IngestRun.id.desc())
        .limit(1)
    )


def run(session: Session, run_id: int) -> IngestRun | None:
    return session.get(IngestRun, run_id)


def raw_files(session: Session, run_id: int) -> list[RawFile]:
    """The payloads a run landed, in the order they arrived."""
    return list(
        session.scalars(select(RawFile).where(RawFile.run_id == run_id).order_by(RawFile.id))
    )
