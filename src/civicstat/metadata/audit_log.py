"""Reading the audit log's rows; writing and checking the chain is ``governance.audit``."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from civicstat.metadata.models import AuditEvent

__all__ = ["newest"]


def newest(
    session: Session, *, limit: int, action: str | None = None, who: str | None = None
) -> Sequence[AuditEvent]:
    """The newest ``limit`` events first, of one action and/or one actor when given."""
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if action:
        query = query.where(AuditEvent.action == action)
    if who:
        query = query.where(AuditEvent.actor == who)
    return session.scalars(query).all()
