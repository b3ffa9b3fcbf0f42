"""Tables of the metadata store: plan revisions, data versions, runs, observations, users, audit.

Every schema change goes through an Alembic migration in ``migrations/versions``; a test
checks that the migrations and these models agree.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Stores naive UTC, returns aware UTC: the same on SQLite and PostgreSQL."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dt.datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class Revision(Base):
    """One applied state of the workspace spec."""

    __tablename__ = "revisions"
    id: Mapped[int] = mapped_column(primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    applied_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    applied_by: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    layout: Mapped[dict[str, Any]]  # plan title, period, goal → objective order, governance


class Definition(Base):
    """Every definition any object ever had, by hash: old numbers keep their meaning."""

    __tablename__ = "definitions"
    hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(128))
    body: Mapped[dict[str, Any]]
    first_revision_id: Mapped[int] = mapped_column(ForeignKey("revisions.id"))


class SpecObject(Base):
    """The current definition of each named object; a removed object is retired, not deleted."""

    __tablename__ = "spec_objects"
    __table_args__ = (UniqueConstraint("kind", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(128))
    title: Mapped[str] = mapped_column(String(500))
    definition_hash: Mapped[str] = mapped_column(ForeignKey("definitions.hash"))
    created_revision_id: Mapped[int] = mapped_column(ForeignKey("revisions.id"))
    updated_revision_id: Mapped[int] = mapped_column(ForeignKey("revisions.id"))
    retired_revision_id: Mapped[int | None] = mapped_column(ForeignKey("revisions.id"))


class IngestRun(Base):
    __tablename__ = "ingest_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[str] = mapped_column(String(128), index=True)
    dataset_id: Mapped[str] = mapped_column(String(128))
    # running, succeeded, unchanged (nothing new to publish), failed, abandoned (process died)
    status: Mapped[str] = mapped_column(String(16))
    trigger: Mapped[str] = mapped_column(String(16), default="manual")  # manual, schedule, push
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]
    rows_read: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_loaded: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_read: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_quarantined: Mapped[int] = mapped_column(BigInteger, default=0)
    warnings: Mapped[list[Any]] = mapped_column(default=list)  # schema drift, failed warn checks
    error: Mapped[str | None] = mapped_column(Text)
    data_version_id: Mapped[int | None] = mapped_column(ForeignKey("data_versions.id"))
    started_by: Mapped[str] = mapped_column(String(200), default="")


class RawFile(Base):
    """A payload kept as-is in the lake's raw zone, with its hash."""

    __tablename__ = "raw_files"
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("ingest_runs.id"), index=True)
    source_id: Mapped[str] = mapped_column(String(128))
    lake_path: Mapped[str] = mapped_column(String(1000))
    original_name: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(200))
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[dt.datetime | None]  # removed from the lake by the retention setting


