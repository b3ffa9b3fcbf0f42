"""Raw files: the payloads runs kept as-is in the lake, by source and by run."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from civicstat.metadata.models import RawFile


def expired(session: Session, source_id: str, cutoff: dt.datetime) -> Sequence[RawFile]:
    """A source's raw files received before ``cutoff`` and still in the lake."""
    return session.scalars(
        select(RawFile).where(
            RawFile.source_id == source_id,
            RawFile.deleted_at.is_(None),
            RawFile.received_at < cutoff,
        )
    ).all()


def of_run(session: Session, run_id: int) -> Sequence[RawFile]:
    """The payloads one run landed, in the order it landed them."""
    return session.scalars(
        select(RawFile).where(RawFile.run_id == run_id).order_by(RawFile.id)
    ).all()
