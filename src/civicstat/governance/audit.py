"""The audit log: typed events, each chained to the one before by a SHA-256 hash.

Changing or deleting any record breaks the chain from that record on, and ``verify``
names the first one that no longer fits. The table is append-only as well: database
triggers (migration 0003) refuse UPDATE and DELETE from the application's connection.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from civicstat.governance.actors import Actor
from civicstat.metadata.models import AuditEvent, utcnow
from civicstat.spec.workspace import canonical_json

GENESIS = "0" * 64


class Event(StrEnum):
    """The kinds of audit event. A refusal is the attempted event with outcome ``denied``
    (permission denied); a failure, outcome ``failed``."""

    SIGN_IN = "auth:sign-in"  # ok, or failed (wrong name, password or code; locked; disabled)
    LOCKOUT = "auth:lockout"  # too many failed sign-ins in a row: the account is locked
    USER_ADD = "user:add"
    ROLE_CHANGE = "user:role-change"
    USER_DISABLE = "user:disable"
    USER_ENABLE = "user:enable"
    TOTP_ENROLL = "user:totp-enroll"
    AUDIT_READ = "audit:read"  # the log listed or verified
    DATASET_READ = "dataset:read"  # of confidential or restricted data, or denied
    DATASET_EXPORT = "dataset:export"  # rows downloaded as CSV, whatever their classification
    DATASET_UNMASK = "dataset:unmask"  # PII columns read in clear (or refused)
    DATASET_DOCUMENT = "dataset:document"
    SOURCE_INGEST = "source:ingest"
    SOURCE_PUSH = "source:push"
    MEASURE_COMPUTE = "measure:compute"
    WORKSPACE_APPLY = "workspace:apply"
    LAKE_PRUNE = "lake:prune"
    LAKE_SWEEP = "lake:sweep"  # files no record referred to, removed from the lake
    TOKEN_CREATE = "token:create"  # noqa: S105 (an event name)
    TOKEN_REVOKE = "token:revoke"  # noqa: S105
    # A governance policy changed: a measure approved for publication, or (on apply) the
    # suppression threshold; ``detail.change`` says which.
    POLICY_CHANGE = "policy:change"
    AGREEMENT_CHANGE = "agreement:change"  # a sharing agreement added, changed or retired
    ACCESS_REQUEST = "access:request"  # someone asked to read a dataset
    ACCESS_APPROVE = "access:approve"  # a steward granted it, until a date
    ACCESS_DENY = "access:deny"
    AGREEMENT_DRAFT = "agreement:draft"  # a performance agreement drafted or amended
    AGREEMENT_SIGN = "agreement:sign"  # detail.content_hash: what was signed
    AGREEMENT_REVIEW = "agreement:review"  # a quarterly review note added
    OBJECTIVE_COMMENT = "objective:comment"  # an explanation added or revised
    ACTION_ADD = "action:add"
    ACTION_STATUS = "action:status"  # an action item's status changed
    MEETING_RECORD = "meeting:record"


class Outcome(StrEnum):
    OK = "ok"
    DENIED = "denied"
    FAILED = "failed"


class AuditUnavailable(RuntimeError):
    """The audit record could not be written, so what it describes must not happen either."""


@dataclass(frozen=True, slots=True)
class ChainCheck:
    """What ``check`` found: how many records, the first that breaks the chain, the head."""

    records: int
    broken_id: int | None
    broken_at: dt.datetime | None
    head: str  # hash of the newest record (GENESIS when empty): note it to detect truncation


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
    action: Event | str,
    object_kind: str,
    object_id: str,
    outcome: Outcome | str = "ok",
    **detail: Any,
) -> AuditEvent:
    """Append an event in the caller's transaction: if it cannot be written, neither can
    the change it describes (``AuditUnavailable``). Call within a write session (it must
    serialise with others)."""
    session.flush()  # the caller's own pending changes fail as themselves, not as audit
    try:
        last = session.scalar(
            select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1).with_for_update()
        )
        prev_hash = last.hash if last is not None else GENESIS
        event = AuditEvent(
            at=utcnow(),
            actor=str(actor),
            action=str(action),
            object_kind=object_kind,
            object_id=object_id,
            outcome=str(outcome),
            detail=detail,
            prev_hash=prev_hash,
        )
        event.hash = _digest(prev_hash, event)
        session.add(event)
        session.flush()
    except SQLAlchemyError as error:
        raise AuditUnavailable(f"the audit log could not be written ({action})") from error
    return event


def check(session: Session) -> ChainCheck:
    """Walk the whole chain, oldest first, and report the first record that does not fit."""
    prev_hash = GENESIS
    records = 0
    broken: AuditEvent | None = None
    for event in session.scalars(select(AuditEvent).order_by(AuditEvent.id)).yield_per(1000):
        records += 1
        fits = event.prev_hash == prev_hash and _digest(prev_hash, event) == event.hash
        if broken is None and not fits:
            broken = event
        prev_hash = event.hash
    if broken is None:
        return ChainCheck(records, None, None, prev_hash)
    return ChainCheck(records, broken.id, broken.at, prev_hash)


def verify(session: Session) -> int | None:
    """The id of the first record that breaks the chain, or None when it is whole."""
    return check(session).broken_id