class DataVersion(Base):
    """An immutable set of Parquet files that is one version of a curated dataset."""

    __tablename__ = "data_versions"
    __table_args__ = (UniqueConstraint("dataset_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer)
    run_id: Mapped[int | None] = mapped_column(Integer)
    files: Mapped[list[Any]]
    columns: Mapped[list[Any]]
    row_count: Mapped[int] = mapped_column(BigInteger)
    # "rows:in:<sha256 of payloads and definition>" or, for keyed loads, "rows:<row hash sum>"
    checksum: Mapped[str] = mapped_column(String(80), default="")
    inputs: Mapped[list[Any]] = mapped_column(default=list)  # SHA-256 of every raw payload in it
    min_time: Mapped[str | None] = mapped_column(String(40))
    max_time: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    @property
    def label(self) -> str:
        return f"{self.dataset_id}@{self.version}"


class DatasetHead(Base):
    """Which version of a dataset readers see; moving it is the atomic publish."""

    __tablename__ = "dataset_heads"
    dataset_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    data_version_id: Mapped[int] = mapped_column(ForeignKey("data_versions.id"))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Observation(Base):
    """One computed value of a measure for a period and slice, with its provenance.

    Recomputing supersedes rows instead of deleting them, so what was reported stays known.
    """

    __tablename__ = "observations"
    __table_args__ = (
        Index("ix_observations_current", "measure_id", "superseded_at", "period_start"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    measure_id: Mapped[str] = mapped_column(String(128))
    grain: Mapped[str] = mapped_column(String(16))
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)
    slice_key: Mapped[str] = mapped_column(String(500))  # "" is the all-slice total
    value: Mapped[float | None] = mapped_column(Float)
    numerator: Mapped[float | None] = mapped_column(Float)
    denominator: Mapped[float | None] = mapped_column(Float)
    n: Mapped[int] = mapped_column(BigInteger)
    definition_hash: Mapped[str] = mapped_column(String(64))
    data_version_id: Mapped[int] = mapped_column(ForeignKey("data_versions.id"))
    computed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    superseded_at: Mapped[dt.datetime | None]


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    department: Mapped[str | None] = mapped_column(String(128))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Failed sign-ins (password or code) counted towards a lockout: the attempts within the
    # window (``lockout_window_minutes``) after attempt number failures_after, set by the last
    # sign-in that worked, unlock or lockout (see ``sign_in_attempts``). At the limit the
    # account is locked until locked_until.
    failed_sign_ins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    failures_after: Mapped[int | None] = mapped_column(Integer)
    locked_until: Mapped[dt.datetime | None]
    # The TOTP seed, encrypted with the workspace's secret key (governance.secrets.seal),
    # and the time step of the last code accepted, so that no code is accepted twice.
    totp_secret: Mapped[str | None] = mapped_column(String(200))
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)


class WebSession(Base):
    """A signed-in browser; only the SHA-256 of the cookie's token is stored."""

    __tablename__ = "web_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]  # the absolute limit; idleness is judged by last_seen_at
    mfa: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class SignInChallenge(Base):
    """A sign-in whose password was right and whose second factor (a code) is awaited."""

    __tablename__ = "sign_in_challenges"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]


class SignInAttempt(Base):
    """A sign-in attempt that did not work (``reason``), or is being checked (no reason yet),
    kept for the lockout window: what throttles a client and locks an account."""

    __tablename__ = "sign_in_attempts"
    # Numbers only grow, even on SQLite once old rows are swept: users.failures_after
    # compares with them.
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012 (SQLAlchemy reads it)
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(index=True)
    username: Mapped[str] = mapped_column(String(150), index=True)  # as typed, known or not
    client: Mapped[str | None] = mapped_column(String(64), index=True)  # address (IPv6: /64)
    reason: Mapped[str | None] = mapped_column(String(32))


class AuditEvent(Base):
    """Append-only record of who did what; each row carries the hash of the one before and
    its own MAC (``governance.audit``).

    Triggers (migration 0003, kept in place by ``metadata.append_only``) refuse UPDATE and
    DELETE on this table.
    """

    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    object_kind: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str] = mapped_column(String(500))
    outcome: Mapped[str] = mapped_column(String(16))  # ok, denied, failed
    detail: Mapped[dict[str, Any]]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    # "hmac-sha256" (keyed, with the key's id) or "sha256" (written before migration 0006)
    scheme: Mapped[str] = mapped_column(String(16), server_default="sha256")
    key_id: Mapped[str | None] = mapped_column(String(16))


class QuarantinedRow(Base):
    """A source row that could not be loaded, kept with where it came from and why."""

    __tablename__ = "quarantined_rows"
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("ingest_runs.id"), index=True)
    source_id: Mapped[str] = mapped_column(String(128))
    file: Mapped[str] = mapped_column(String(500))  # the payload's original name
    line: Mapped[int | None] = mapped_column(BigInteger)  # 1-based line (CSV) or record number
    column: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[str | None] = mapped_column(Text)  # the row as it was in the source


class QualityResult(Base):
    """The outcome of one declared quality check on one run's candidate version."""

    __tablename__ = "quality_results"
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("ingest_runs.id"), index=True)
    source_id: Mapped[str] = mapped_column(String(128))
    check: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(500))  # the column(s) or condition checked
    severity: Mapped[str] = mapped_column(String(8))  # warn, error
    passed: Mapped[bool] = mapped_column(Boolean)
    failing_rows: Mapped[int] = mapped_column(BigInteger, default=0)
    detail: Mapped[str] = mapped_column(Text, default="")


class SourceState(Base):
    """What a source remembers between runs: its high-water mark."""

    __tablename__ = "source_state"
    source_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    high_water_mark: Mapped[str | None] = mapped_column(String(100))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SourceLock(Base):
    """At most one run per source at a time, across processes and machines."""

    __tablename__ = "source_locks"
    source_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))  # host:pid:random
    acquired_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]  # renewed while the run is alive


