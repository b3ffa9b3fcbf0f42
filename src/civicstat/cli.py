"""The ``civicstat`` command: parse arguments, call a service, print the answer.

Errors are one clear line on stderr and a non-zero exit: 2 for an invalid spec or usage,
1 for anything else that went wrong.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import json
import os
import secrets
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
)
from rich.text import Text

from civicstat import __version__, private_files
from civicstat.connectors.base import ConnectorError
from civicstat.governance import audit_heads
from civicstat.governance.actors import Actor, Role, operator
from civicstat.governance.audit import AuditUnavailable, Checkpoint
from civicstat.governance.secrets import InsecureSecretKey, check_production
from civicstat.pipeline.locks import SourceBusy, recover_abandoned
from civicstat.pipeline.runner import IngestError
from civicstat.pipeline.runner import Progress as RunProgress
from civicstat.services import access as access_service
from civicstat.services import audit as audit_service
from civicstat.services import ingest as ingest_service
from civicstat.services import lake as lake_service
from civicstat.services import measures as measures_service
from civicstat.services import publication as publication_service
from civicstat.services import runs as runs_service
from civicstat.services import workspace as workspace_service
from civicstat.services.accounts import tokens as tokens_service
from civicstat.services.accounts import users as users_service
from civicstat.services.context import Context
from civicstat.services.errors import PermissionDenied, ServiceError
from civicstat.settings import Settings
from civicstat.spec.workspace import SpecError

app = typer.Typer(
    help="CivicStat: performance management on a city's own data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
users_app = typer.Typer(help="Manage users.", no_args_is_help=True)
app.add_typer(users_app, name="users")
tokens_app = typer.Typer(help="Manage API tokens for machines.", no_args_is_help=True)
app.add_typer(tokens_app, name="tokens")
lake_app = typer.Typer(help="Look after the lake.", no_args_is_help=True)
app.add_typer(lake_app, name="lake")
audit_app = typer.Typer(help="Read and verify the audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
documents_app = typer.Typer(
    help="Documents (PDF, images) kept with datasets.", no_args_is_help=True
)
app.add_typer(documents_app, name="documents")
measures_app = typer.Typer(help="Approve measures for publication.", no_args_is_help=True)
app.add_typer(measures_app, name="measures")
access_app = typer.Typer(help="Requests for time-limited access to datasets.", no_args_is_help=True)
app.add_typer(access_app, name="access")
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

WorkspaceArg = Annotated[Path, typer.Argument(help="Workspace folder", file_okay=False)]
WorkspaceOpt = Annotated[
    Path, typer.Option("--workspace", "-w", help="Workspace folder", envvar="CIVICSTAT_WORKSPACE")
]


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[red]error:[/red] {message}", markup=True, soft_wrap=True)
    raise typer.Exit(code)


def report_spec_error(error: SpecError) -> NoReturn:
    """Every problem on its own line, as file:line:column: message, then exit 2."""
    for issue in error.issues:
        err.print(str(issue), markup=False, soft_wrap=True)
    err.print(f"{len(error.issues)} problem(s) found", markup=False)
    raise typer.Exit(2) from error


def me() -> Actor:
    return operator(getpass.getuser())


@contextlib.contextmanager
def opened(workspace: Path, *, protect: bool = True) -> Iterator[Context]:
    """The workspace's context with its metadata store migrated, and errors made readable.

    ``protect`` puts back missing append-only triggers of the audit log (audited); only
    ``audit verify`` opens without it, to report them as it finds them."""
    try:
        ctx = Context(Settings(workspace=workspace))
    except SpecError as error:
        report_spec_error(error)
    except (FileNotFoundError, ValueError) as error:
        fail(str(error))
    try:
        ctx.migrate(protect=protect)
        yield ctx
    except SpecError as error:
        report_spec_error(error)
    except (ServiceError, IngestError, PermissionDenied, AuditUnavailable) as error:
        fail(str(error))
    except InsecureSecretKey as error:
        fail(str(error))
    finally:
        ctx.close()


@app.command()
def version() -> None:
    """Print the version."""
    out.print(__version__)


@app.command()
def init(directory: WorkspaceArg) -> None:
    """Write a working example workspace into an empty folder."""
    from civicstat.spec.example import write_example

    try:
        write_example(directory)
    except FileExistsError as error:
        fail(str(error))
    out.print(
        f"Example workspace written to {directory}. Next: civicstat validate {directory}",
        soft_wrap=True,
    )


@app.command()
def validate(directory: WorkspaceArg = Path(".")) -> None:
    """Check every file of a workspace; list every problem as file:line:column: message."""
    from civicstat.spec.validate import summary

    try:
        workspace = workspace_service.load(directory, Settings(workspace=directory))
    except SpecError as error:
        report_spec_error(error)
    out.print(summary(workspace), markup=False, soft_wrap=True)


@app.command()
def schema() -> None:
    """Print the JSON Schema of the workspace files."""
    from civicstat.spec.validate import json_schema

    sys.stdout.write(json.dumps(json_schema(), indent=2) + "\n")


@app.command()
def infer(
    path: Annotated[Path, typer.Argument(help="A sample file of the source", dir_okay=False)],
    format: Annotated[
        str | None, typer.Option("--format", help="csv, tsv, json, ndjson, xlsx or parquet")
    ] = None,
) -> None:
    """Propose a typed columns: block for a source spec from a sample file."""
    from civicstat.connectors.file import format_of
    from civicstat.services import sources as sources_service
    from civicstat.warehouse.infer import to_yaml

    try:
        inferred = sources_service.infer(me(), path, format or format_of(path.name))
    except (ServiceError, ConnectorError, PermissionDenied) as error:
        fail(str(error))
    sys.stdout.write(to_yaml(inferred))


@app.command()
def apply(directory: WorkspaceArg = Path(".")) -> None:
    """Store the workspace as a new plan revision (nothing when unchanged)."""
    with opened(directory) as ctx:
        result = workspace_service.apply(ctx, me(), directory)
    if result.revision is None:
        out.print("unchanged: no new revision")
    else:
        out.print(f"revision {result.revision.id}: {result.revision.summary}")


@app.command()
def ingest(
    sources: Annotated[list[str] | None, typer.Argument(help="Source ids (default: all)")] = None,
    workspace: WorkspaceOpt = Path("."),
    recompute: Annotated[bool, typer.Option(help="Recompute dependent measures")] = True,
) -> None:
    """Pull sources, keep raw payloads, publish new data versions."""
    with opened(workspace) as ctx:
        chosen = sources or ingest_service.source_ids(ctx)
        failed = 0
        for source_id in chosen:
            with ingest_progress(source_id) as shown:
                try:
                    outcome = ingest_service.ingest(
                        ctx, me(), source_id, recompute=recompute, progress=shown
                    )
                except IngestError as error:
                    # Error text comes from data (file names, values): never read as markup.
                    message = f"{source_id}: failed (run {error.run_id}): {error}"
                    err.print(message, style="red", markup=False, soft_wrap=True)
                    failed += 1
                    continue
                except SourceBusy as busy:
                    message = f"{source_id}: not run: {busy}"
                    err.print(message, style="yellow", markup=False, soft_wrap=True)
                    failed += 1
                    continue
            result = outcome.result
            v = result.version
            if result.status == "unchanged" or v is None:
                current = f", still {v.label}" if v else ""
                out.print(f"{source_id}: unchanged{current} (run {result.run_id})")
            else:
                out.print(f"{source_id}: {v.row_count:,} rows → {v.label} (run {result.run_id})")
            for warning in result.warnings:
                err.print(f"  warning: {warning}", markup=False, soft_wrap=True)
            for c in outcome.computed:
                out.print(f"  {c.measure_id}: {c.observations} observations")
    if failed:
        raise typer.Exit(1)


@contextlib.contextmanager
def ingest_progress(source_id: str) -> Iterator[RunProgress | None]:
    """A progress bar on stderr with the run's phase, share done and elapsed time, gone
    when the run ends; the bar sweeps while the amount of work is not known. ``None`` (no
    progress measured at all) when stderr is not a terminal.
    """
    if not err.is_terminal:  # a pipe, cron or CI log gets the result lines only
        yield None
        return
    columns = (
        SpinnerColumn(),
        TextColumn("[bold]{task.description}[/bold]"),
        TextColumn("{task.fields[phase]}"),
        BarColumn(),
        TaskProgressColumn(),
        _RunElapsed(),
    )
    with Progress(*columns, console=err, transient=True) as bar:
        yield _PhaseBar(bar, source_id)


class _PhaseBar:
    """Shows a run's progress: each phase is a task of its own, so its bar starts empty
    (or sweeping, while its amount of work is not known)."""

    def __init__(self, bar: Progress, source_id: str) -> None:
        self._bar = bar
        self._source_id = source_id
        self._lock = threading.Lock()
        self._shown: tuple[str, bool] | None = None
        self._task = bar.add_task(source_id, total=None, phase="starting")

    def __call__(self, phase: str, done: float | None = None, /) -> None:
        with self._lock:
            if self._shown != (phase, done is not None):
                self._shown = (phase, done is not None)
                self._bar.remove_task(self._task)
                total = None if done is None else 1.0
                self._task = self._bar.add_task(self._source_id, total=total, phase=phase)
            if done is not None:
                self._bar.update(self._task, completed=done)


class _RunElapsed(ProgressColumn):
    """Time since the run began, across its phases."""

    def __init__(self) -> None:
        super().__init__()
        self._started = time.monotonic()

    def render(self, task: Task) -> Text:
        seconds = int(time.monotonic() - self._started)
        return Text(str(dt.timedelta(seconds=seconds)), style="progress.elapsed")


@app.command()
def compute(
    measures: Annotated[list[str] | None, typer.Argument(help="Measure ids (default: all)")] = None,
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Recompute measures from their datasets' current versions."""
    with opened(workspace) as ctx:
        for c in measures_service.compute(ctx, me(), measures):
            note = "unchanged" if not c.changed else f"{c.observations} observations"
            out.print(f"{c.measure_id}: {note} ({c.data_version or 'no data yet'})")


