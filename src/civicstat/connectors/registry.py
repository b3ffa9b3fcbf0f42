"""Find connectors through the ``civicstat.connectors`` entry point group.

Built-in connectors register exactly as third-party ones do. A connector that fails to
import is reported by ``get`` (and listed by ``broken``) instead of taking the platform down.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import cast

from civicstat.connectors.base import Connector

GROUP = "civicstat.connectors"


@cache
def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


@cache
def _load(name: str) -> type[Connector] | str:
    """The connector ``name``, or why it cannot be imported. Only the connector a run
    names is imported: a file source's ingest never loads the SQL connector's drivers."""
    try:
        return cast("type[Connector]", _entry_points()[name].load())
    except Exception as error:
        return f"{type(error).__name__}: {error}"


def available() -> dict[str, type[Connector]]:
    """Every installed connector that imports, by name."""
    loaded = {name: _load(name) for name in _entry_points()}
    return {name: c for name, c in loaded.items() if not isinstance(c, str)}


def broken() -> dict[str, str]:
    """Installed connectors that failed to import, with the reason."""
    loaded = {name: _load(name) for name in _entry_points()}
    return {name: c for name, c in loaded.items() if isinstance(c, str)}


def get(name: str) -> type[Connector]:
    if name in _entry_points():
        loaded = _load(name)
        if isinstance(loaded, str):
            raise KeyError(f"connector {name!r} is installed but cannot be loaded: {loaded}")
        return loaded
    known = ", ".join(sorted(available())) or "none"
    raise KeyError(f"unknown connector {name!r} (installed: {known})")
