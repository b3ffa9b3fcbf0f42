"""At most one run per source at a time, across processes and machines.

The lock is a leased row in ``source_locks``, not a database lock held open for the run: a
run lasts minutes and spans many short transactions, and a row with an expiry works the
same on SQLite and PostgreSQL. A live holder renews its lease from a background thread; a
holder that died (SIGKILL, power loss) frees the source when its lease runs out, or at
once when it was a process on this machine that no longer exists.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import secrets
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import CursorResult, delete, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from civicstat.metadata.db import Database
from civicstat.metadata.models import IngestRun, SourceLock, utcnow

__all__ = [
    "ABANDONED_ERROR",
    "Lease",
    "LockLost",
    "SourceBusy",
    "holder_is_dead",
    "new_holder",
    "recover_abandoned",
    "source_lock",
]

log = logging.getLogger(__name__)

ABANDONED_ERROR = "the process running it stopped (no live lock)"
DEFAULT_LEASE_SECONDS = 60.0


class SourceBusy(Exception):
    """Another run of the source holds its lock; try again later (or let that one finish)."""

    def __init__(self, source_id: str, holder: str) -> None:
        super().__init__(f"source {source_id!r} is being ingested by {holder}")
        self.source_id = source_id
        self.holder = holder


class LockLost(Exception):
    """The lease ran out and another process took the source: this run must not publish."""


def new_holder() -> str:
    """``host:pid:random``: who holds a lock, readable by an operator, unique per lease."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def holder_is_dead(holder: str) -> bool:
    """True only when the holder was a process on this machine that no longer runs.

    A host name is taken to name one process table (true of machines, VMs and containers
    with their own host name). Anything else — another host, a live or unknown process —
    counts as alive, so its lease is left to expire.
    """
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # exists, under another user
    return _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    """A killed child not yet reaped by its parent still has a pid, but runs nothing."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


def _rowcount(result: Any) -> int:
    assert isinstance(result, CursorResult)
    return result.rowcount


class Lease:
    """A held source lock; renewed in the background until released."""

    def __init__(
        self,
        db: Database,
        source_id: str,
        holder: str,
        lease_seconds: float,
        acquired_at: dt.datetime,
    ) -> None:
        self.db = db
        self.source_id = source_id
        self.holder = holder
        self.lease_seconds = lease_seconds
        self.acquired_at = acquired_at
        self._lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._keep_alive, name=f"lease:{source_id}", daemon=True
        )

    @property
    def lost(self) -> bool:
        """Whether a renewal found the lock taken by someone else."""
        return self._lost

    def renew(self) -> bool:
        """Push the expiry out by one lease; False when the lock is no longer ours."""
        with self.db.write() as session:
            return self._extend(session)

    def confirm(self, session: Session) -> None:
        """Renew inside the caller's transaction, or raise ``LockLost``.

        Called in the transaction that publishes, it makes publishing and still holding
        the lock one atomic fact: a run whose lease was taken over cannot publish.
        """
        if not self._extend(session):
            self._lost = True
            raise LockLost(f"lock on source {self.source_id!r} was lost by {self.holder}")

    def _extend(self, session: Session) -> bool:
        expires = utcnow() + dt.timedelta(seconds=self.lease_seconds)
        result = session.connection().execute(
            update(SourceLock)
            .where(SourceLock.source_id == self.source_id, SourceLock.holder == self.holder)
            .values(expires_at=expires)
        )
        return _rowcount(result) == 1

    def _start(self) -> None:
        self._thread.start()

    def _keep_alive(self) -> None:
        while not self._stop.wait(self.lease_seconds / 3):
            try:
                if not self.renew():
                    self._lost = True
                    log.error("lost the lock on source %s (%s)", self.source_id, self.holder)
                    return
            except SQLAlchemyError:
                log.warning(
                    "could not renew the lock on %s; retrying", self.source_id, exc_info=True
                )

    def _release(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.lease_seconds)
        try:
            with self.db.write() as session:
                session.connection().execute(
                    delete(SourceLock).where(
                        SourceLock.source_id == self.source_id, SourceLock.holder == self.holder
                    )
                )
        except SQLAlchemyError:
            log.warning("could not release the lock on %s; it will expire", self.source_id)


# Leases this thread holds, so a use case that takes the lock may call another that does.
_held = threading.local()


def _held_leases() -> dict[tuple[str, str], Lease]:
    leases: dict[tuple[str, str], Lease] | None = getattr(_held, "leases", None)
    if leases is None:
        leases = _held.leases = {}
    return leases


@contextlib.contextmanager
def source_lock(
    db: Database,
    source_id: str,
    *,
    holder: str | None = None,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
) -> Iterator[Lease]:
    """Hold the source's lock for the block, or raise ``SourceBusy`` at once.

    Re-entrant within one thread: an inner ``source_lock`` on a source this thread already
    holds (naming no other holder) gets the same lease, and only the outermost block
    releases it.
    """
    key = (db.url, source_id)
    held = _held_leases()
    if key in held and holder in (None, held[key].holder):
        yield held[key]
        return
    lease = _acquire(db, source_id, holder or new_holder(), lease_seconds)
    held[key] = lease
    lease._start()
    try:
        yield lease
    finally:
        del held[key]
        lease._release()


def _acquire(db: Database, source_id: str, holder: str, lease_seconds: float) -> Lease:
    """One atomic statement wins: the INSERT of a new row, or the takeover of a stale one."""
    for _ in range(5):
        now = utcnow()
        expires = now + dt.timedelta(seconds=lease_seconds)
        try:
            with db.write() as session:
                session.connection().execute(
                    insert(SourceLock).values(
                        source_id=source_id, holder=holder, acquired_at=now, expires_at=expires
                    )
                )
            return Lease(db, source_id, holder, lease_seconds, now)
        except IntegrityError:
            pass
        with db.write() as session:
            row = session.execute(
                select(SourceLock.holder, SourceLock.expires_at).where(
                    SourceLock.source_id == source_id
                )
            ).first()
            if row is None:
                continue  # released in between: try the INSERT again
            current, current_expiry = row
            if current_expiry >= now and not holder_is_dead(current):
                raise SourceBusy(source_id, current)
            # Compare-and-swap on what was read: if the holder renewed or someone else took
            # over meanwhile, nothing matches and the loop reads the new state.
            taken = session.connection().execute(
                update(SourceLock)
                .where(
                    SourceLock.source_id == source_id,
                    SourceLock.holder == current,
                    SourceLock.expires_at == current_expiry,
                )
                .values(holder=holder, acquired_at=now, expires_at=expires)
            )
            if _rowcount(taken) == 1:
                log.info("took over the stale lock on %s from %s", source_id, current)
                return Lease(db, source_id, holder, lease_seconds, now)
    raise SourceBusy(source_id, "another process (the lock kept changing hands)")


def recover_abandoned(db: Database, *, held: Lease | None = None) -> int:
    """Mark runs whose process died as ``abandoned``; return how many.

    A run is alive only while its source's lock is: a ``running`` run of a source with no
    lock, an expired one, or one held by a dead process here, was abandoned. With ``held``
    (a lease just taken, before its own run is recorded), every ``running`` run of that
    source is abandoned too, since no one else can be running it.
    """
    now = utcnow()
    with db.write() as session:
        rows = session.execute(
            select(IngestRun.id, IngestRun.source_id, SourceLock.holder, SourceLock.expires_at)
            .outerjoin(SourceLock, SourceLock.source_id == IngestRun.source_id)
            .where(IngestRun.status == "running")
        ).all()
        dead = [
            run_id
            for run_id, source_id, holder, expires_at in rows
            if (held is not None and source_id == held.source_id)
            or holder is None
            or expires_at < now
            or holder_is_dead(holder)
        ]
        if not dead:
            return 0
        result = session.connection().execute(
            update(IngestRun)
            .where(IngestRun.id.in_(dead), IngestRun.status == "running")
            .values(status="abandoned", finished_at=now, error=ABANDONED_ERROR)
        )
        count = _rowcount(result)
    if count:
        log.info("marked %d run(s) abandoned: their process stopped", count)
    return count