@app.command()
def runs(
    workspace: WorkspaceOpt = Path("."),
    limit: int = 20,
    unmask: Annotated[
        bool, typer.Option("--unmask", help="Show personal data in error messages in clear")
    ] = False,
) -> None:
    """List recent ingest runs."""
    with opened(workspace) as ctx:
        recover_abandoned(ctx.db)  # runs whose process died show as abandoned, not running
        for run in runs_service.recent(ctx, me(), limit, unmask=unmask):
            started = f"{run.started_at:%Y-%m-%d %H:%M:%S}"
            line = f"{run.id:>5}  {started}  {run.source_id:<24} {run.status:<10}"
            line += f" {run.rows_loaded:>10,} rows"
            if run.rows_quarantined:
                line += f", {run.rows_quarantined:,} quarantined"
            if run.error:
                line += f"  {run.error.text.splitlines()[0]}"
            out.print(line, markup=False, soft_wrap=True)


@app.command()
def serve(
    workspace: WorkspaceOpt = Path("."),
    host: str = "127.0.0.1",
    port: int = 8000,
    scheduler: Annotated[
        bool, typer.Option("--scheduler/--no-scheduler", help="Run the sources' schedules")
    ] = True,
) -> None:
    """Serve the web app and API (and, unless --no-scheduler, run the sources' schedules)."""
    import uvicorn

    from civicstat.web.app import create_app

    settings = Settings(workspace=workspace)
    try:
        check_production(settings)
    except InsecureSecretKey as error:
        fail(str(error))
    with opened(workspace):
        pass  # migrate once, before the server starts
    if scheduler:
        log_to_stderr()
    uvicorn.run(create_app(settings, scheduler=scheduler), host=host, port=port, log_level="info")


