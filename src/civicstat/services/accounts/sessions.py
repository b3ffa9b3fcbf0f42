"""Browser sessions: opened at sign-in, checked on every request, ended at sign-out.

A session is a random token in a cookie, of which only the SHA-256 is stored. It ends
when idle for ``session_idle_minutes`` and, however active, ``session_hours`` after
sign-in. Signing in always makes a new token and ends the one the browser had, so a token
planted before sign-in (session fixation) never becomes a signed-in one. The user is read
afresh on every request: a role change or a disabled account counts from the next one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from civicstat.governance.actors import Actor
from civicstat.metadata import accounts
from civicstat.metadata.models import WebSession, utcnow
from civicstat.services import access
from civicstat.services.accounts.users import actor_of
from civicstat.services.context import Context
from civicstat.services.errors import InvalidInput

_SEEN_EVERY = dt.timedelta(minutes=1)  # at most one write per session per minute


@dataclass(frozen=True)
class SignedIn:
    actor: Actor
    csrf_token: str


def open_session(
    ctx: Context, actor: Actor, *, replacing: str | None = None, now: dt.datetime | None = None
) -> tuple[str, SignedIn]:
    """A new session token and a CSRF token for forms; ``replacing`` (the browser's old
    session token, if any) stops working."""
    if actor.user_id is None:
        raise InvalidInput("only users have browser sessions")
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    with ctx.db.write() as session:
        if replacing:
            old = accounts.web_session(session, _hash(replacing))
            if old is not None:
                session.delete(old)
        session.add(
            WebSession(
                token_hash=_hash(token),
                user_id=actor.user_id,
                csrf_token=csrf,
                created_at=now,
                last_seen_at=now,
                expires_at=now + dt.timedelta(hours=ctx.settings.session_hours),
                mfa=actor.mfa,
            )
        )
    return token, SignedIn(actor, csrf)


def resume_session(
    ctx: Context, token: str, *, now: dt.datetime | None = None, touch: bool = True
) -> SignedIn | None:
    """The signed-in user behind a session cookie, read fresh from the store every time.

    ``touch=False`` for what a page does by itself (its live updates): that is not the
    person using it, so it does not keep an idle session alive."""
    now = now or utcnow()
    idle = dt.timedelta(minutes=ctx.settings.session_idle_minutes)
    limit = dt.timedelta(hours=ctx.settings.session_hours)
    signed_in = None
    with ctx.db.session() as session:
        row = accounts.web_session(session, _hash(token))
        if row is None:
            return None
        ended = (
            now >= row.expires_at or now >= row.created_at + limit or now - row.last_seen_at >= idle
        )
        user = None if ended else accounts.user(session, row.user_id)
        if user is not None and user.is_active:
            signed_in = SignedIn(actor_of(user, mfa=row.mfa), row.csrf_token)
        touch = (
            touch and signed_in is not None and now - row.last_seen_at > min(_SEEN_EVERY, idle / 4)
        )
    if ended:
        close_session(ctx, token)
    elif touch:
        with ctx.db.write() as session:
            found = accounts.web_session(session, _hash(token))
            if found is not None:
                found.last_seen_at = now
    if signed_in is not None:
        # Grants from agreements and access requests, as in force on the context's clock.
        signed_in = SignedIn(access.with_grants(ctx, signed_in.actor), signed_in.csrf_token)
    return signed_in


def close_session(ctx: Context, token: str) -> None:
    with ctx.db.write() as session:
        row = accounts.web_session(session, _hash(token))
        if row is not None:
            session.delete(row)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
