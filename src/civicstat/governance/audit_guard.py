"""What every start does for the audit log (``Context.migrate``): anchor a log written
before the chain was keyed, export a first head where none was exported yet, and put back
append-only triggers that someone removed. Anchoring and putting back are audit events, so
the log itself says when they happened."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from civicstat.governance import audit, audit_heads
from civicstat.governance.actors import system
from civicstat.governance.audit import Checkpoint, Event, Outcome
from civicstat.metadata import append_only
from civicstat.metadata.db import Database
from civicstat.metadata.models import AuditEvent, utcnow

__all__ = ["Started", "prepare"]

log = logging.getLogger(__name__)
ACTOR = system("start")


@dataclass(frozen=True)
class Started:
    anchored: int | None  # unkeyed records anchored now (None: nothing to anchor)
    exported: Checkpoint | None  # the first head exported to the heads file, now
    restored: tuple[str, ...]  # append-only triggers put back
    not_restored: tuple[str, ...]  # missing, and could not be put back


def prepare(db: Database, heads_file: Path, *, protect: bool = True) -> Started:
    """Anchor an unkeyed log, export a first head; with ``protect``, put back missing
    append-only triggers."""
    with db.write() as session:
        anchored = _anchor(session, heads_file)
        exported = _first_head(session, heads_file)
    restored: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    if protect:
        with db.write() as session:
            restored, failed = _protect(session)
    return Started(anchored, exported, restored, failed)


def _anchor(session: Session, heads_file: Path) -> int | None:
    """After an upgrade the log's records are unkeyed: one keyed record now names how many
    there are and the newest one's hash, so that from here on none of them can change
    unnoticed. Never done once the log was keyed: unkeyed records after keyed ones, or a
    heads file already written, mean the log was rewritten, which ``check`` then reports."""
    newest = session.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
    if newest is None or newest.scheme != audit.UNKEYED:
        return None
    keyed = session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.scheme != audit.UNKEYED)
    )
    if keyed or audit_heads.exported_before(heads_file):
        log.error(
            "the audit log ends with unkeyed records although it was keyed before: it was "
            "rewritten, or an older CivicStat wrote to it; not anchoring them (see "
            "'civicstat audit verify')"
        )
        return None
    count = session.scalar(select(func.count()).select_from(AuditEvent)) or 0
    audit.record(
        session,
        ACTOR,
        Event.AUDIT_ANCHOR,
        "audit",
        "log",
        unkeyed_records=count,
        unkeyed_head=newest.hash,
    )
    log.warning("audit log: %d unkeyed records anchored; keyed from here on", count)
    return count


def _first_head(session: Session, heads_file: Path) -> Checkpoint | None:
    """Where no head was exported yet, note the keyed chain's head now: from then on the
    heads file says the log was keyed, and an unkeyed rewrite is never anchored again."""
    if audit_heads.exported_before(heads_file):
        return None
    newest = session.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
    if newest is None or newest.scheme != audit.KEYED:
        return None
    checkpoint = audit.head(session)
    key_id = audit.key_id(audit.key_of(session))
    at = utcnow()
    log.info("audit head %s", audit_heads.line(checkpoint, at, key_id))
    try:
        audit_heads.append(heads_file, checkpoint, at, key_id)
    except OSError as error:
        log.error("the audit head could not be appended to %s: %s", heads_file, error)
        return None
    return checkpoint


def _protect(session: Session) -> tuple[tuple[str, ...], tuple[str, ...]]:
    gone = append_only.missing(session.connection())
    if not gone:
        return (), ()
    try:
        with session.begin_nested():
            append_only.restore(session.connection(), gone)
    except SQLAlchemyError as error:
        cause = getattr(error, "orig", error)
        log.error("audit log: append-only triggers missing and not put back: %s (%s)", gone, cause)
        audit.record(
            session, ACTOR, Event.AUDIT_PROTECT, "audit", "log", Outcome.FAILED, missing=gone
        )
        return (), tuple(gone)
    log.warning("audit log: append-only triggers were missing and are put back: %s", gone)
    audit.record(session, ACTOR, Event.AUDIT_PROTECT, "audit", "log", restored=gone)
    return tuple(gone), ()
