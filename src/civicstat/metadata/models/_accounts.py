"""Accounts and access: users, browser sessions, sign-in challenges and attempts, API
tokens, and access requests."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from civicstat.metadata.models._base import Base, utcnow


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
