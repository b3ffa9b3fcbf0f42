"""People and machines: ``users`` and API ``tokens``."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from civicstat.cli._common import WorkspaceOpt, err, fail, me, opened, out
from civicstat.services.accounts import tokens as tokens_service
from civicstat.services.accounts import users as users_service
from civicstat.services.operators import Role

users_app = typer.Typer(help="Manage users.", no_args_is_help=True)
tokens_app = typer.Typer(help="Manage API tokens for machines.", no_args_is_help=True)

UsernameArg = Annotated[str, typer.Argument(help="User name")]


@users_app.command("add")
def users_add(
    username: str,
    role: Annotated[Role, typer.Option(help="Role")] = Role.VIEWER,
    department: Annotated[str | None, typer.Option(help="Department id")] = None,
    display_name: Annotated[str | None, typer.Option(help="Name shown in the app")] = None,
    workspace: WorkspaceOpt = Path("."),
    password_env: Annotated[
        str | None, typer.Option(help="Read the password from this environment variable")
    ] = None,
) -> None:
    """Add a user; the password is asked for (or read from --password-env)."""
    if password_env:
        password = os.environ.get(password_env) or fail(
            f"environment variable {password_env} is empty"
        )
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with opened(workspace) as ctx:
        users_service.add_user(
            ctx,
            me(),
            username=username,
            password=password,
            role=role,
            department=department,
            display_name=display_name,
        )
    out.print(f"user {username} added ({role.value})")


@users_app.command("list")
def users_list(workspace: WorkspaceOpt = Path(".")) -> None:
    """List users: name, role, department, status, second factor, lockout."""
    with opened(workspace) as ctx:
        found = users_service.list_users(ctx, me())
    if not found:
        out.print("no users")
    for u in found:
        status = "active" if u.active else "disabled"
        if u.locked_until is not None:
            status = f"locked until {u.locked_until:%Y-%m-%d %H:%M} UTC"
        out.print(
            f"{u.username:<24} {u.role.value:<16} {u.department or '-':<24} "
            f"{'totp' if u.second_factor else 'password':<9} {status}",
            markup=False,
            soft_wrap=True,
        )


@users_app.command("set-role")
def users_set_role(
    username: UsernameArg,
    role: Annotated[Role, typer.Argument(help="The new role")],
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Change a user's role; it applies from their next request."""
    with opened(workspace) as ctx:
        info = users_service.set_role(ctx, me(), username, role)
    out.print(f"user {info.username} is now {info.role.value}", markup=False)


@users_app.command("disable")
def users_disable(username: UsernameArg, workspace: WorkspaceOpt = Path(".")) -> None:
    """Stop a user from signing in; their open sessions end at once."""
    with opened(workspace) as ctx:
        info = users_service.disable(ctx, me(), username)
    out.print(f"user {info.username} disabled", markup=False)


@users_app.command("enable")
def users_enable(username: UsernameArg, workspace: WorkspaceOpt = Path(".")) -> None:
    """Let a disabled (or locked-out) user sign in again."""
    with opened(workspace) as ctx:
        info = users_service.enable(ctx, me(), username)
    out.print(f"user {info.username} enabled", markup=False)


@users_app.command("unlock")
def users_unlock(username: UsernameArg, workspace: WorkspaceOpt = Path(".")) -> None:
    """Lift a lockout now and forget the user's failed sign-ins (audited)."""
    with opened(workspace) as ctx:
        info = users_service.unlock(ctx, me(), username)
    out.print(f"user {info.username} unlocked", markup=False)


@users_app.command("totp-enroll")
def users_totp_enroll(username: UsernameArg, workspace: WorkspaceOpt = Path(".")) -> None:
    """Give a user a TOTP second factor; its otpauth:// URI and secret are shown once."""
    with opened(workspace) as ctx:
        enrolment = users_service.enroll_totp(ctx, me(), username)
    err.print(
        f"user {enrolment.username}: from the next sign-in a 6-digit code is asked for. "
        "Give them the URI (as a QR code) or the secret for their authenticator app; "
        "neither is shown again.",
        markup=False,
        soft_wrap=True,
    )
    sys.stdout.write(f"{enrolment.uri}\n{enrolment.secret}\n")


@tokens_app.command("create")
def tokens_create(
    name: Annotated[str, typer.Argument(help="What the token is for, e.g. the sending system")],
    scope: Annotated[
        list[str],
        typer.Option("--scope", help="What it may do, e.g. source:push:SOURCE_ID (repeatable)"),
    ],
    expires_days: Annotated[
        int, typer.Option(help="Days until it expires")
    ] = tokens_service.DEFAULT_DAYS,
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Make an API token; its text is printed once, on stdout, and never shown again."""
    with opened(workspace) as ctx:
        made = tokens_service.create(ctx, me(), name=name, scopes=scope, expires_days=expires_days)
    info = made.info
    err.print(
        f"token {info.id} ({info.name}): {', '.join(info.scopes)}; expires "
        f"{info.expires_at:%Y-%m-%d %H:%M} UTC. Copy it now: it is not shown again.",
        markup=False,
        soft_wrap=True,
    )
    sys.stdout.write(made.text + "\n")


@tokens_app.command("list")
def tokens_list(workspace: WorkspaceOpt = Path(".")) -> None:
    """List API tokens (never their text): id, name, status, expiry, last use, scopes."""
    with opened(workspace) as ctx:
        found = tokens_service.list_tokens(ctx, me())
    if not found:
        out.print("no tokens")
    for t in found:
        used = f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never"
        out.print(
            f"{t.id:>4}  {t.name:<24} {t.status():<8} expires {t.expires_at:%Y-%m-%d}  "
            f"used {used:<16}  {' '.join(t.scopes)}",
            markup=False,
            soft_wrap=True,
        )


@tokens_app.command("revoke")
def tokens_revoke(
    token_id: Annotated[int, typer.Argument(help="Token id, from 'civicstat tokens list'")],
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Revoke an API token: it stops working from its next request."""
    with opened(workspace) as ctx:
        info = tokens_service.revoke(ctx, me(), token_id)
    out.print(f"token {info.id} ({info.name}) revoked", markup=False)
