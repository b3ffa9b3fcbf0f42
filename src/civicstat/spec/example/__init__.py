"""The example workspace that ``civicstat init`` writes: a small town that validates and runs.

The template files sit next to this module and are read through importlib.resources,
so ``init`` works the same from a source checkout, a wheel or a zip.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

__all__ = ["write_example"]

_SKIP = {"__init__.py", "__pycache__"}


def write_example(target: Path) -> None:
    """Copy the example workspace into ``target``, which must be missing or empty.

    Raises FileExistsError rather than mix the example into someone's existing files.
    """
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        what = "a file" if not target.is_dir() else "a folder that is not empty"
        raise FileExistsError(
            f"{target} is {what}; choose a new or empty folder for the example workspace"
        )
    target.mkdir(parents=True, exist_ok=True)
    _copy(files(__name__), target)


def _copy(source: Traversable, target: Path) -> None:
    for entry in sorted(source.iterdir(), key=lambda e: e.name):
        if entry.name in _SKIP or entry.name.endswith((".pyc", ".pyo")):
            continue
        if entry.is_dir():
            (target / entry.name).mkdir(exist_ok=True)
            _copy(entry, target / entry.name)
        else:
            (target / entry.name).write_bytes(entry.read_bytes())
