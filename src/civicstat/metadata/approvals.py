"""Approvals of measure definitions for publication: one row per measure and definition
hash, written once (approving again changes nothing)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from civicstat.metadata.models import MeasureApproval


def of(session: Session, measure_id: str, definition_hash: str) -> MeasureApproval | None:
    """The approval of this definition of the measure, if it was given."""
    return session.scalar(
        select(MeasureApproval).where(
            MeasureApproval.measure_id == measure_id,
            MeasureApproval.definition_hash == definition_hash,
        )
    )


def approved_hashes(session: Session, measure_id: str) -> set[str]:
    """Every definition of the measure ever approved."""
    return set(
        session.scalars(
            select(MeasureApproval.definition_hash).where(MeasureApproval.measure_id == measure_id)
        )
    )


def add(
    session: Session,
    measure_id: str,
    definition_hash: str,
    *,
    approved_by: str,
    approved_at: dt.datetime,
    note: str,
) -> None:
    session.add(
        MeasureApproval(
            measure_id=measure_id,
            definition_hash=definition_hash,
            approved_by=approved_by,
            approved_at=approved_at,
            note=note,
        )
    )
