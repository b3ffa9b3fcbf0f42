"""Accounts as stored: users, browser sessions, sign-in challenges and API tokens.

Lookups and the bulk deletes of account rows, in the caller's transaction; what they
mean (who may sign in, when a session ends) is decided by ``services``. Attempts counted
for throttling live in ``metadata.sign_ins``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from civicstat.metadata.ids import get_row
from civicstat.metadata.models import ApiToken, SignInChallenge, User, WebSession

__all__ = [
    "active_names_with_role",
    "challenge",
    "drop_challenges",
    "end_sessions",
    "lock_active_with_role",
    "token",
    "token_by_hash",
    "tokens",
    "user",
    "user_by_name",
    "user_id_by_name",
    "users",
    "web_session",
]


# Users


def user(session: Session, user_id: int, *, for_update: bool = False) -> User | None:
    """The user with this (stored) id; ``for_update`` locks the row until the end."""
    if for_update:
        return session.get(User, user_id, with_for_update=True)
    return session.get(User, user_id)


def user_by_name(session: Session, username: str, *, for_update: bool = False) -> User | None:
    """The user with exactly this (already normalised) name."""
    query = select(User).where(User.username == username)
    return session.scalar(query.with_for_update() if for_update else query)


def user_id_by_name(session: Session, username: str) -> int | None:
    return session.scalar(select(User.id).where(User.username == username))


def users(session: Session) -> Sequence[User]:
    """Every user, by name."""
    return session.scalars(select(User).order_by(User.username)).all()


def lock_active_with_role(session: Session, role: str) -> list[int]:
    """The ids of the active users with ``role``, their rows locked until the transaction
    ends, taken in one order (by id) so that concurrent callers queue."""
    query = (
        select(User.id)
        .where(User.role == role, User.is_active.is_(True))
        .order_by(User.id)
        .with_for_update()
    )
    return list(session.scalars(query))


def active_names_with_role(session: Session, role: str, department: str) -> list[str]:
    """The names of the active users with ``role`` in ``department``, sorted."""
    return list(
        session.scalars(
            select(User.username)
            .where(
                User.role == role,
                User.department == department,
                User.is_active.is_(True),
            )
            .order_by(User.username)
        )
    )


# Browser sessions and sign-in challenges


def web_session(session: Session, token_hash: str) -> WebSession | None:
    return session.get(WebSession, token_hash)


def end_sessions(session: Session, user_id: int) -> int:
    """Drop a user's sign-in challenges and browser sessions; how many sessions ended."""
    drop_challenges(session, user_id)
    rows = session.scalars(select(WebSession).where(WebSession.user_id == user_id)).all()
    for row in rows:
        session.delete(row)
    return len(rows)


def challenge(session: Session, token_hash: str) -> SignInChallenge | None:
    return session.get(SignInChallenge, token_hash)


def drop_challenges(
    session: Session, user_id: int, *, expired_at: dt.datetime | None = None
) -> None:
    """Drop a user's sign-in challenges, and with ``expired_at`` everyone's that have
    expired by then."""
    condition = SignInChallenge.user_id == user_id
    if expired_at is not None:
        condition = condition | (SignInChallenge.expires_at <= expired_at)
    session.execute(delete(SignInChallenge).where(condition))


# API tokens


def tokens(session: Session) -> Sequence[ApiToken]:
    """Every token, revoked and expired ones too, by id."""
    return session.scalars(select(ApiToken).order_by(ApiToken.id)).all()


def token(session: Session, token_id: int) -> ApiToken | None:
    """The token with this id, which may come from a caller (any integer)."""
    return get_row(session, ApiToken, token_id)


def token_by_hash(session: Session, token_hash: str) -> ApiToken | None:
    return session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash))
