"""Signing in: a password, then — for a user with a second factor — a six-digit code.

Every refusal looks the same to the person trying, whatever the reason (no such user,
wrong password or code, disabled, locked, throttled), and an unknown name costs the same
argon2 work as a known one, so neither the answer nor its timing tells which names exist.
The reason is kept in the audit log.

Guessing meets three limits, each over a sliding window (``lockout_window_minutes``):
failures older than the window are forgotten.

- A client (its address; IPv6 by /64) trying one user name: after one failure fewer than
  the lockout (``lockout_attempts`` - 1), its further tries at that name are refused
  without being checked, and count for nothing, until its oldest failure leaves the window.
- A client, whatever the names: likewise after ``throttle_attempts`` failures.
- An account, from any clients: ``lockout_attempts`` failed passwords or codes lock it
  for ``lockout_minutes``; tries while locked count for the client only.

So one client alone can never lock an account, however fast or slowly it tries; it takes
several, and the lock then ends on time, or sooner by an administrator (``users.unlock``).
A throttled try costs no argon2 work: it only tells a client about its own failures.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import logging
import secrets
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from civicstat.governance import audit, totp
from civicstat.governance import secrets as secret_keys
from civicstat.governance.actors import ANONYMOUS, Actor
from civicstat.governance.audit import Event, Outcome
from civicstat.governance.passwords import verify_password
from civicstat.metadata import accounts, sign_ins
from civicstat.metadata.models import SignInAttempt, SignInChallenge, User, utcnow
from civicstat.services.accounts.users import TOTP_PURPOSE, actor_of
from civicstat.services.context import Context
from civicstat.settings import Settings

log = logging.getLogger(__name__)

CHALLENGE_MINUTES = 5
_COUNTED = frozenset({"password", "code"})  # failures that count towards an account's lockout
_SERVER_FAULT = "unreadable-second-factor"  # not the client's doing: counts for nothing


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
    ctx: Context,
    username: str,
    password: str,
    *,
    client: str | None = None,
    now: dt.datetime | None = None,
) -> Granted | CodeNeeded | Refused:
    """The first step: signed in, or a code is needed next, or refused (for any reason).

    ``client`` is the address the attempt comes from (None: not known, e.g. a test or the
    shell; then only the account's lockout applies)."""
    now = now or utcnow()
    name = username.strip().lower()[:150]
    where = client_key(client)
    with ctx.db.write() as session:
        attempt_id = _admit(session, ctx.settings, name, where, now)
        found = accounts.user_by_name(session, name)
        stored_hash = found.password_hash if found is not None else None
        user_id = found.id if found is not None else None
    if attempt_id is None:
        log.info("sign-in from %s refused unchecked: too many failures from there", where)
        return Refused()
    # Outside any transaction (it is the slow part), and done for unknown names too.
    password_ok = verify_password(stored_hash, password)
    with ctx.db.write() as session:
        attempt = sign_ins.find(session, attempt_id) or sign_ins.add(session, name, where, now)
        user = accounts.user(session, user_id, for_update=True) if user_id is not None else None
        reason = _refusal(user, now) or (None if password_ok else "password")
        if reason is not None:
            _fail(session, ctx.settings, user, attempt, reason, now)
            return Refused()
        assert user is not None
        if user.totp_secret is not None:
            session.delete(attempt)  # the password was right; the code step counts anew
            return _challenge(session, user, now)
        return _grant(session, user, attempt, mfa=False)


def with_code(
    ctx: Context,
    challenge: str,
    code: str,
    *,
    client: str | None = None,
    now: dt.datetime | None = None,
) -> Granted | Refused:
    """The second step: the code from the user's authenticator app."""
    now = now or utcnow()
    where = client_key(client)
    key = secret_keys.secret_key(ctx.settings)
    with ctx.db.write() as session:
        pending = accounts.challenge(session, _hash(challenge))
        if pending is None:
            return Refused(retry=False)
        if pending.expires_at <= now:
            session.delete(pending)
            return Refused(retry=False)
        user = accounts.user(session, pending.user_id, for_update=True)
        assert user is not None  # a challenge belongs to a user (foreign key)
        sign_ins.serialise_attempts(session)
        if where is not None and _throttled(session, ctx.settings, user.username, where, now):
            log.info("sign-in code from %s refused unchecked: too many failures", where)
            session.delete(pending)
            return Refused(retry=False)
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
                reason = _SERVER_FAULT
            else:
                reason = "code" if step is None else None
        if reason is not None:
            attempt = (
                None
                if reason == _SERVER_FAULT
                else sign_ins.add(session, user.username, where, now)
            )
            if _fail(session, ctx.settings, user, attempt, reason, now, name=user.username):
                return Refused(retry=False)  # locked: its challenges are gone already
            if reason != "code":
                session.delete(pending)
                return Refused(retry=False)
            return Refused()
        user.totp_last_step = step
        session.delete(pending)
        return _grant(session, user, None, mfa=True, client=where)


def challenge_csrf(
    ctx: Context, challenge: str, *, expired_too: bool = False, now: dt.datetime | None = None
) -> str | None:
    """The CSRF token of a challenge, for the code form; None when there is none.

    ``expired_too`` lets a form posted just too late be checked, and answered "sign in
    again" by ``with_code``, rather than refused as forged."""
    now = now or utcnow()
    with ctx.db.session() as session:
        pending = accounts.challenge(session, _hash(challenge))
        if pending is None or (pending.expires_at <= now and not expired_too):
            return None
        return pending.csrf_token


def authenticate(
    ctx: Context, username: str, password: str, *, client: str | None = None
) -> Actor | None:
    """Password-only sign-in: the user, or None when refused or when a code is needed."""
    result = with_password(ctx, username, password, client=client)
    return result.actor if isinstance(result, Granted) else None


def client_key(address: str | None) -> str | None:
    """What a client is throttled by: an IPv4 address as it is, an IPv6 address by its /64
    network (one machine is commonly given a whole /64), anything else as given."""
    if address is None or not address.strip():
        return None
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return address.strip()[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def per_name_limit(settings: Settings) -> int:
    """Failures one client may make at one user name within the window: one fewer than
    lock an account, so that no client can lock an account on its own."""
    return max(1, settings.lockout_attempts - 1)


def _window_start(settings: Settings, now: dt.datetime) -> dt.datetime:
    return now - dt.timedelta(minutes=settings.lockout_window_minutes)


def _admit(
    session: Session, settings: Settings, name: str, where: str | None, now: dt.datetime
) -> int | None:
    """Count this attempt in (its number), or None when its client is throttled; done one
    at a time, so a burst of simultaneous tries cannot all slip under a limit."""
    sign_ins.serialise_attempts(session)
    sign_ins.forget_older(session, _window_start(settings, now))
    if where is not None and _throttled(session, settings, name, where, now):
        return None
    return sign_ins.add(session, name, where, now).id


def _throttled(
    session: Session, settings: Settings, name: str, where: str, now: dt.datetime
) -> bool:
    since = _window_start(settings, now)
    at_name = sign_ins.count(session, since=since, client=where, username=name)
    if at_name >= per_name_limit(settings):
        return True
    return sign_ins.count(session, since=since, client=where) >= (settings.throttle_attempts)


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
    attempt: SignInAttempt | None,
    reason: str,
    now: dt.datetime,
    *,
    name: str | None = None,
) -> bool:
    """Audit a refusal and count it; True when this failure locked the account."""
    where = attempt.client if attempt is not None else None
    name = attempt.username if attempt is not None else (name or "")
    audit.record(
        session,
        ANONYMOUS,
        Event.SIGN_IN,
        "user",
        name,
        Outcome.FAILED,
        reason=reason,
        **_from(where),
    )
    if attempt is None:
        return False
    attempt.reason = reason
    session.flush()
    _note_throttle(session, settings, attempt, now)
    if user is None or reason not in _COUNTED:
        return False
    user.failed_sign_ins = sign_ins.count(
        session,
        since=_window_start(settings, now),
        username=user.username,
        reasons=_COUNTED,
        after_id=user.failures_after,
    )
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
        **_from(where),
    )
    # Tries while locked are refused as "locked": none counts towards the next lockout.
    user.failed_sign_ins = 0
    user.failures_after = sign_ins.last_id(session)
    accounts.drop_challenges(session, user.id)
    return True