@app.command()
def worker(workspace: WorkspaceOpt = Path(".")) -> None:
    """Run the sources' schedules in the foreground until SIGINT or SIGTERM."""
    from civicstat.services.scheduler import Scheduler, interval_override

    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        if stop.is_set():
            os._exit(128 + signum)  # a second signal: stop now; the lock frees itself
        stop.set()

    with opened(workspace) as ctx:
        try:
            every = interval_override()
        except ValueError as error:
            fail(str(error))
        log_to_stderr()
        handlers = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        background = Scheduler(ctx, every_seconds=every)
        try:
            background.start()
            err.print(
                f"worker {background.actor}: {len(background.scheduled)} scheduled source(s); "
                "Ctrl-C to stop",
                markup=False,
                soft_wrap=True,
            )
            while not stop.wait(1):
                pass
            err.print("stopping: running ingests finish first (signal again to stop now)")
        finally:
            background.shutdown(wait=True)
            for number, handler in handlers.items():
                signal.signal(number, handler)
    err.print("worker stopped")


def log_to_stderr() -> None:
    """Show the scheduler's log (runs started, skipped, failed) on stderr."""
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("civicstat")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


@lake_app.command("prune")
def lake_prune(workspace: WorkspaceOpt = Path(".")) -> None:
    """Delete raw payloads older than their source's retention.raw_days."""
    with opened(workspace) as ctx:
        result = lake_service.prune(ctx, me())
    out.print(f"{result.files} raw payload(s) deleted, {result.bytes:,} bytes freed")


