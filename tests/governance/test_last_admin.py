"""A workspace always keeps an active administrator: the last one can be neither demoted nor
disabled, through the service or the CLI (the admin page: tests/web/test_admin_pages.py),
not even by two administrators
demoting each other at the same moment (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import threading

import pytest
from governance_helpers import MakeUser
from sqlalchemy import select
from typer.testing import CliRunner

from civicstat.cli import app
from civicstat.governance.actors import Actor, Role
from civicstat.metadata.models import User
from civicstat.services.accounts import users
from civicstat.services.context import Context
from civicstat.services.errors import InvalidInput

ROUNDS = 12


def active_admins(ctx: Context) -> list[str]:
    with ctx.db.session() as session:
        query = select(User.username).where(User.role == "admin", User.is_active.is_(True))
        return sorted(session.scalars(query))


def as_user(ctx: Context, username: str) -> Actor:
    with ctx.db.session() as session:
        user = session.scalars(select(User).where(User.username == username)).one()
        return users.actor_of(user, mfa=True)


def test_the_only_active_admin_can_be_neither_demoted_nor_disabled(
    example_ctx: Context, admin: Actor, make_user: MakeUser
) -> None:
    make_user(Role.ADMIN, "ada")
    ada = as_user(example_ctx, "ada")

    for refused in (
        lambda: users.set_role(example_ctx, ada, "ada", Role.ANALYST),
        lambda: users.set_role(example_ctx, admin, "ada", Role.VIEWER),
        lambda: users.disable(example_ctx, ada, "ada"),
        lambda: users.disable(example_ctx, admin, "ada"),
    ):
        with pytest.raises(InvalidInput, match="only active administrator"):
            refused()
    assert active_admins(example_ctx) == ["ada"]

    make_user(Role.ADMIN, "bob")
    users.set_role(example_ctx, ada, "ada", Role.STEWARD)  # bob is still there
    with pytest.raises(InvalidInput, match="only active administrator"):
        users.disable(example_ctx, admin, "bob")
    assert active_admins(example_ctx) == ["bob"]


def test_a_disabled_admin_does_not_count_and_other_changes_are_free(
    example_ctx: Context, admin: Actor, make_user: MakeUser
) -> None:
    make_user(Role.ADMIN, "ada")
    make_user(Role.ADMIN, "bob")
    make_user(Role.ANALYST, "ana")
    users.disable(example_ctx, admin, "bob")

    with pytest.raises(InvalidInput, match="only active administrator"):
        users.set_role(example_ctx, admin, "ada", Role.ANALYST)
    users.set_role(example_ctx, admin, "bob", Role.VIEWER)  # disabled: no admin is lost
    users.set_role(example_ctx, admin, "ana", Role.STEWARD)
    users.disable(example_ctx, admin, "ana")
    users.set_role(example_ctx, admin, "ada", Role.ADMIN)  # unchanged: still allowed
    assert active_admins(example_ctx) == ["ada"]


def demote_each_other(ctx: Context, ada: Actor, bob: Actor) -> dict[str, str]:
    """ada demotes bob while bob demotes ada, both released at the same instant."""
    start = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def demote(actor: Actor, other: str) -> None:
        start.wait()
        try:
            users.set_role(ctx, actor, other, Role.ANALYST)
            outcomes[other] = "demoted"
        except InvalidInput:
            outcomes[other] = "refused"

    threads = [
        threading.Thread(target=demote, args=(ada, "bob")),
        threading.Thread(target=demote, args=(bob, "ada")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_two_admins_demoting_each_other_at_once_leave_one_admin(
    example_ctx: Context, make_user: MakeUser, admin: Actor
) -> None:
    make_user(Role.ADMIN, "ada")
    make_user(Role.ADMIN, "bob")
    ada, bob = as_user(example_ctx, "ada"), as_user(example_ctx, "bob")

    for _ in range(ROUNDS):
        outcomes = demote_each_other(example_ctx, ada, bob)

        assert sorted(outcomes.values()) == ["demoted", "refused"]
        assert len(active_admins(example_ctx)) == 1
        for name in ("ada", "bob"):
            users.set_role(example_ctx, admin, name, Role.ADMIN)


def test_the_cli_refuses_to_demote_or_disable_the_last_admin_in_one_line(
    example_ctx: Context, make_user: MakeUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith("CIVICSTAT_"):
            monkeypatch.delenv(name)
    make_user(Role.ADMIN, "ada")
    root = example_ctx.settings.workspace
    env = {"CIVICSTAT_DATABASE_URL": example_ctx.db.url}

    for command in (["set-role", "ada", "viewer"], ["disable", "ada"]):
        result = CliRunner().invoke(app, ["users", *command, "-w", str(root)], env=env)
        assert result.exit_code == 1
        assert result.stderr.strip().startswith("error: cannot ")
        assert "only active administrator" in result.stderr
    assert active_admins(example_ctx) == ["ada"]
