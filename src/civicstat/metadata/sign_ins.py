"""Sign-in attempts kept for a while: counted by client, by client and user name, and by
account, over a sliding window (``services.accounts.sign_in`` decides what the counts mean)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from civicstat.metadata.db import serialise
from civicstat.metadata.models import SignInAttempt

__all__ = ["add", "count", "find", "forget", "forget_older", "last_id", "serialise_attempts"]


def serialise_attempts(session: Session) -> None:
    """Count and add attempts one transaction at a time, so that a burst of simultaneous
    tries cannot all pass a limit before any of them is counted."""
    serialise(session, "civicstat:sign-in-attempts")


def add(session: Session, username: str, client: str | None, at: dt.datetime) -> SignInAttempt:
    attempt = SignInAttempt(at=at, username=username, client=client)
    session.add(attempt)
    session.flush()
    return attempt


def last_id(session: Session) -> int:
    """The number of the newest attempt (0 when none): later ones are greater."""
    return session.scalar(select(func.max(SignInAttempt.id))) or 0


def count(
    session: Session,
    *,
    since: dt.datetime,
    client: str | None = None,
    username: str | None = None,
    reasons: Collection[str] | None = None,
    after_id: int | None = None,
) -> int:
    """Attempts after ``since``, of this client and/or user name, of these reasons only
    (attempts still being checked have none), numbered after ``after_id``."""
    query = select(func.count()).select_from(SignInAttempt).where(SignInAttempt.at > since)
    if after_id is not None:
        query = query.where(SignInAttempt.id > after_id)
    if client is not None:
        query = query.where(SignInAttempt.client == client)
    if username is not None:
        query = query.where(SignInAttempt.username == username)
    if reasons is not None:
        query = query.where(SignInAttempt.reason.in_(list(reasons)))
    return session.scalar(query) or 0


def forget(session: Session, username: str, client: str | None = None) -> int:
    """Drop the attempts at this user name (from this client only, when given)."""
    query = delete(SignInAttempt).where(SignInAttempt.username == username)
    if client is not None:
        query = query.where(SignInAttempt.client == client)
    return session.execute(query).rowcount  # type: ignore[attr-defined,no-any-return]


def forget_older(session: Session, than: dt.datetime) -> None:
    """Drop attempts that no longer count for anything."""
    session.execute(delete(SignInAttempt).where(SignInAttempt.at <= than))


def find(session: Session, attempt_id: int) -> SignInAttempt | None:
    """The attempt numbered ``attempt_id``, if it is still kept."""
    return session.get(SignInAttempt, attempt_id)