@lake_app.command("sweep")
def lake_sweep(
    workspace: WorkspaceOpt = Path("."),
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would be removed; remove nothing")
    ] = False,
) -> None:
    """Delete lake files no run or version refers to: what killed ingests left."""
    with opened(workspace) as ctx:
        result = lake_service.sweep(ctx, me(), dry_run=dry_run)
    for item in result.removed:
        out.print(f"{item.relative}{'/' if item.kind == 'table' else ''}", markup=False)
    verb = "would be removed" if dry_run else "removed"
    out.print(f"{len(result.removed)} leftover(s) {verb}, {result.bytes:,} bytes")
    for source in result.busy:
        err.print(f"skipped {source}: being ingested; sweep again later", markup=False)


@documents_app.command("add")
def documents_add(
    dataset: str,
    path: Annotated[Path, typer.Argument(help="A PDF, image or text file", dir_okay=False)],
    title: Annotated[str | None, typer.Option(help="Title (default: the file name)")] = None,
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Register a document (PDF, image) of a dataset; it is kept as-is in the lake."""
    with opened(workspace) as ctx:
        document = lake_service.add_document(ctx, me(), dataset, path, title)
    kept = f"{document.size:,} bytes, sha256 {document.sha256[:12]}…"
    out.print(f"{dataset}: document {document.title!r} kept ({kept})", markup=False)


@documents_app.command("list")
def documents_list(dataset: str, workspace: WorkspaceOpt = Path(".")) -> None:
    """List the documents of a dataset."""
    with opened(workspace) as ctx:
        for d in lake_service.documents(ctx, me(), dataset):
            out.print(
                f"{d.id:>4}  {d.title}  ({d.original_name}, {d.content_type}, {d.size:,} bytes)",
                markup=False,
            )


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


UsernameArg = Annotated[str, typer.Argument(help="User name")]


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
            expected += audit_heads.read(path)
        except audit_heads.HeadsFileError as error:
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


@measures_app.command("approve")
def measures_approve(
    measure_id: Annotated[str, typer.Argument(help="Measure id")],
    note: Annotated[str, typer.Option("--note", help="Why, for the audit log")] = "",
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Approve a measure's current definition for publication (needed when it reads data
    that is not public); a changed definition needs approving again."""
    with opened(workspace) as ctx:
        state = publication_service.approve(ctx, me(), measure_id, note=note)
    what = "approved" if state.newly_approved else "was already approved"
    out.print(
        f"measure {measure_id} {what} for publication "
        f"(definition {state.definition_hash[:12]}, data {state.classification})",
        markup=False,
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


@app.command()
def demo(
    directory: WorkspaceArg = Path("riverton"),
    serve_after: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve when built")
    ] = True,
    calls: Annotated[int, typer.Option(help="911 calls to generate")] = 1_100_000,
    port: int = 8000,
) -> None:
    """Build the Riverton demo city (data, plan, measures) and serve it."""
    from civicstat.demo.riverton import write_workspace

    if not (directory / "civicstat.yaml").exists():
        with err.status("generating Riverton's data…"):
            write_workspace(directory, calls=calls)
    apply(directory)
    ingest(None, directory, True)
    credentials = directory / ".civicstat" / "demo-credentials"
    with opened(directory) as ctx:
        if not credentials.exists():
            password = secrets.token_urlsafe(12)
            users_service.add_user(
                ctx,
                me(),
                username="admin",
                password=password,
                role=Role.ADMIN,
                display_name="Riverton performance office",
            )
            private_files.write_new(credentials, f"admin\n{password}\n")
    username, password = credentials.read_text(encoding="utf-8").split()
    out.print(
        f"\nRiverton is ready. Sign in at http://127.0.0.1:{port}/login as "
        f"[bold]{username}[/bold] with password [bold]{password}[/bold]\n"
        f"(kept in {credentials})."
    )
    if serve_after:
        serve(directory, "127.0.0.1", port)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
