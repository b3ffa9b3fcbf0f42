"""Signing in: a password, then — for a user with a second factor — a six-digit code.

Every refusal looks the same to the person trying, whatever the reason (no such user,
wrong password or code, disabled, locked), and an unknown name costs the same argon2 work
as a known one, so neither the answer nor its timing tells which names exist. The reason
is kept in the audit log. Failed passwords and codes count towards a lockout.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from civicstat.governance import audit, totp
from civicstat.governance import secrets as secret_keys
from civicstat.governance.actors import ANONYMOUS, Actor
from civicstat.governance.audit import Event, Outcome
from civicstat.governance.passwords import verify_password
from civicstat.metadata.models import SignInChallenge, User, utcnow
from civicstat.services.context import Context
from civicstat.services.users import TOTP_PURPOSE, actor_of
from civicstat.settings import Settings

log = logging.getLogger(__name__)

CHALLENGE_MINUTES = 5
_COUNTED = frozenset({"password", "code"})


@dataclass(frozen=True)
class Granted:
    actor: Actor


@dataclass(frozen=True)
class CodeNeeded:
    """The password was right; the code step is bound to this challenge (a cookie) and
    guarded by its own CSRF token."""

    challenge: str = field(repr=False)
    csrf_token: str = field(repr=False)


@dataclass(frozen=True)
class Refused:
    retry: bool = True  # at the code step: whether the same challenge may try again


def with_password(
    ctx: Context, username: str, password: str, *, now: dt.datetime | None = None
) -> Granted | CodeNeeded | Refused:
    """The first step: signed in, or a code is needed next, or refused (for any reason)."""
    now = now or utcnow()
    name = username.strip().lower()[:150]
    with ctx.db.session() as session:
        found = session.scalar(select(User).where(User.username == name))
        stored_hash = found.password_hash if found is not None else None
        user_id = found.id if found is not None else None
    # Outside any transaction (it is the slow part), and done for unknown names too.
    password_ok = verify_password(stored_hash, password)
    with ctx.db.write() as session:
        user = session.get(User, user_id, with_for_update=True) if user_id is not None else None
        reason = _refusal(user, now) or (None if password_ok else "password")
        if reason is not None:
            _fail(session, ctx.settings, user, name, reason, now)
            return Refused()
        assert user is not None
        if user.totp_secret is not None:
            return _challenge(session, user, now)
        return _grant(session, user, mfa=False)


def with_code(
    ctx: Context, challenge: str, code: str, *, now: dt.datetime | None = None
) -> Granted | Refused:
    """The second step: the code from the user's authenticator app."""
    now = now or utcnow()
    key = secret_keys.secret_key(ctx.settings)
    with ctx.db.write() as session:
        pending = session.get(SignInChallenge, _hash(challenge))
        if pending is None:
            return Refused(retry=False)
        if pending.expires_at <= now:
            session.delete(pending)
            return Refused(retry=False)
        user = session.get(User, pending.user_id, with_for_update=True)
        assert user is not None  # a challenge belongs to a user (foreign key)
        reason, step = _refusal(user, now), None
        if reason is None:
            try:
                step = _matching_step(key, user, code, now)
            except secret_keys.UnsealError:
                log.error(
                    "the second-factor secret of user %s cannot be read with this secret key "
                    "(was CIVICSTAT_SECRET_KEY changed?); enrol again: civicstat users "
                    "totp-enroll",
                    user.username,
                )
                reason = "unreadable-second-factor"  # the server's fault: not counted
            else:
                reason = "code" if step is None else None
        if reason is not None:
            if _fail(session, ctx.settings, user, user.username, reason, now):
                return Refused(retry=False)  # locked: its challenges are gone already
            if reason != "code":
                session.delete(pending)
                return Refused(retry=False)
            return Refused()
        user.totp_last_step = step
        session.delete(pending)
        return _grant(session, user, mfa=True)


def challenge_csrf(
    ctx: Context, challenge: str, *, expired_too: bool = False, now: dt.datetime | None = None
) -> str | None:
    """The CSRF token of a challenge, for the code form; None when there is none.

    ``expired_too`` lets a form posted just too late be checked, and answered "sign in
    again" by ``with_code``, rather than refused as forged."""
    now = now or utcnow()
    with ctx.db.session() as session:
        pending = session.get(SignInChallenge, _hash(challenge))
        if pending is None or (pending.expires_at <= now and not expired_too):
            return None
        return pending.csrf_token


def authenticate(ctx: Context, username: str, password: str) -> Actor | None:
    """Password-only sign-in: the user, or None when refused or when a code is needed."""
    result = with_password(ctx, username, password)
    return result.actor if isinstance(result, Granted) else None


def _refusal(user: User | None, now: dt.datetime) -> str | None:
    if user is None:
        return "unknown-user"
    if not user.is_active:
        return "disabled"
    if user.locked_until is not None and user.locked_until > now:
        return "locked"
    return None


def _fail(
    session: Session,
    settings: Settings,
    user: User | None,
    name: str,
    reason: str,
    now: dt.datetime,
) -> bool:
    """Audit a refusal and count it; True when this failure locked the account."""
    audit.record(session, ANONYMOUS, Event.SIGN_IN, "user", name, Outcome.FAILED, reason=reason)
    if user is None or reason not in _COUNTED:
        return False
    user.failed_sign_ins += 1
    if user.failed_sign_ins < settings.lockout_attempts:
        return False
    user.locked_until = now + dt.timedelta(minutes=settings.lockout_minutes)
    audit.record(
        session,
        ANONYMOUS,
        Event.LOCKOUT,
        "user",
        user.username,
        failures=user.failed_sign_ins,
        until=user.locked_until.isoformat(),
    )
    user.failed_sign_ins = 0
    session.execute(delete(SignInChallenge).where(SignInChallenge.user_id == user.id))
    return True


def _challenge(session: Session, user: User, now: dt.datetime) -> CodeNeeded:
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    # A new password step replaces any earlier unfinished one; abandoned ones are swept.
    session.execute(
        delete(SignInChallenge).where(
            (SignInChallenge.user_id == user.id) | (SignInChallenge.expires_at <= now)
        )
    )
    session.add(
        SignInChallenge(
            token_hash=_hash(token),
            user_id=user.id,
            csrf_token=csrf,
            created_at=now,
            expires_at=now + dt.timedelta(minutes=CHALLENGE_MINUTES),
        )
    )
    return CodeNeeded(token, csrf)


def _matching_step(key: bytes, user: User, code: str, now: dt.datetime) -> int | None:
    if user.totp_secret is None:
        return None
    seed = secret_keys.unseal(key, TOTP_PURPOSE, user.totp_secret, bound_to=str(user.id))
    last = user.totp_last_step if user.totp_last_step is not None else -1
    return totp.matching_step(seed, code, now.timestamp(), after_step=last)


def _grant(session: Session, user: User, *, mfa: bool) -> Granted:
    user.failed_sign_ins = 0
    user.locked_until = None
    actor = actor_of(user, mfa=mfa)
    audit.record(session, actor, Event.SIGN_IN, "user", user.username, mfa=mfa)
    return Granted(actor)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
