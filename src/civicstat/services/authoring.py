"""Help write a workspace: the example to start from, the schema of its files, checking one
and summing it up, and typed columns proposed from a sample file.

Nothing here but ``propose_columns`` needs the metadata store or the warehouse, so checking
a workspace (``civicstat validate``) loads neither SQLAlchemy nor DuckDB from here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from civicstat.governance.actors import Actor
from civicstat.services.errors import InvalidInput
from civicstat.settings import Settings
from civicstat.spec import validate
from civicstat.spec.boundary import Boundary
from civicstat.spec.example import write_example
from civicstat.spec.workspace import Workspace

__all__ = ["example", "json_schema", "load", "propose_columns", "summary"]


def example(directory: Path) -> None:
    """Write the example workspace into a new or empty folder; refuse any other."""
    try:
        write_example(directory)
    except FileExistsError as error:
        raise InvalidInput(str(error)) from error


def load(root: Path, settings: Settings | None = None) -> Workspace:
    """Load and check the workspace files; raises SpecError listing every problem. With
    ``settings``, local paths are judged by this machine's data roots too."""
    if settings is None:
        return validate.load_workspace(root)
    lake = settings.resolved_lake()  # the spec's own lake_url is judged when stores open
    return validate.load_workspace(root, Boundary.of(root, settings.data_roots, [lake]))


def summary(workspace: Workspace) -> str:
    """One line saying what a valid workspace holds."""
    return validate.summary(workspace)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of every workspace file and each installed connector's options."""
    return validate.json_schema()


def propose_columns(actor: Actor, path: Path, fmt: str | None = None) -> str:
    """A ``columns:`` block (YAML) for a source reading files like ``path``; the format is
    the one its name says unless ``fmt`` is given."""
    # DuckDB reads the sample: loaded here, not when this module is.
    from civicstat.connectors.base import ConnectorError
    from civicstat.connectors.file import format_of
    from civicstat.services import sources
    from civicstat.warehouse.infer import to_yaml

    try:
        chosen = fmt or format_of(path.name)
    except ConnectorError as error:
        raise InvalidInput(str(error)) from error
    return to_yaml(sources.infer(actor, path, chosen))
