"""Help write a workspace: the example to start from, the schema of its files, the summary
of a valid one, and typed columns proposed from a sample file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from civicstat.connectors.base import ConnectorError
from civicstat.connectors.file import format_of
from civicstat.governance.actors import Actor
from civicstat.services import sources
from civicstat.services.errors import InvalidInput
from civicstat.spec import validate
from civicstat.spec.example import write_example
from civicstat.spec.workspace import Workspace
from civicstat.warehouse.infer import to_yaml

__all__ = ["example", "json_schema", "propose_columns", "summary"]


def example(directory: Path) -> None:
    """Write the example workspace into a new or empty folder; refuse any other."""
    try:
        write_example(directory)
    except FileExistsError as error:
        raise InvalidInput(str(error)) from error


def summary(workspace: Workspace) -> str:
    """One line saying what a valid workspace holds."""
    return validate.summary(workspace)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of every workspace file and each installed connector's options."""
    return validate.json_schema()


def propose_columns(actor: Actor, path: Path, fmt: str | None = None) -> str:
    """A ``columns:`` block (YAML) for a source reading files like ``path``; the format is
    the one its name says unless ``fmt`` is given."""
    try:
        chosen = fmt or format_of(path.name)
    except ConnectorError as error:
        raise InvalidInput(str(error)) from error
    return to_yaml(sources.infer(actor, path, chosen))
