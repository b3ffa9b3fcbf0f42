"""Oversight: the ``audit`` log and ``access`` requests to datasets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from civicstat.cli._common import WorkspaceOpt, err, fail, me, opened, out
from civicstat.services import access as access_service
from civicstat.services import audit as audit_service
from civicstat.services import checkpoints
from civicstat.services.checkpoints import Checkpoint
from civicstat.services.errors import InvalidInput

audit_app = typer.Typer(help="Read and verify the audit log.", no_args_is_help=True)
access_app = typer.Typer(help="Requests for time-limited access to datasets.", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify(
    expect_head: Annotated[
        str | None,
        typer.Option(help="A head exported earlier (64 hex digits); needs --expect-count"),
    ] = None,
    expect_count: Annotated[
        int | None, typer.Option(help="The number of records when that head was exported")
    ] = None,
    heads: Annotated[
        list[Path] | None,
        typer.Option(help="A file of heads written by 'audit head' (repeatable)", dir_okay=False),
    ] = None,
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Check the audit log: its keyed chain, the heads exported earlier, its append-only
    triggers; name each problem and exit 1 if any."""
    expected = _expected_heads(expect_head, expect_count, heads or [])
    with opened(workspace, protect=False) as ctx:
        found = audit_service.verify(ctx, me(), expect=expected)
    problems = [found.problem] if found.problem else []
    if found.missing_guards:
        problems.append(
            "the audit log's append-only triggers are missing, disabled or altered: "
            f"{', '.join(found.missing_guards)} (CivicStat puts them back when it next starts)"
        )
    for problem in problems:
        err.print(f"[red]error:[/red] {problem}", markup=True, soft_wrap=True)
    if problems:
        raise typer.Exit(1)
    out.print(f"OK: {found.records} audit records, chain intact; head {found.head}", soft_wrap=True)
    if found.heads_checked:
        heads_word = "head" if found.heads_checked == 1 else "heads"
        out.print(f"matches {found.heads_checked} {heads_word} exported earlier", soft_wrap=True)


def _expected_heads(head: str | None, count: int | None, files: list[Path]) -> list[Checkpoint]:
    """The heads to compare the chain with; a usage error (exit 2) when they are unclear."""
    if (head is None) != (count is None):
        fail("--expect-head and --expect-count go together", 2)
    expected = []
    if head is not None and count is not None:
        if len(head) != 64 or any(c not in "0123456789abcdef" for c in head):
            fail(f"--expect-head: a head is 64 hexadecimal digits, not {head[:80]!r}", 2)
        if count < 1:
            fail("--expect-count: a number of records is 1 or more", 2)
        expected.append(Checkpoint(count, head))
    for path in files:
        try:
            expected += checkpoints.read_heads(path)
        except InvalidInput as error:
            fail(f"--heads: {error}", 2)
    return expected


@audit_app.command("head")
def audit_head(workspace: WorkspaceOpt = Path(".")) -> None:
    """Export the audit log's head (count and hash): printed, logged, appended to the heads
    file; keep it somewhere the database's writers cannot reach."""
    with opened(workspace) as ctx:
        checkpoint = audit_service.export_head(ctx, me())
        path = ctx.settings.resolved_audit_heads()
    out.print(f"{checkpoint.records} {checkpoint.head}", markup=False)
    err.print(f"appended to {path}", markup=False, soft_wrap=True)


@audit_app.command("list")
def audit_list(
    limit: Annotated[int, typer.Option(help="How many events, newest first")] = 50,
    action: Annotated[str | None, typer.Option(help="Only this action, e.g. auth:sign-in")] = None,
    actor: Annotated[str | None, typer.Option(help="Only this actor, e.g. user:ana")] = None,
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """List audit events, newest first (the listing is itself audited)."""
    with opened(workspace) as ctx:
        events = audit_service.recent(ctx, me(), limit=limit, action=action, who=actor)
    for e in events:
        detail = json.dumps(e.detail, sort_keys=True, default=str) if e.detail else ""
        out.print(
            f"{e.id:>6}  {e.at:%Y-%m-%d %H:%M:%S}  {e.actor:<24} {e.action:<18} "
            f"{e.object_kind}:{e.object_id}  {e.outcome}  {detail}".rstrip(),
            markup=False,
            soft_wrap=True,
        )


@access_app.command("request")
def access_request(
    dataset: Annotated[str, typer.Argument(help="Dataset id")],
    user: Annotated[str, typer.Option("--user", help="The user who needs access")],
    reason: Annotated[str, typer.Option("--reason", help="What the data is needed for")],
    days: Annotated[int, typer.Option("--days", help="How long access lasts once approved")] = 30,
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """File a request for a user to read a dataset; its steward approves or denies it."""
    with opened(workspace) as ctx:
        found = access_service.request(ctx, me(), dataset, reason=reason, days=days, for_user=user)
    out.print(f"access request {found.id}: {found.requested_by} → {dataset}, pending", markup=False)


@access_app.command("approve")
def access_approve(
    request_id: Annotated[int, typer.Argument(help="Request id, from 'civicstat access list'")],
    days: Annotated[
        int | None, typer.Option("--days", help="Grant for this many days instead of as asked")
    ] = None,
    note: Annotated[str, typer.Option("--note", help="A note kept with the decision")] = "",
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Approve a pending request: the user may read the dataset until it expires."""
    with opened(workspace) as ctx:
        found = access_service.approve(ctx, me(), request_id, days=days, note=note)
    assert found.expires_at is not None
    until = found.expires_at.strftime("%Y-%m-%d %H:%M UTC")
    out.print(f"access request {found.id} approved until {until}", markup=False)


@access_app.command("deny")
def access_deny(
    request_id: Annotated[int, typer.Argument(help="Request id, from 'civicstat access list'")],
    note: Annotated[str, typer.Option("--note", help="Why, for the person who asked")] = "",
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Deny a pending request."""
    with opened(workspace) as ctx:
        found = access_service.deny(ctx, me(), request_id, note=note)
    out.print(f"access request {found.id} denied", markup=False)


@access_app.command("list")
def access_list(
    status: Annotated[
        str | None, typer.Option("--status", help="Only pending, approved or denied requests")
    ] = None,
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Access requests, newest first: id, dataset, user, status, expiry, reason."""
    with opened(workspace) as ctx:
        found = access_service.list_requests(ctx, me(), status=status)
    if not found:
        out.print("no access requests")
    for r in found:
        state = r.status + (" (in force)" if r.in_force else "")
        until = f"until {r.expires_at:%Y-%m-%d}" if r.expires_at else ""
        out.print(
            f"{r.id:>4}  {r.dataset_id:<24} {r.requested_by:<16} {state:<19} {until:<16} "
            f"{r.reason}",
            markup=False,
            soft_wrap=True,
        )
