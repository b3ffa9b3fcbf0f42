"""Pushed batches by their Idempotency-Key: the rows behind the push batch protocol
(:mod:`civicstat.pipeline.batches`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from civicstat.metadata.models import PushBatch


def find(
    session: Session, client: str, source_id: str, key: str, *, lock: bool = False
) -> PushBatch | None:
    """The batch a client sent to a source under ``key``; ``lock`` holds its row until
    the transaction ends."""
    query = select(PushBatch).where(
        PushBatch.client == client,
        PushBatch.source_id == source_id,
        PushBatch.idempotency_key == key,
    )
    return session.scalar(query.with_for_update() if lock else query)


def add(
    session: Session,
    client: str,
    source_id: str,
    key: str,
    *,
    token_id: int | None,
    body_sha256: str,
    response: dict[str, Any],
    created_at: dt.datetime,
) -> PushBatch:
    """Record a new batch; a key already taken fails the flush (IntegrityError)."""
    batch = PushBatch(
        client=client,
        source_id=source_id,
        idempotency_key=key,
        token_id=token_id,
        body_sha256=body_sha256,
        response=response,
        created_at=created_at,
    )
    session.add(batch)
    session.flush()
    return batch


def remove(session: Session, batch: PushBatch) -> None:
    session.delete(batch)
