"""Help write source specs: propose declared columns from a sample file."""

from __future__ import annotations

from pathlib import Path

from civicstat.governance.actors import Actor
from civicstat.governance.permissions import WORKSPACE_APPLY, Resource, require
from civicstat.services.errors import InvalidInput
from civicstat.warehouse.infer import Inferred, infer_columns


def infer(actor: Actor, path: Path, fmt: str) -> Inferred:
    """The columns a spec could declare for ``path``. Reading a sample to write the spec is
    part of authoring the workspace, so it needs the right to apply one."""
    require(actor, WORKSPACE_APPLY, Resource("workspace", "sample"))
    if not path.is_file():
        raise InvalidInput(f"{path}: no such file")
    try:
        return infer_columns(path, fmt)
    except Exception as error:
        raise InvalidInput(f"{path}: cannot infer columns: {str(error).splitlines()[0]}") from error