class ApiToken(Base):
    """A scoped, expiring, revocable token for machines; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    scopes: Mapped[list[Any]]  # e.g. ["source:push:calls_911"]
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]
    last_used_at: Mapped[dt.datetime | None]


class PushBatch(Base):
    """A pushed batch by its Idempotency-Key: a retried batch answers without loading again.

    A key belongs to the client that sent it (``token:<id>`` for an API token), within one
    source: another token's batch under the same key is another batch, whose answer the
    first token never sees and cannot block.
    """

    __tablename__ = "push_batches"
    __table_args__ = (UniqueConstraint("client", "source_id", "idempotency_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    client: Mapped[str] = mapped_column(String(200))
    source_id: Mapped[str] = mapped_column(String(128))
    idempotency_key: Mapped[str] = mapped_column(String(200))
    token_id: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id"))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("ingest_runs.id"))
    body_sha256: Mapped[str] = mapped_column(String(64))
    response: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Document(Base):
    """An unstructured file (PDF, image) registered as a document of a dataset."""

    __tablename__ = "documents"
    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[str] = mapped_column(String(128), index=True)
    title: Mapped[str] = mapped_column(String(500))
    lake_path: Mapped[str] = mapped_column(String(1000))
    original_name: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(200))
    added_by: Mapped[str] = mapped_column(String(200))
    added_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class MeasureApproval(Base):
    """A measure's definition approved for publication; a changed definition needs a new one."""

    __tablename__ = "measure_approvals"
    __table_args__ = (UniqueConstraint("measure_id", "definition_hash"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    measure_id: Mapped[str] = mapped_column(String(128))
    definition_hash: Mapped[str] = mapped_column(String(64))
    approved_by: Mapped[str] = mapped_column(String(200))
    approved_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    note: Mapped[str] = mapped_column(Text, default="")


class AccessRequest(Base):
    """An actor's request to read a dataset; once approved it is a grant until expires_at."""

    __tablename__ = "access_requests"
    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[str] = mapped_column(String(128), index=True)
    requested_by: Mapped[str] = mapped_column(String(200), index=True)
    reason: Mapped[str] = mapped_column(Text)
    days: Mapped[int] = mapped_column(Integer)  # how long the grant lasts once approved
    status: Mapped[str] = mapped_column(String(16))  # pending, approved, denied
    requested_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[dt.datetime | None]
    decision_note: Mapped[str] = mapped_column(Text, default="")
    expires_at: Mapped[dt.datetime | None]  # set on approval: decided_at + days


class PerformanceAgreement(Base):
    """One version of a department head's commitments for a period. Once signed it is
    locked: the service refuses edits, and an amendment is a new version."""

    __tablename__ = "performance_agreements"
    __table_args__ = (UniqueConstraint("department", "period", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    department: Mapped[str] = mapped_column(String(128))
    period: Mapped[str] = mapped_column(String(32))  # e.g. 2025-01-01/2025-12-31
    version: Mapped[int] = mapped_column(Integer)
    previous_id: Mapped[int | None] = mapped_column(ForeignKey("performance_agreements.id"))
    content: Mapped[dict[str, Any]]  # commitments, as hashed on signing
    drafted_by: Mapped[str] = mapped_column(String(200))
    drafted_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    signed_by: Mapped[str | None] = mapped_column(String(200))
    signed_at: Mapped[dt.datetime | None]
    content_hash: Mapped[str | None] = mapped_column(String(64))  # SHA-256 of canonical JSON


class AgreementReview(Base):
    """A quarterly review note on a signed agreement: appended, never edited."""

    __tablename__ = "agreement_reviews"
    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("performance_agreements.id"), index=True)
    quarter: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(200))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ObjectiveComment(Base):
    """An explanation of an objective's status; an edit is a new row that replaces it."""

    __tablename__ = "objective_comments"
    id: Mapped[int] = mapped_column(primary_key=True)
    objective_id: Mapped[str] = mapped_column(String(128), index=True)
    period: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(200))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("objective_comments.id"))


class ActionItem(Base):
    """Something someone will do about an objective, by a date; its status is the latest
    of its ``ActionItemChange`` rows."""

    __tablename__ = "action_items"
    id: Mapped[int] = mapped_column(primary_key=True)
    objective_id: Mapped[str] = mapped_column(String(128), index=True)
    title: Mapped[str] = mapped_column(String(500))
    owner: Mapped[str] = mapped_column(String(150))  # a user name
    due: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))  # open, in_progress, done, dropped
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ActionItemChange(Base):
    """Every status an action item has had, with who set it and when."""

    __tablename__ = "action_item_changes"
    id: Mapped[int] = mapped_column(primary_key=True)
    action_item_id: Mapped[int] = mapped_column(ForeignKey("action_items.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    changed_by: Mapped[str] = mapped_column(String(200))
    changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class StatMeeting(Base):
    """A stat meeting held, with what its agenda was, so the next one can say what changed."""

    __tablename__ = "stat_meetings"
    id: Mapped[int] = mapped_column(primary_key=True)
    held_on: Mapped[dt.date] = mapped_column(Date)
    attendees: Mapped[str] = mapped_column(Text, default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    # objective id → status at the meeting; action item id → status at the meeting
    objectives: Mapped[dict[str, Any]]
    actions: Mapped[dict[str, Any]]
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
