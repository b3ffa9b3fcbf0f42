"""Writing and storing a workspace: ``version``, ``init``, ``validate``, ``schema``,
``infer`` and ``apply``. Importing it loads neither SQLAlchemy nor DuckDB: the commands
that need them load them when they run."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from civicstat import __version__
from civicstat.cli._common import WorkspaceArg, fail, me, opened, out, report_spec_error
from civicstat.services import authoring
from civicstat.services.errors import PermissionDenied, ServiceError, SpecError
from civicstat.settings import Settings


def version() -> None:
    """Print the version."""
    out.print(__version__)


def init(directory: WorkspaceArg) -> None:
    """Write a working example workspace into an empty folder."""
    try:
        authoring.example(directory)
    except ServiceError as error:
        fail(str(error))
    out.print(
        f"Example workspace written to {directory}. Next: civicstat validate {directory}",
        soft_wrap=True,
    )


def validate(directory: WorkspaceArg = Path(".")) -> None:
    """Check every file of a workspace; list every problem as file:line:column: message."""
    try:
        workspace = authoring.load(directory, Settings(workspace=directory))
    except SpecError as error:
        report_spec_error(error)
    out.print(authoring.summary(workspace), markup=False, soft_wrap=True)


def schema() -> None:
    """Print the JSON Schema of the workspace files."""
    sys.stdout.write(json.dumps(authoring.json_schema(), indent=2) + "\n")


def infer(
    path: Annotated[Path, typer.Argument(help="A sample file of the source", dir_okay=False)],
    format: Annotated[
        str | None, typer.Option("--format", help="csv, tsv, json, ndjson, xlsx or parquet")
    ] = None,
) -> None:
    """Propose a typed columns: block for a source spec from a sample file."""
    try:
        proposed = authoring.propose_columns(me(), path, format)
    except (ServiceError, PermissionDenied) as error:
        fail(str(error))
    sys.stdout.write(proposed)


def apply(directory: WorkspaceArg = Path(".")) -> None:
    """Store the workspace as a new plan revision (nothing when unchanged)."""
    # The metadata store: loaded here, so that validate and schema need not load it.
    from civicstat.services.workspace import apply as store_plan

    with opened(directory) as ctx:
        result = store_plan(ctx, me(), directory)
    if result.revision is None:
        out.print("unchanged: no new revision")
    else:
        out.print(f"revision {result.revision.id}: {result.revision.summary}")
