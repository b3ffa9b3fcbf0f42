"""API tokens: how a machine (a CAD export job, an ERP integration) proves who it is.

A token is scoped (it may do only what its scopes name, e.g. ``source:push:calls_911``),
expires, and can be revoked. Its text is shown once, when it is made; only its SHA-256 is
stored, so a copy of the metadata store or a backup gives nobody a working token.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from civicstat.governance import audit
from civicstat.governance.actors import Actor
from civicstat.governance.permissions import (
    ACTIONS,
    TOKEN_ACTIONS,
    TOKEN_MANAGE,
    Resource,
    require,
)
from civicstat.metadata import accounts
from civicstat.metadata.models import ApiToken, utcnow
from civicstat.plan import AppliedPlan
from civicstat.services.context import Context
from civicstat.services.errors import InvalidInput, NotFound

PREFIX = "cst_"  # lets secret scanners (and people) recognise a CivicStat token
DEFAULT_DAYS = 90
MAX_DAYS = 366  # a token that never expires is a standing risk; rotate at least yearly
_USED_EVERY = dt.timedelta(minutes=1)  # last_used_at is a hint, not a log: spare the writes
_NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,100}$")
_SCOPE = re.compile(r"^(?P<action>[a-z]+:[a-z]+):(?P<resource>\*|[a-z][a-z0-9_-]{0,62})$")
_TEXT = re.compile(rf"^{PREFIX}[A-Za-z0-9_-]{{20,100}}$")

TokenStatus = Literal["active", "expired", "revoked"]


@dataclass(frozen=True)
class TokenInfo:
    """What may be shown about a token: everything but its text."""

    id: int
    name: str
    scopes: tuple[str, ...]
    created_by: str
    created_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None

    def status(self, now: dt.datetime | None = None) -> TokenStatus:
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at <= (now or utcnow()) else "active"


@dataclass(frozen=True)
class NewToken:
    """A token just made. ``text`` exists only here: it is never stored, logged or shown again."""

    text: str = field(repr=False)
    info: TokenInfo


def hash_token(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def create(
    ctx: Context,
    actor: Actor,
    *,
    name: str,
    scopes: Iterable[str],
    expires_days: int = DEFAULT_DAYS,
    now: dt.datetime | None = None,
) -> NewToken:
    """Make a token; the caller must hand its text over now, as it cannot be read again."""
    require(actor, TOKEN_MANAGE, Resource("token", name))
    name = name.strip()
    if not _NAME.match(name):
        raise InvalidInput("a token name is 1-100 characters, without control characters")
    if not 1 <= expires_days <= MAX_DAYS:
        raise InvalidInput(f"a token expires after 1 to {MAX_DAYS} days, not {expires_days}")
    wanted = sorted(set(scopes))
    if not wanted:
        raise InvalidInput("a token needs at least one scope, e.g. source:push:SOURCE_ID")
    text = PREFIX + secrets.token_urlsafe(32)
    now = now or utcnow()
    with ctx.db.write() as session:
        plan = ctx.require_plan(session)
        for scope in wanted:
            _check_scope(plan, scope)
        row = ApiToken(
            token_hash=hash_token(text),
            name=name,
            scopes=wanted,
            created_by=str(actor),
            created_at=now,
            expires_at=now + dt.timedelta(days=expires_days),
        )
        session.add(row)
        session.flush()
        audit.record(
            session,
            actor,
            "token:create",
            "token",
            str(row.id),
            name=name,
            scopes=wanted,
            expires_at=row.expires_at.isoformat(),
        )
        return NewToken(text, _info(row))


def list_tokens(ctx: Context, actor: Actor) -> list[TokenInfo]:
    """Every token, revoked and expired ones too: they explain past pushes in the audit log."""
    require(actor, TOKEN_MANAGE, Resource("token", "*"))
    with ctx.db.session() as session:
        return [_info(t) for t in accounts.tokens(session)]


def revoke(
    ctx: Context, actor: Actor, token_id: int, *, now: dt.datetime | None = None
) -> TokenInfo:
    """Stop a token working from its next request; revoking twice keeps the first time."""
    require(actor, TOKEN_MANAGE, Resource("token", str(token_id)))
    with ctx.db.write() as session:
        row = accounts.token(session, token_id)
        if row is None:
            raise NotFound.of("token", str(token_id))
        if row.revoked_at is None:
            row.revoked_at = now or utcnow()
            audit.record(session, actor, "token:revoke", "token", str(row.id), name=row.name)
        return _info(row)


def authenticate_token(
    ctx: Context, token_text: str, required_scope: str, *, now: dt.datetime | None = None
) -> Actor | None:
    """The machine behind ``token_text`` if the token is known, unexpired, unrevoked and
    holds ``required_scope``; None otherwise (the caller answers 401 and says no more).

    ``required_scope`` is a full scope (``source:push:calls_911``) or an action
    (``source:push``), which any scope of that action satisfies: the resource is then
    checked by the service, through permissions, so that a token scoped to another source
    gets the same answer as for a source that does not exist.

    The row is found by the SHA-256 of the text, so lookup time says nothing about any
    stored token; ``compare_digest`` then confirms the match byte for byte, whatever the
    database's string comparison rules.
    """
    if not _TEXT.match(token_text):
        return None
    digest = hash_token(token_text)
    now = now or utcnow()
    with ctx.db.session() as session:
        row = accounts.token_by_hash(session, digest)
        if row is None or not hmac.compare_digest(row.token_hash, digest):
            return None
        if row.revoked_at is not None or row.expires_at <= now:
            return None
        scopes = frozenset(str(s) for s in row.scopes)
        if not _covers(scopes, required_scope):
            return None
        token_id = row.id
        actor = Actor("token", f"token:{row.id}:{row.name}", token_id=row.id, scopes=scopes)
        stale = row.last_used_at is None or now - row.last_used_at >= _USED_EVERY
    if stale:
        with ctx.db.write() as session:
            found = accounts.token(session, token_id)
            if found is not None and (
                found.last_used_at is None or now - found.last_used_at >= _USED_EVERY
            ):
                found.last_used_at = now
    return actor


def _covers(scopes: frozenset[str], required: str) -> bool:
    for scope in scopes:
        action, _, resource = scope.rpartition(":")
        if scope == required or scope.startswith(f"{required}:"):
            return True
        if resource == "*" and required.startswith(f"{action}:"):
            return True
    return False


def _check_scope(plan: AppliedPlan, scope: str) -> None:
    """A scope names a token-grantable action and a resource that exists (or ``*``), so a
    typo is caught when the token is made, not when a push is refused at night."""
    match = _SCOPE.match(scope)
    if match is None or match["action"] not in TOKEN_ACTIONS:
        grantable = ", ".join(f"{a}:ID" for a in sorted(TOKEN_ACTIONS))
        raise InvalidInput(f"invalid scope {scope!r}: a scope is one of {grantable} (or ID *)")
    resource = match["resource"]
    kind = ACTIONS[match["action"]].resource_kind
    if kind == "portal" and resource != "*":
        # One portal per workspace: an app token is portal:app:* (docs/portal.md).
        raise InvalidInput(f"scope {scope!r}: an app token's scope is {match['action']}:*")
    if resource == "*" or kind != "source":
        return
    source = plan.sources.get(resource)
    if source is None:
        raise InvalidInput(f"scope {scope!r}: no source {resource!r} in the applied plan")
    if match["action"] == "source:push" and source.connector != "push":
        raise InvalidInput(
            f"scope {scope!r}: source {resource!r} does not accept pushes "
            f"(its connector is {source.connector!r}, not 'push')"
        )


def _info(row: ApiToken) -> TokenInfo:
    return TokenInfo(
        id=row.id,
        name=row.name,
        scopes=tuple(str(s) for s in row.scopes),
        created_by=row.created_by,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )
