"""Published data: dataset versions and heads, registered documents, and the observations
computed from them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Date, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from civicstat.metadata.models._base import Base, utcnow


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
