"""Plan revisions: every applied spec, every definition by hash, the current named
objects, and measure definitions approved for publication."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from civicstat.metadata.models._base import Base, utcnow


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
