"""The push batch protocol: a pushed batch loads at most once per Idempotency-Key.

A key is the client's own (its API token's) within a source: two tokens sending the same
key send two batches, and neither can replay, read or block the other's. The key is
claimed (a ``push_batches`` row marked pending) before the run starts, and the run's
answer is written to that row in the same transaction that records the run's outcome: an
answer on record means exactly that outcome happened. A claim left by a process that died
is taken over after ``STALE_CLAIM``: the pipeline never published for it, since
publishing and answering commit together.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from civicstat.governance.actors import Actor
from civicstat.metadata import push_batches
from civicstat.metadata.db import Database
from civicstat.metadata.models import IngestRun, PushBatch
from civicstat.pipeline.locks import SourceBusy, source_lock
from civicstat.pipeline.runner import IngestError, OnFinish

STALE_CLAIM = dt.timedelta(minutes=30)
LOCK_WAIT_SECONDS = 10.0  # batches to one source queue for its lock this long, then busy
_PENDING = "pending"  # key of a claim's marker in push_batches.response
log = logging.getLogger(__name__)


def client_of(actor: Actor) -> str:
    """Whose Idempotency-Keys these are: the API token's, or the actor's own name."""
    return f"token:{actor.token_id}" if actor.token_id is not None else str(actor)[:200]


@dataclass(frozen=True)
class BatchKey:
    """A batch's identity: the client's own key within one source."""

    client: str
    source_id: str
    key: str


@dataclass(frozen=True)
class Earlier:
    """A batch sent before under the same key."""

    same_body: bool
    pending: bool  # claimed, still loading: no answer on record yet
    response: dict[str, Any]  # the answer on record, when not pending


def earlier(db: Database, key: BatchKey, digest: str, now: dt.datetime) -> Earlier | None:
    """The batch sent before under ``key``, unless there is none or its claim went stale
    (then it may be taken over)."""
    with db.session() as session:
        batch = _row(session, key)
        if batch is None or _stale(batch, digest, now):
            return None
        return _earlier(batch, digest)


def recorded(db: Database, key: BatchKey, digest: str) -> Earlier:
    """The batch that holds ``key`` (after a claim lost the race for it)."""
    with db.session() as session:
        batch = _row(session, key)
        assert batch is not None, "a claim fails only on an existing row"
        return _earlier(batch, digest)


class Claim:
    """A key held for one load; answered in the run's outcome transaction, or released."""

    def __init__(self, key: BatchKey, token: str) -> None:
        self.key = key
        self.token = token
        self.run_id: int | None = None  # the run whose outcome answered the batch

    def on_finish(self, respond: Callable[[Session, IngestRun], dict[str, Any]]) -> OnFinish:
        """The run's ``on_finish``: in the transaction that records the run's outcome, hold
        the claim (failing if another request took it over meanwhile) and store the
        answer ``respond`` gives for the run."""

        def record(session: Session, run: IngestRun) -> None:
            batch = _row(session, self.key, lock=True)
            if batch is None or batch.response.get(_PENDING) != self.token:
                raise RuntimeError(
                    f"push batch {self.key.key!r} of {self.key.source_id!r} was taken over"
                )
            response = respond(session, run)
            batch.run_id = run.id
            batch.response = response
            self.run_id = run.id

        return record

    @property
    def answered(self) -> bool:
        return self.run_id is not None

    def release(self, db: Database) -> None:
        """Give the key back when the run ended without an outcome on record: nothing was
        published, so the same batch may be sent again under the same key."""
        with db.write() as session:
            batch = _row(session, self.key, lock=True)
            if batch is not None and batch.response.get(_PENDING) == self.token:
                push_batches.remove(session, batch)


def claim(
    db: Database, key: BatchKey, token_id: int | None, digest: str, now: dt.datetime
) -> Claim | None:
    """Mark the key as ours (pending) before loading; None when another request holds it."""
    token = secrets.token_hex(16)
    try:
        with db.write() as session:
            batch = _row(session, key, lock=True)
            if batch is None:
                push_batches.add(
                    session, key.client, key.source_id, key.key, token_id=token_id,
                    body_sha256=digest, response={_PENDING: token}, created_at=now,
                )  # fmt: skip
            elif _stale(batch, digest, now):
                batch.response = {_PENDING: token}
                batch.created_at = now
                batch.token_id = token_id
            else:
                return None
    except IntegrityError:
        return None
    return Claim(key, token)


def load(db: Database, held: Claim, run: Callable[[], object]) -> None:
    """Run the batch's load under its source's run lock, releasing the claim whenever the
    run ended without an answer on record.

    Raises ``SourceBusy`` when the lock stays taken, and the run's own error when it left
    no answer. An error after the answer was recorded (recomputing measures) is logged:
    the answer stands, as a retry would be told, rather than invite the batch again.
    """
    try:
        with contextlib.ExitStack() as stack:
            _wait_for_lock(stack, db, held.key.source_id)
            run()
    except IngestError:
        if not held.answered:
            held.release(db)
            raise
    except SourceBusy:
        held.release(db)
        raise
    except Exception:
        if not held.answered:
            held.release(db)
            raise
        log.exception("push to %s: after run %d", held.key.source_id, held.run_id)
    except BaseException:
        held.release(db)
        raise


def _wait_for_lock(stack: contextlib.ExitStack, db: Database, source_id: str) -> None:
    """Hold the source's run lock, waiting a little: clients often push batches side by
    side, and each should load in turn rather than be refused at once. The lock is
    re-entrant, so the ingest inside shares this lease."""
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        try:
            stack.enter_context(source_lock(db, source_id))
            return
        except SourceBusy:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.2)


def _row(session: Session, key: BatchKey, *, lock: bool = False) -> PushBatch | None:
    return push_batches.find(session, key.client, key.source_id, key.key, lock=lock)


def _stale(batch: PushBatch, digest: str, now: dt.datetime) -> bool:
    """A claim on the same body whose process must have died: it may be taken over."""
    return (
        _PENDING in batch.response
        and batch.body_sha256 == digest
        and now - batch.created_at > STALE_CLAIM
    )


def _earlier(batch: PushBatch, digest: str) -> Earlier:
    return Earlier(batch.body_sha256 == digest, _PENDING in batch.response, dict(batch.response))
