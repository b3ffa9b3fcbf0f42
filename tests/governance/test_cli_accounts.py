"""The account commands as an operator runs them: ``civicstat users list|set-role|disable|
enable|totp-enroll``, and ``civicstat serve`` refusing a weak secret key in production."""

from __future__ import annotations

import os
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from governance_helpers import PASSWORD
from sqlalchemy import select
from typer.testing import CliRunner, Result

from civicstat.cli import app
from civicstat.governance import totp
from civicstat.metadata.models import AuditEvent, User
from civicstat.services.accounts import sign_in
from civicstat.services.accounts.sign_in import CodeNeeded, Granted
from civicstat.services.context import Context
from civicstat.settings import Settings
from civicstat.spec.example import write_example


@pytest.fixture(autouse=True)
def _plain_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("CIVICSTAT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("COLUMNS", "80")


def civicstat(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args], env=env, catch_exceptions=False)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "city"
    write_example(root)
    added = civicstat(
        "users", "add", "ana", "--role", "analyst", "--password-env", "PW", "-w", root,
        env={"PW": PASSWORD},
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    return root


@pytest.fixture
def ctx(workspace: Path) -> Context:
    context = Context(Settings(workspace=workspace))
    yield context  # type: ignore[misc]
    context.close()


def actions(ctx: Context) -> list[str]:
    with ctx.db.session() as session:
        return list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def test_users_list_shows_role_department_factor_and_status(workspace: Path) -> None:
    result = civicstat("users", "list", "-w", workspace)

    assert result.exit_code == 0, result.output
    assert result.stdout.split() == ["ana", "analyst", "-", "password", "active"]


def test_users_set_role_changes_the_role_and_audits_it(workspace: Path, ctx: Context) -> None:
    result = civicstat("users", "set-role", "ana", "steward", "-w", workspace)

    assert result.exit_code == 0, result.output
    assert result.stdout == "user ana is now steward\n"
    assert actions(ctx)[-1] == "user:role-change"
    actor = sign_in.authenticate(ctx, "ana", PASSWORD)
    assert actor is not None
    assert actor.role == "steward"


def test_users_set_role_refuses_an_unknown_role(workspace: Path) -> None:
    result = civicstat("users", "set-role", "ana", "chief", "-w", workspace)

    assert result.exit_code == 2
    assert "chief" in result.stderr


def test_users_disable_and_enable(workspace: Path, ctx: Context) -> None:
    disabled = civicstat("users", "disable", "ana", "-w", workspace)
    assert (disabled.exit_code, disabled.stdout) == (0, "user ana disabled\n")
    assert sign_in.authenticate(ctx, "ana", PASSWORD) is None
    assert civicstat("users", "list", "-w", workspace).stdout.split()[-1] == "disabled"

    enabled = civicstat("users", "enable", "ana", "-w", workspace)
    assert (enabled.exit_code, enabled.stdout) == (0, "user ana enabled\n")
    assert sign_in.authenticate(ctx, "ana", PASSWORD) is not None
    changes = [a for a in actions(ctx) if a.startswith("user:")]
    assert changes == ["user:add", "user:disable", "user:enable"]


def test_changing_an_unknown_user_is_one_line_and_exit_1(workspace: Path) -> None:
    result = civicstat("users", "disable", "nobody", "-w", workspace)

    assert result.exit_code == 1
    assert result.stderr == "error: no user 'nobody'\n"


def test_totp_enroll_prints_the_uri_and_secret_once(workspace: Path, ctx: Context) -> None:
    result = civicstat("users", "totp-enroll", "ana", "-w", workspace)

    assert result.exit_code == 0, result.output
    uri, secret = result.stdout.splitlines()
    assert uri.startswith("otpauth://totp/CivicStat%3Aana?")
    assert parse_qs(urlsplit(uri).query)["secret"] == [secret]
    assert "neither is shown again" in " ".join(result.stderr.split())
    # Stored only sealed, and never listed.
    with ctx.db.session() as session:
        stored = session.scalar(select(User.totp_secret).where(User.username == "ana"))
    assert stored is not None
    assert secret not in stored
    listing = civicstat("users", "list", "-w", workspace).stdout
    assert secret not in listing
    assert "totp" in listing.split()
    # The printed secret is the one sign-in asks a code of.
    step = sign_in.with_password(ctx, "ana", PASSWORD)
    assert isinstance(step, CodeNeeded)
    code = totp.code_at(totp.from_base32(secret), time.time())
    granted = sign_in.with_code(ctx, step.challenge, code)
    assert isinstance(granted, Granted)
    assert granted.actor.mfa


def test_totp_enroll_in_production_without_a_key_refuses(workspace: Path) -> None:
    result = civicstat(
        "users", "totp-enroll", "ana", "-w", workspace, env={"CIVICSTAT_ENV": "production"}
    )

    assert result.exit_code == 1
    assert result.stderr.startswith("error: CIVICSTAT_SECRET_KEY is not set;")
    assert result.stdout == ""


@pytest.mark.parametrize("key", ["", "changeme", "short-but-random-9f8e7d"])
def test_serve_in_production_refuses_a_weak_secret_key_in_one_line(
    workspace: Path, key: str
) -> None:
    env = {"CIVICSTAT_ENV": "production", "CIVICSTAT_SECRET_KEY": key}

    result = civicstat("serve", "-w", workspace, "--no-scheduler", env=env)

    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("error: CIVICSTAT_SECRET_KEY is ")
    if key:
        assert key not in line
