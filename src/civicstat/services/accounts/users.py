"""User accounts: add, list, change role, disable and enable, unlock, enrol a second factor.

Sessions read the user afresh on every request (``services.accounts.sessions``), so a change made
here takes effect on the user's next request. No change may leave the workspace without an
active administrator: the one who could undo it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from civicstat.governance import audit, secrets, totp
from civicstat.governance.actors import Actor, Role
from civicstat.governance.audit import Event
from civicstat.governance.passwords import hash_password
from civicstat.governance.permissions import USER_MANAGE, Resource, require
from civicstat.metadata import accounts, sign_ins
from civicstat.metadata.models import User, utcnow
from civicstat.services.audit import require_recorded
from civicstat.services.context import Context
from civicstat.services.errors import InvalidInput, NotFound

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,149}$")
TOTP_PURPOSE = "totp"
ISSUER = "CivicStat"


@dataclass(frozen=True)
class UserInfo:
    """What an administrator may see of an account: never a hash or a secret."""

    username: str
    display_name: str
    role: Role
    department: str | None
    active: bool
    second_factor: bool
    locked_until: dt.datetime | None
    created_at: dt.datetime


@dataclass(frozen=True)
class TotpEnrolment:
    """Shown once, to hand to the user; only the encrypted seed is stored."""

    username: str
    secret: str  # base32, for typing into an authenticator app
    uri: str  # otpauth:// URI, for a QR code

    def __repr__(self) -> str:
        return f"TotpEnrolment(username={self.username!r}, secret=<hidden>, uri=<hidden>)"


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
        if accounts.user_id_by_name(session, username) is not None:
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
            session, actor, Event.USER_ADD, "user", username, role=role.value, department=department
        )
        return actor_of(user)


def list_users(ctx: Context, actor: Actor) -> list[UserInfo]:
    require(actor, USER_MANAGE, Resource("user", "*"))
    with ctx.db.session() as session:
        rows: Sequence[User] = accounts.users(session)
        return [_info(user) for user in rows]


def set_role(ctx: Context, actor: Actor, username: str, role: Role) -> UserInfo:
    """Change a user's role; their open sessions act with the new role from the next request."""
    _may_manage(ctx, actor, username, Event.ROLE_CHANGE)
    with ctx.db.write() as session:
        admins = _lock_active_admins(session)
        user = _find(session, username)
        if role is not Role.ADMIN:
            _keep_an_admin(user, admins, "take the administrator role from")
        before = user.role
        user.role = role.value
        audit.record(
            session,
            actor,
            Event.ROLE_CHANGE,
            "user",
            user.username,
            before=before,
            after=role.value,
        )
        return _info(user)


def disable(ctx: Context, actor: Actor, username: str) -> UserInfo:
    """Stop a user from signing in; their open sessions end at once."""
    _may_manage(ctx, actor, username, Event.USER_DISABLE)
    with ctx.db.write() as session:
        admins = _lock_active_admins(session)
        user = _find(session, username)
        _keep_an_admin(user, admins, "disable")
        user.is_active = False
        ended = accounts.end_sessions(session, user.id)
        audit.record(session, actor, Event.USER_DISABLE, "user", user.username, sessions=ended)
        return _info(user)


def enable(ctx: Context, actor: Actor, username: str) -> UserInfo:
    """Let a disabled user sign in again; also lifts a lockout."""
    _may_manage(ctx, actor, username, Event.USER_ENABLE)
    with ctx.db.write() as session:
        user = _find(session, username)
        user.is_active = True
        _forget_failures(session, user)
        audit.record(session, actor, Event.USER_ENABLE, "user", user.username)
        return _info(user)


def unlock(ctx: Context, actor: Actor, username: str) -> UserInfo:
    """Lift a lockout now, and forget the failed sign-ins at this name from every client,
    so neither the account nor the user's own address stays refused. Audited, with the
    lock it lifted."""
    _may_manage(ctx, actor, username, Event.USER_UNLOCK)
    now = utcnow()
    with ctx.db.write() as session:
        user = _find(session, username)
        locked = user.locked_until if user.locked_until and user.locked_until > now else None
        forgotten = _forget_failures(session, user)
        audit.record(
            session,
            actor,
            Event.USER_UNLOCK,
            "user",
            user.username,
            was_locked_until=locked.isoformat() if locked else None,
            failures_forgotten=forgotten,
        )
        return _info(user)


def enroll_totp(ctx: Context, actor: Actor, username: str) -> TotpEnrolment:
    """Give a user a new TOTP seed (replacing any old one): from their next sign-in they
    are asked for a code. The seed is returned once and stored only encrypted."""
    _may_manage(ctx, actor, username, Event.TOTP_ENROLL)
    key = secrets.secret_key(ctx.settings)
    seed = totp.new_secret()
    with ctx.db.write() as session:
        user = _find(session, username)
        user.totp_secret = secrets.seal(key, TOTP_PURPOSE, seed, bound_to=str(user.id))
        user.totp_last_step = None
        # Sessions opened without the new factor end: the next sign-in asks for a code.
        ended = accounts.end_sessions(session, user.id)
        audit.record(session, actor, Event.TOTP_ENROLL, "user", user.username, sessions=ended)
        name = user.username
    return TotpEnrolment(name, totp.to_base32(seed), totp.provisioning_uri(seed, name, ISSUER))


def actor_of(user: User, mfa: bool = False) -> Actor:
    return Actor("user", user.username, Role(user.role), user.department, user.id, mfa=mfa)


def _may_manage(ctx: Context, actor: Actor, username: str, event: Event) -> None:
    """May ``actor`` change this account? A refusal is audited as the attempted event."""
    resource = Resource("user", username.strip().lower()[:150])
    require_recorded(ctx, actor, USER_MANAGE, resource, event)


def _lock_active_admins(session: Session) -> list[int]:
    """The active administrators' ids, their rows locked until the transaction ends.

    Taken first, in one order, by every change that could remove an administrator: two
    administrators demoting each other at once then run one after the other, and the second
    sees that the first already left only itself (PostgreSQL re-reads a row it waited for;
    SQLite runs write transactions one at a time).
    """
    return accounts.lock_active_with_role(session, Role.ADMIN.value)


def _keep_an_admin(user: User, admins: list[int], change: str) -> None:
    if admins == [user.id]:
        raise InvalidInput(
            f"cannot {change} {user.username!r}: the only active administrator; make "
            "another user an administrator first"
        )


def _find(session: Session, username: str) -> User:
    name = username.strip().lower()
    user = accounts.user_by_name(session, name, for_update=True)
    if user is None:
        raise NotFound.of("user", name)
    return user


def _forget_failures(session: Session, user: User) -> int:
    """Unlock the account and forget its failed sign-ins; how many were forgotten."""
    forgotten = sign_ins.forget(session, user.username)
    user.failed_sign_ins = 0
    user.locked_until = None
    user.failures_after = sign_ins.last_id(session)
    return forgotten


def _info(user: User) -> UserInfo:
    now = utcnow()
    locked = user.locked_until if user.locked_until and user.locked_until > now else None
    return UserInfo(
        username=user.username,
        display_name=user.display_name,
        role=Role(user.role),
        department=user.department,
        active=user.is_active,
        second_factor=user.totp_secret is not None,
        locked_until=locked,
        created_at=user.created_at,
    )
