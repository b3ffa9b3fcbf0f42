"""The audit log: typed events, each chained to the one before by a MAC.

Each record's hash is HMAC-SHA256, under a key kept outside the database (derived from
the secret key: ``governance.secrets.audit_key``), of the previous record's hash and its
own content. Changing, removing or adding a record breaks the chain from there on, and
whoever can write the database but does not hold the key cannot compute the hashes that
would mend it. ``check`` names the first record that does not fit, compares the chain with
heads exported earlier (which catch a tail cut off), and reports missing append-only
triggers. Records written before the chain was keyed (scheme ``sha256``, plain SHA-256)
still verify: they must come first, followed by the keyed ``audit:anchor`` record that
names their count and last hash (``governance.audit_guard`` writes it on the first start
after the upgrade).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from civicstat.governance.actors import Actor
from civicstat.metadata import append_only
from civicstat.metadata.db import serialise
from civicstat.metadata.models import AuditEvent, utcnow
from civicstat.spec.workspace import canonical_json

GENESIS = "0" * 64
KEYED = "hmac-sha256"
UNKEYED = "sha256"  # records written before migration 0006


class Event(StrEnum):
    """The kinds of audit event. A refusal is the attempted event with outcome ``denied``
    (permission denied); a failure, outcome ``failed``."""

    SIGN_IN = "auth:sign-in"  # ok, or failed (wrong name, password or code; locked; disabled)
    LOCKOUT = "auth:lockout"  # too many failed sign-ins in a window: the account is locked
    THROTTLE = "auth:throttle"  # a client reached a limit: its next tries are not checked
    USER_ADD = "user:add"
    ROLE_CHANGE = "user:role-change"
    USER_DISABLE = "user:disable"
    USER_ENABLE = "user:enable"
    USER_UNLOCK = "user:unlock"  # a lockout lifted by an administrator
    TOTP_ENROLL = "user:totp-enroll"
    AUDIT_READ = "audit:read"  # the log listed or verified
    AUDIT_HEAD = "audit:head"  # the head (count and hash) exported, to the log and a file
    AUDIT_ANCHOR = "audit:anchor"  # the chain keyed from here on, after unkeyed records
    AUDIT_PROTECT = "audit:protect"  # missing append-only triggers put back (or not: failed)
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
class Checkpoint:
    """The chain as it stood once: its number of records and the hash of the newest.
    Kept outside the database (``audit head``), it tells a tail cut off or a chain rebuilt."""

    records: int
    head: str


@dataclass(frozen=True, slots=True)
class ChainCheck:
    """What ``check`` found: how many records, the head, and the first problem if any."""

    records: int
    broken_id: int | None  # the first record that does not fit
    broken_at: dt.datetime | None
    head: str  # hash of the newest record (GENESIS when empty)
    problem: str | None = None  # one sentence: what is wrong, where
    keyed_since: int | None = None  # the first keyed record (None: none yet)
    heads_checked: int = 0  # exported heads the chain was compared with
    missing_guards: tuple[str, ...] = field(default=())  # append-only triggers not in place

    @property
    def intact(self) -> bool:
        return self.problem is None and not self.missing_guards


def key_of(session: Session) -> bytes:
    """The audit key this session's database was opened with (``Database(audit_key=…)``)."""
    key = session.info.get("audit_key")
    if not isinstance(key, bytes):
        raise AuditUnavailable("the audit log cannot be written or checked: no audit key")
    return key


def key_id(key: bytes) -> str:
    """A name for the key that gives nothing of it away: which key keyed a record."""
    return hmac.new(key, b"civicstat audit key id", hashlib.sha256).hexdigest()[:16]


def _content(prev_hash: str, event: AuditEvent) -> bytes:
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
    return f"{prev_hash}\n{body}".encode()


def _mac(key: bytes, prev_hash: str, event: AuditEvent) -> str:
    return hmac.new(key, _content(prev_hash, event), hashlib.sha256).hexdigest()


