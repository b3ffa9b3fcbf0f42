"""Accountability: performance agreements and their reviews, comments on objectives, action
items and their history, and stat meetings."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from civicstat.metadata.models._base import Base, utcnow


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
