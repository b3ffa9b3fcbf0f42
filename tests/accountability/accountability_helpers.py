"""Helpers shared by the accountability tests."""

from __future__ import annotations

from civicstat.governance.actors import Actor, Role
from civicstat.services.accounts import users
from civicstat.services.context import Context

PASSWORD = "correct horse battery staple"


def person(ctx: Context, admin: Actor, username: str, role: Role, department: str | None) -> Actor:
    """A user added through the users service, as the actor they sign in as."""
    users.add_user(
        ctx, admin, username=username, password=PASSWORD, role=role, department=department
    )
    return Actor("user", username, role, department)
