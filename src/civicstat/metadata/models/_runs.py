"""Runs of sources: their records, raw payloads, quarantined rows, check results, what a
source remembers between runs, its lock, and pushed batches."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from civicstat.metadata.models._base import Base, utcnow


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
