"""What every command shares: the consoles, the workspace argument and option, the
operator, an opened workspace, and how errors end a command (one line, a non-zero exit)."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console

from civicstat.services import errors
from civicstat.services.errors import SpecError
from civicstat.services.operators import Actor, shell_operator
from civicstat.settings import Settings

if TYPE_CHECKING:
    from civicstat.services.context import Context

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
    return shell_operator()


@contextlib.contextmanager
def opened(workspace: Path, *, protect: bool = True) -> Iterator[Context]:
    """The workspace's context with its metadata store migrated, and errors made readable.

    ``protect`` puts back missing append-only triggers of the audit log (audited); only
    ``audit verify`` opens without it, to report them as it finds them."""
    from civicstat.services.context import Context  # the stores: not for validate and schema

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
    except (
        errors.ServiceError,
        errors.IngestError,
        errors.PermissionDenied,
        errors.AuditUnavailable,
    ) as error:
        fail(str(error))
    except errors.InsecureSecretKey as error:
        fail(str(error))
    finally:
        ctx.close()


def log_to_stderr() -> None:
    """Show the scheduler's log (runs started, skipped, failed) on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("civicstat")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
