"""Users, sign-in and browser sessions."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import select

from civicstat.governance import audit
from civicstat.governance.actors import Actor, Role
from civicstat.governance.passwords import hash_password, verify_password
from civicstat.governance.permissions import USER_MANAGE, Resource, require
from civicstat.metadata.models import User, WebSession, utcnow
from civicstat.services.context import Context
from civicstat.services.errors import InvalidInput

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,149}$")
_SEEN_EVERY = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class SignedIn:
    actor: Actor
    csrf_token: str


def add_user(
    ctx: Context,
    actor: Actor,
    *,
    username: str,
    password: str,
    role: Role,
    department: str | None = None,
    display_name: str | None = None,
) -> Actor:
    require(actor, USER_MANAGE, Resource("user", username))
    username = username.strip().lower()
    if not USERNAME.match(username):
        raise InvalidInput("a user name is 2-150 characters: lower-case letters, digits, . _ @ -")
    try:
        password_hash = hash_password(password)
    except ValueError as error:
        raise InvalidInput(str(error)) from error
    with ctx.db.write() as session:
        if session.scalar(select(User.id).where(User.username == username)) is not None:
            raise InvalidInput(f"user {username!r} already exists")
        user = User(
            username=username,
            display_name=display_name or username,
            password_hash=password_hash,
            role=role.value,
            department=department,
        )
        session.add(user)
        session.flush()
        audit.record(
            session, actor, "user:add", "user", username, role=role.value, department=department
        )
        return _actor(user)


def authenticate(ctx: Context, username: str, password: str) -> Actor | None:
    """The user if the password is right; the same work is done for unknown names."""
    username = username.strip().lower()
    with ctx.db.write() as session:
        user = session.scalar(select(User).where(User.username == username))
        ok = verify_password(user.password_hash if user else None, password)
        if user is None or not ok or not user.is_active:
            audit.record(
                session,
                Actor("anonymous", "anonymous"),
                "auth:sign-in",
                "user",
                username[:150],
                "failed",
            )
            return None
        actor = _actor(user)
        audit.record(session, actor, "auth:sign-in", "user", username)
        return actor


def open_session(ctx: Context, actor: Actor) -> tuple[str, SignedIn]:
    """A new random session token (only its hash is stored) and a CSRF token for forms."""
    if actor.user_id is None:
        raise InvalidInput("only users have browser sessions")
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    now = utcnow()
    with ctx.db.write() as session:
        session.add(
            WebSession(
                token_hash=_hash(token),
                user_id=actor.user_id,
                csrf_token=csrf,
                created_at=now,
                last_seen_at=now,
                expires_at=now + dt.timedelta(hours=ctx.settings.session_hours),
            )
        )
    return token, SignedIn(actor, csrf)


def resume_session(ctx: Context, token: str) -> SignedIn | None:
    """The signed-in user behind a session cookie, read fresh from the store every time."""
    now = utcnow()
    with ctx.db.session() as session:
        row = session.get(WebSession, _hash(token))
        if row is None or row.expires_at <= now:
            return None
        user = session.get(User, row.user_id)
        if user is None or not user.is_active:
            return None
        signed_in = SignedIn(_actor(user), row.csrf_token)
        stale = now - row.last_seen_at > _SEEN_EVERY
    if stale:
        with ctx.db.write() as session:
            found = session.get(WebSession, _hash(token))
            if found is not None:
                found.last_seen_at = now
    return signed_in


def close_session(ctx: Context, token: str) -> None:
    with ctx.db.write() as session:
        row = session.get(WebSession, _hash(token))
        if row is not None:
            session.delete(row)


def _actor(user: User) -> Actor:
    return Actor("user", user.username, Role(user.role), user.department, user.id)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
