"""The audit log: typed events, each chained to the one before by a SHA-256 hash.

Changing or deleting any record breaks the chain from that record on, and ``verify``
names the first one that no longer fits.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from civicstat.governance.actors import Actor
from civicstat.metadata.models import AuditEvent, utcnow
from civicstat.spec.workspace import canonical_json

GENESIS = "0" * 64


def _digest(prev_hash: str, event: AuditEvent) -> str:
    body = canonical_json(
        {
            "at": event.at.isoformat(),
            "actor": event.actor,
            "action": event.action,
            "object_kind": event.object_kind,
            "object_id": event.object_id,
            "outcome": event.outcome,
            "detail": event.detail,
        }
    )
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


def record(
    session: Session,
    actor: Actor,
    action: str,
    object_kind: str,
    object_id: str,
    outcome: str = "ok",
    **detail: Any,
) -> AuditEvent:
    """Append an event in the caller's transaction: if it cannot be written, neither can
    the change it describes. Call within a write session (it must serialise with others)."""
    last = session.scalar(
        select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1).with_for_update()
    )
    prev_hash = last.hash if last is not None else GENESIS
    event = AuditEvent(
        at=utcnow(),
        actor=str(actor),
        action=action,
        object_kind=object_kind,
        object_id=object_id,
        outcome=outcome,
        detail=detail,
        prev_hash=prev_hash,
    )
    event.hash = _digest(prev_hash, event)
    session.add(event)
    session.flush()
    return event


def verify(session: Session) -> int | None:
    """The id of the first record that breaks the chain, or None when it is whole."""
    prev_hash = GENESIS
    for event in session.scalars(select(AuditEvent).order_by(AuditEvent.id)).yield_per(1000):
        if event.prev_hash != prev_hash or _digest(prev_hash, event) != event.hash:
            return event.id
        prev_hash = event.hash
    return None
