"""The audit log's table."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from civicstat.metadata.models._base import Base, utcnow


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
