"""Access requests as stored: a user's ask for a dataset, and its decision.

Sharing agreements live in the applied plan, not here; ``services.access`` turns both
into grants.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from civicstat.metadata.ids import get_row
from civicstat.metadata.models import AccessRequest

__all__ = ["granted_datasets", "request", "requests"]


def request(session: Session, request_id: int, *, for_update: bool = False) -> AccessRequest | None:
    """The request with this id, which may come from a caller (any integer)."""
    if for_update:
        return get_row(session, AccessRequest, request_id, with_for_update=True)
    return get_row(session, AccessRequest, request_id)


def requests(session: Session, *, status: str | None = None) -> list[AccessRequest]:
    """Every request (of one status, when given), newest first."""
    query = select(AccessRequest).order_by(AccessRequest.id.desc())
    if status is not None:
        query = query.where(AccessRequest.status == status)
    return list(session.scalars(query))


def granted_datasets(session: Session, username: str, status: str, now: dt.datetime) -> set[str]:
    """The datasets of this user's requests in ``status`` that expire after ``now``."""
    requested = session.scalars(
        select(AccessRequest.dataset_id).where(
            AccessRequest.requested_by == username,
            AccessRequest.status == status,
            AccessRequest.expires_at > now,
        )
    )
    return set(requested)