def _unkeyed(prev_hash: str, event: AuditEvent) -> str:
    return hashlib.sha256(_content(prev_hash, event)).hexdigest()


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
    the change it describes (``AuditUnavailable``). Call within a write session; the chain's
    head is read and extended by one transaction at a time."""
    session.flush()  # the caller's own pending changes fail as themselves, not as audit
    key = key_of(session)
    try:
        serialise(session, "civicstat:audit-chain")
        last = session.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
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
            scheme=KEYED,
            key_id=key_id(key),
        )
        event.hash = _mac(key, prev_hash, event)
        session.add(event)
        session.flush()
    except SQLAlchemyError as error:
        raise AuditUnavailable(f"the audit log could not be written ({action})") from error
    return event


def head(session: Session) -> Checkpoint:
    """How many records there are and the newest one's hash, read together (no record is
    appended in between)."""
    serialise(session, "civicstat:audit-chain")
    count = session.scalar(select(func.count()).select_from(AuditEvent)) or 0
    newest = session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
    return Checkpoint(count, newest or GENESIS)


class _Walk:
    """The chain read oldest first: the first record that does not fit, and why."""

    def __init__(self, key: bytes) -> None:
        self.key = key
        self.key_id = key_id(key)
        self.records = 0
        self.head = GENESIS
        self.unkeyed = 0  # records written before the chain was keyed
        self.keyed_since: int | None = None
        self.broken: AuditEvent | None = None
        self.problem: str | None = None

    def step(self, event: AuditEvent) -> None:
        self.records += 1
        if self.broken is None:
            why = self._fault(event)
            if why is not None:
                self.broken = event
                self.problem = f"audit record {event.id} ({_when(event.at)}) {why}"
        if event.scheme == UNKEYED and self.keyed_since is None:
            self.unkeyed = self.records
        elif event.scheme == KEYED and self.keyed_since is None:
            self.keyed_since = event.id
        self.head = event.hash

    def _fault(self, event: AuditEvent) -> str | None:
        if event.prev_hash != self.head:
            return (
                "does not follow the record before it: a record before it was removed, or "
                "changed and its hash rewritten"
            )
        if event.scheme == UNKEYED:
            if self.keyed_since is not None:
                return (
                    "is unkeyed although keyed records come before it: it was forged, or "
                    "written by an older CivicStat still running"
                )
            if _unkeyed(event.prev_hash, event) != event.hash:
                return "does not match its hash: it was changed"
            return None
        if event.scheme != KEYED:
            return f"has an unknown scheme {event.scheme!r}: it was forged"
        if event.key_id != self.key_id:
            return (
                f"was keyed with another key (key id {event.key_id}, this server's is "
                f"{self.key_id}): CIVICSTAT_SECRET_KEY was changed, or the record was forged"
            )
        if not hmac.compare_digest(_mac(self.key, event.prev_hash, event), event.hash):
            return "does not match its MAC: it was changed, or forged without the key"
        if self.keyed_since is None and self.unkeyed and not _anchors(event, self.unkeyed):
            return (
                f"is the first keyed record but does not anchor the {self.unkeyed} unkeyed "
                "records before it: they were added or rewritten"
            )
        return None

    def end(self) -> str | None:
        if self.problem is None and self.unkeyed and self.keyed_since is None:
            return (
                f"the log's {self.unkeyed} records are all unkeyed and none anchors them "
                "under the key: CivicStat anchors them when it starts; if it has started "
                "since the upgrade, the log was rewritten"
            )
        return self.problem


def _anchors(event: AuditEvent, unkeyed: int) -> bool:
    detail = event.detail or {}
    return (
        event.action == Event.AUDIT_ANCHOR
        and detail.get("unkeyed_records") == unkeyed
        and detail.get("unkeyed_head") == event.prev_hash
    )


def _when(at: dt.datetime) -> str:
    return f"{at:%Y-%m-%d %H:%M:%S} UTC"


def check(session: Session, expect: Sequence[Checkpoint] = ()) -> ChainCheck:
    """Walk the whole chain, oldest first; compare it with the heads in ``expect`` (exported
    earlier); look for the append-only triggers. The first problem found is reported."""
    walk = _Walk(key_of(session))
    wanted = {c.records: c.head for c in expect if c.records > 0}
    found: dict[int, str] = {}
    for event in session.scalars(select(AuditEvent).order_by(AuditEvent.id)).yield_per(1000):
        walk.step(event)
        if walk.records in wanted:
            found[walk.records] = event.hash
    problem = walk.end() or _against_heads(walk.records, wanted, found)
    return ChainCheck(
        records=walk.records,
        broken_id=walk.broken.id if walk.broken is not None else None,
        broken_at=walk.broken.at if walk.broken is not None else None,
        head=walk.head,
        problem=problem,
        keyed_since=walk.keyed_since,
        heads_checked=len(wanted),
        missing_guards=tuple(append_only.missing(session.connection())),
    )


def _against_heads(records: int, wanted: dict[int, str], found: dict[int, str]) -> str | None:
    for count in sorted(wanted):
        if count > records:
            return (
                f"the log has {records} records, fewer than the {count} of a head exported "
                "earlier: records were removed from its end"
            )
        if not hmac.compare_digest(found[count], wanted[count]):
            return (
                f"record number {count} has hash {found[count]}, not {wanted[count]} as "
                "exported earlier: the log was rewritten"
            )
    return None


def verify(session: Session) -> int | None:
    """The id of the first record that breaks the chain, or None when it is whole."""
    return check(session).broken_id
