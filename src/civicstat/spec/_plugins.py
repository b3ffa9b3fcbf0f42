"""Connectors as the spec sees them: found through their entry points at run time.

Validation needs a source's connector only for its ``Options`` model and its reach check,
so it loads that one connector and no other: checking a workspace of file sources never
imports the SQL connector's database drivers.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

CONNECTORS = "civicstat.connectors"


@cache
def _entry_points(group: str) -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=group)}


@cache
def load(group: str, name: str) -> Any | None:
    """The plugin ``name`` of ``group``; None when it is not installed or fails to import."""
    entry = _entry_points(group).get(name)
    if entry is None:
        return None
    try:
        return entry.load()
    except Exception:  # a broken plugin is reported as not installed, never stops the others
        return None


def loadable(group: str) -> dict[str, Any]:
    """Every installed plugin of ``group`` that imports, by name."""
    found = {name: load(group, name) for name in sorted(_entry_points(group))}
    return {name: plugin for name, plugin in found.items() if plugin is not None}
