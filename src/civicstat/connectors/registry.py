"""Find connectors through the ``civicstat.connectors`` entry point group."""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points
from typing import cast

from civicstat.connectors.base import Connector

GROUP = "civicstat.connectors"


@cache
def available() -> dict[str, type[Connector]]:
    """Every installed connector by name; built-in ones register exactly like plugins."""
    found: dict[str, type[Connector]] = {}
    for ep in entry_points(group=GROUP):
        found[ep.name] = cast("type[Connector]", ep.load())
    return found


def get(name: str) -> type[Connector]:
    connectors = available()
    if name not in connectors:
        known = ", ".join(sorted(connectors)) or "none"
        raise KeyError(f"unknown connector {name!r} (installed: {known})")
    return connectors[name]
