"""Who is asking: a signed-in user, a machine with an API token, someone anonymous on the
staff app, the public on the portal and open data API, or the local operator."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal


class Role(StrEnum):
    ADMIN = "admin"  # chief data officer / performance office
    DEPARTMENT_HEAD = "department_head"
    STEWARD = "steward"
    ANALYST = "analyst"
    VIEWER = "viewer"


@dataclass(frozen=True, slots=True)
class Actor:
    kind: Literal["user", "token", "anonymous", "public", "operator"]
    name: str
    role: Role | None = None
    department: str | None = None
    user_id: int | None = None
    # A token acts only within its scopes ("source:push:calls_911"), never through a role.
    token_id: int | None = None
    scopes: frozenset[str] = frozenset()
    # Signed in with a second factor (TOTP) as well as a password: needed for restricted data.
    mfa: bool = False
    # Access given to this user beyond their role ("dataset:read:calls_911"), by a sharing
    # agreement or an approved access request, as in force when the actor was resolved.
    grants: frozenset[str] = frozenset()

    @property
    def is_authenticated(self) -> bool:
        return self.kind not in ("anonymous", "public")

    def __str__(self) -> str:
        return self.name if self.kind != "user" else f"user:{self.name}"


# Someone not signed in on the staff app: may do nothing there.
ANONYMOUS = Actor("anonymous", "anonymous")
# Anyone on the public side (the portal, the open data API), signed in or not: reads public
# datasets, public columns only, personal data dropped unless generalised (see
# ``permissions.allowed`` and ``columns.visible_columns``).
PUBLIC = Actor("public", "public")


def operator(name: str) -> Actor:
    """Someone at the server's shell running ``civicstat``: they hold the workspace files,
    so they act as administrator, and the audit log records their OS user name.

    Access to the server's shell is itself a stronger factor than a code from a phone, so
    an operator counts as signed in with a second factor."""
    return Actor("operator", f"operator:{name}", Role.ADMIN, mfa=True)


def system(task: str) -> Actor:
    """CivicStat itself doing derived work, such as recomputing measures after data lands;
    the audit log names the task."""
    return Actor("operator", f"system:{task}", Role.ADMIN, mfa=True)