def _note_throttle(
    session: Session, settings: Settings, attempt: SignInAttempt, now: dt.datetime
) -> None:
    """Audit a client reaching a limit: from its next try on, it is refused unchecked."""
    if attempt.client is None:
        return
    since = _window_start(settings, now)
    failed = sign_ins.count(session, since=since, client=attempt.client, username=attempt.username)
    if failed == per_name_limit(settings):
        audit.record(
            session,
            ANONYMOUS,
            Event.THROTTLE,
            "user",
            attempt.username,
            client=attempt.client,
            failures=failed,
        )
    failed = sign_ins.count(session, since=since, client=attempt.client)
    if failed == settings.throttle_attempts:
        audit.record(session, ANONYMOUS, Event.THROTTLE, "client", attempt.client, failures=failed)


def _from(where: str | None) -> dict[str, Any]:
    return {"client": where} if where is not None else {}


def _challenge(session: Session, user: User, now: dt.datetime) -> CodeNeeded:
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    # A new password step replaces any earlier unfinished one; abandoned ones are swept.
    accounts.drop_challenges(session, user.id, expired_at=now)
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


def _grant(
    session: Session,
    user: User,
    attempt: SignInAttempt | None,
    *,
    mfa: bool,
    client: str | None = None,
) -> Granted:
    """Signed in: the account's count starts again, and so does this client's at this name
    (it has shown it knows the password)."""
    where = attempt.client if attempt is not None else client
    if attempt is not None:
        session.delete(attempt)
    if where is not None:
        sign_ins.forget(session, user.username, where)
    user.failed_sign_ins = 0
    user.locked_until = None
    user.failures_after = sign_ins.last_id(session)
    actor = actor_of(user, mfa=mfa)
    audit.record(session, actor, Event.SIGN_IN, "user", user.username, mfa=mfa, **_from(where))
    return Granted(actor)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
