"""API tokens: shown once, stored only as SHA-256, scoped, expiring, revocable; managed by
admins through the service and the ``civicstat tokens`` commands."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from civicstat.cli import app
from civicstat.governance import audit
from civicstat.governance.actors import Actor, Role
from civicstat.metadata.models import ApiToken, AuditEvent
from civicstat.services import workspace as workspace_service
from civicstat.services.accounts import tokens
from civicstat.services.context import Context
from civicstat.services.errors import InvalidInput, NotFound, PermissionDenied

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
PUSH_SOURCE = """\
id: {id}
title: Calls sent by the CAD system
owner: customer-service
connector: push
load: append
columns:
  - {{name: call_id, type: string}}
  - {{name: received_at, type: timestamp}}
"""


def add_push_sources(root: Path, *ids: str) -> None:
    for source_id in ids:
        (root / "sources" / f"{source_id}.yaml").write_text(
            PUSH_SOURCE.format(id=source_id), encoding="utf-8"
        )


@pytest.fixture
def ctx(example_root: Path, make_context: Callable[[Path], Context], admin: Actor) -> Context:
    """The example workspace with two push sources, applied, on each metadata store."""
    add_push_sources(example_root, "cad_calls", "permits_feed")
    context = make_context(example_root)
    workspace_service.apply(context, admin)
    return context


def make(
    ctx: Context, admin: Actor, *scopes: str, days: int = 90, now: dt.datetime = T0
) -> tokens.NewToken:
    return tokens.create(
        ctx, admin, name="cad export", scopes=scopes or ("source:push:cad_calls",),
        expires_days=days, now=now,
    )  # fmt: skip


def test_a_new_token_is_shown_once_and_stored_only_as_its_sha256(
    ctx: Context, admin: Actor
) -> None:
    made = make(ctx, admin)

    assert made.text.startswith("cst_")
    assert len(made.text) > 40
    assert made.text not in repr(made)
    with ctx.db.session() as session:
        row = session.get_one(ApiToken, made.info.id)
        assert row.token_hash == hashlib.sha256(made.text.encode()).hexdigest()
        everything = [
            str(r) for table in (ApiToken.__table__, AuditEvent.__table__)
            for r in session.execute(select(table)).all()
        ]  # fmt: skip
    assert everything
    assert not [r for r in everything if made.text in r]


def test_a_token_acts_only_within_its_scope(ctx: Context, admin: Actor) -> None:
    made = make(ctx, admin)

    actor = tokens.authenticate_token(ctx, made.text, "source:push:cad_calls", now=T0)
    assert actor is not None
    assert (actor.kind, actor.token_id, actor.role) == ("token", made.info.id, None)
    assert actor.scopes == {"source:push:cad_calls"}
    # An action alone is satisfied by any scope of it; the source is checked by the service.
    assert tokens.authenticate_token(ctx, made.text, "source:push", now=T0) is not None
    assert tokens.authenticate_token(ctx, made.text, "source:push:permits_feed", now=T0) is None
    assert tokens.authenticate_token(ctx, made.text, "dataset:read", now=T0) is None


def test_a_wildcard_scope_covers_every_source(ctx: Context, admin: Actor) -> None:
    made = make(ctx, admin, "source:push:*")

    assert tokens.authenticate_token(ctx, made.text, "source:push:permits_feed", now=T0)
    assert tokens.authenticate_token(ctx, made.text, "source:ingest:cad_calls", now=T0) is None


def test_a_token_stops_working_when_it_expires(ctx: Context, admin: Actor) -> None:
    made = make(ctx, admin, days=1)
    expires = T0 + dt.timedelta(days=1)

    assert made.info.expires_at == expires
    assert tokens.authenticate_token(
        ctx, made.text, "source:push", now=expires - dt.timedelta(seconds=1)
    )
    assert tokens.authenticate_token(ctx, made.text, "source:push", now=expires) is None
    listed = tokens.list_tokens(ctx, admin)
    assert [t.status(expires) for t in listed] == ["expired"]


def test_a_revoked_token_stops_working_at_once(ctx: Context, admin: Actor) -> None:
    made = make(ctx, admin)
    assert tokens.authenticate_token(ctx, made.text, "source:push", now=T0)

    first = tokens.revoke(ctx, admin, made.info.id, now=T0 + dt.timedelta(hours=1))
    again = tokens.revoke(ctx, admin, made.info.id, now=T0 + dt.timedelta(hours=2))

    assert tokens.authenticate_token(ctx, made.text, "source:push", now=T0) is None
    assert first.revoked_at == again.revoked_at == T0 + dt.timedelta(hours=1)
    assert [t.status(T0) for t in tokens.list_tokens(ctx, admin)] == ["revoked"]
    with pytest.raises(NotFound):
        tokens.revoke(ctx, admin, 999)


@pytest.mark.parametrize(
    "text",
    ["", "Bearer", "cst_", "not-a-token", "cst_" + "A" * 43, "cst_" + "A" * 500 + "\n"],
)
def test_an_unknown_or_malformed_token_is_refused(ctx: Context, admin: Actor, text: str) -> None:
    make(ctx, admin)

    assert tokens.authenticate_token(ctx, text, "source:push", now=T0) is None


def test_last_use_is_recorded_at_most_once_a_minute(ctx: Context, admin: Actor) -> None:
    made = make(ctx, admin)

    def last_used() -> dt.datetime | None:
        return tokens.list_tokens(ctx, admin)[0].last_used_at

    assert last_used() is None
    tokens.authenticate_token(ctx, made.text, "source:push", now=T0)
    assert last_used() == T0
    tokens.authenticate_token(ctx, made.text, "source:push", now=T0 + dt.timedelta(seconds=59))
    assert last_used() == T0
    later = T0 + dt.timedelta(seconds=61)
    tokens.authenticate_token(ctx, made.text, "source:push", now=later)
    assert last_used() == later


@pytest.mark.parametrize(
    ("scopes", "days", "message"),
    [
        ((), 90, "at least one scope"),
        (("source:push:no_such_source",), 90, "no source 'no_such_source'"),
        (("source:push:service_requests",), 90, "does not accept pushes"),
        (("source:ingest:cad_calls",), 90, "invalid scope"),
        (("user:manage:*",), 90, "invalid scope"),
        (("source:push",), 90, "invalid scope"),
        (("source:push:cad_calls",), 0, "1 to 366 days"),
        (("source:push:cad_calls",), 367, "1 to 366 days"),
    ],
)
def test_a_token_that_could_not_be_used_as_meant_is_not_made(
    ctx: Context, admin: Actor, scopes: tuple[str, ...], days: int, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        tokens.create(ctx, admin, name="feed", scopes=scopes, expires_days=days)
    assert tokens.list_tokens(ctx, admin) == []


@pytest.mark.parametrize("role", [Role.STEWARD, Role.DEPARTMENT_HEAD, Role.ANALYST, Role.VIEWER])
def test_only_admins_manage_tokens(ctx: Context, admin: Actor, role: Role) -> None:
    someone = Actor("user", "sam", role, "customer-service", 7)
    made = make(ctx, admin)

    with pytest.raises(PermissionDenied):
        tokens.create(ctx, someone, name="mine", scopes=["source:push:cad_calls"])
    with pytest.raises(PermissionDenied):
        tokens.list_tokens(ctx, someone)
    with pytest.raises(PermissionDenied):
        tokens.revoke(ctx, someone, made.info.id)


def test_a_token_cannot_manage_tokens(ctx: Context, admin: Actor) -> None:
    made = make(ctx, admin, "source:push:*")
    actor = tokens.authenticate_token(ctx, made.text, "source:push", now=T0)
    assert actor is not None

    with pytest.raises(PermissionDenied):
        tokens.create(ctx, actor, name="child", scopes=["source:push:cad_calls"])


def test_making_and_revoking_tokens_is_audited_without_the_text(
    ctx: Context, admin: Actor, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    made = make(ctx, admin)
    tokens.authenticate_token(ctx, made.text, "source:push", now=T0)
    tokens.revoke(ctx, admin, made.info.id)

    with ctx.db.session() as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.object_kind == "token").order_by(AuditEvent.id)
        ).all()
        assert [(e.action, e.object_id, e.actor) for e in events] == [
            ("token:create", str(made.info.id), str(admin)),
            ("token:revoke", str(made.info.id), str(admin)),
        ]
        assert events[0].detail["scopes"] == ["source:push:cad_calls"]
        assert audit.verify(session) is None
    assert made.text not in str([e.detail for e in events])
    assert made.text not in caplog.text


# --- the commands -----------------------------------------------------------------------


def civicstat(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def workspace(example_root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example workspace with a push source, applied, on its default SQLite store."""
    for name in list(os.environ):
        if name.startswith("CIVICSTAT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("COLUMNS", "200")
    add_push_sources(example_root, "cad_calls")
    assert civicstat("apply", example_root)[0] == 0
    return example_root


def test_tokens_create_prints_the_token_alone_on_stdout_once(workspace: Path) -> None:
    code, out, err = civicstat(
        "tokens", "create", "cad export", "--scope", "source:push:cad_calls",
        "--expires-days", "30", "-w", workspace,
    )  # fmt: skip

    assert code == 0, err
    token = out.strip()
    assert token.startswith("cst_")
    assert "\n" not in token
    assert "not shown again" in err
    assert "source:push:cad_calls" in err
    code, listed, _ = civicstat("tokens", "list", "-w", workspace)
    assert code == 0
    assert "cad export" in listed
    assert "active" in listed
    assert "never" in listed
    assert token not in listed


def test_tokens_revoke_and_list_show_the_change(workspace: Path) -> None:
    civicstat("tokens", "create", "feed", "--scope", "source:push:cad_calls", "-w", workspace)

    code, out, _ = civicstat("tokens", "revoke", "1", "-w", workspace)

    assert (code, out.strip()) == (0, "token 1 (feed) revoked")
    assert "revoked" in civicstat("tokens", "list", "-w", workspace)[1]
    code, _, err = civicstat("tokens", "revoke", "2", "-w", workspace)
    assert code == 1
    assert "no token '2'" in err


def test_tokens_create_with_a_bad_scope_is_one_clear_error(workspace: Path) -> None:
    code, out, err = civicstat(
        "tokens", "create", "feed", "--scope", "source:push:nope", "-w", workspace
    )

    assert code == 1
    assert out == ""
    assert "no source 'nope'" in err
