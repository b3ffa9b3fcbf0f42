"""Find connectors through the ``civicstat.connectors`` entry point group.

Built-in connectors register exactly as third-party ones do. A connector that fails to
import is reported by ``get`` (and listed by ``broken``) instead of taking the platform down.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points
from typing import cast

from civicstat.connectors.base import Connector

GROUP = "civicstat.connectors"


@cache
def _load() -> tuple[dict[str, type[Connector]], dict[str, str]]:
    found: dict[str, type[Connector]] = {}
    broken: dict[str, str] = {}
    for ep in entry_points(group=GROUP):
        try:
            found[ep.name] = cast("type[Connector]", ep.load())
        except Exception as error:
            broken[ep.name] = f"{type(error).__name__}: {error}"
    return found, broken


def available() -> dict[str, type[Connector]]:
    """Every installed connector that imports, by name."""
    return _load()[0]


def broken() -> dict[str, str]:
    """Installed connectors that failed to import, with the reason."""
    return _load()[1]


def get(name: str) -> type[Connector]:
    connectors, failed = _load()
    if name in failed:
        raise KeyError(f"connector {name!r} is installed but cannot be loaded: {failed[name]}")
    if name not in connectors:
        known = ", ".join(sorted(connectors)) or "none"
        raise KeyError(f"unknown connector {name!r} (installed: {known})")
    return connectors[name]
