"""The ``civicstat`` command: parse arguments, call a service, print the answer.

Errors are one clear line on stderr and a non-zero exit: 2 for an invalid spec or usage,
1 for anything else that went wrong.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from civicstat import __version__
from civicstat.governance.actors import Actor, Role, operator
from civicstat.pipeline.ingest import IngestError
from civicstat.services import ingest as ingest_service
from civicstat.services import measures as measures_service
from civicstat.services import runs as runs_service
from civicstat.services import users as users_service
from civicstat.services import workspace as workspace_service
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
def opened(workspace: Path) -> Iterator[Context]:
    """The workspace's context with its metadata store migrated, and errors made readable."""
    try:
        ctx = Context(Settings(workspace=workspace))
    except (FileNotFoundError, ValueError) as error:
        fail(str(error))
    try:
        ctx.migrate()
        yield ctx
    except SpecError as error:
        report_spec_error(error)
    except (ServiceError, IngestError, PermissionDenied) as error:
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
        workspace = workspace_service.load(directory)
    except SpecError as error:
        report_spec_error(error)
    out.print(summary(workspace), markup=False, soft_wrap=True)


@app.command()
def schema() -> None:
    """Print the JSON Schema of the workspace files."""
    from civicstat.spec.validate import json_schema

    sys.stdout.write(json.dumps(json_schema(), indent=2) + "\n")


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
            with err.status(f"ingesting {source_id}…"):
                try:
                    outcome = ingest_service.ingest(ctx, me(), source_id, recompute=recompute)
                except IngestError as error:
                    err.print(
                        f"[red]{source_id}: failed (run {error.run_id}):[/red] {error}",
                        soft_wrap=True,
                    )
                    failed += 1
                    continue
            v = outcome.result.version
            out.print(
                f"{source_id}: {v.row_count:,} rows → {v.label} (run {outcome.result.run_id})"
            )
            for c in outcome.computed:
                out.print(f"  {c.measure_id}: {c.observations} observations")
    if failed:
        raise typer.Exit(1)


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
def runs(workspace: WorkspaceOpt = Path("."), limit: int = 20) -> None:
    """List recent ingest runs."""
    with opened(workspace) as ctx:
        for run in runs_service.recent(ctx, me(), limit):
            started = f"{run.started_at:%Y-%m-%d %H:%M:%S}"
            line = f"{run.id:>5}  {started}  {run.source_id:<24} {run.status:<10}"
            line += f" {run.rows_loaded:>10,} rows"
            if run.error:
                line += f"  {run.error.splitlines()[0]}"
            out.print(line, markup=False, soft_wrap=True)


@app.command()
def serve(
    workspace: WorkspaceOpt = Path("."),
    host: str = "127.0.0.1",
    port: int = 8000,
) -> None:
    """Serve the web app and API."""
    import uvicorn

    from civicstat.web.app import create_app

    with opened(workspace):
        pass  # migrate once, before the server starts
    settings = Settings(workspace=workspace)
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


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
            credentials.write_text(f"admin\n{password}\n", encoding="utf-8")
            credentials.chmod(0o600)
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
