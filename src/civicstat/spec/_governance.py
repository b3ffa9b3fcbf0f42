"""Validation rules about who reads what: row access and PII, each at its place."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Loc = tuple[str | int, ...]


def _declared(source: dict[str, Any]) -> dict[str, dict[str, Any]]:
    columns = source.get("columns")
    return {
        c["name"]: c
        for c in (columns if isinstance(columns, list) else [])
        if isinstance(c, dict) and isinstance(c.get("name"), str)
    }


def source_problems(source: dict[str, Any]) -> Iterator[tuple[Loc, str]]:
    """``row_access`` names a declared string column."""
    access = source.get("row_access")
    if not isinstance(access, dict) or not isinstance(access.get("column"), str):
        return
    name = access["column"]
    column = _declared(source).get(name)
    dataset = source.get("dataset") or source.get("id")
    if column is None:
        yield ("row_access", "column"), f"column {name!r} not in dataset {dataset}"
    elif column.get("type") != "string":
        yield (
            ("row_access", "column"),
            f"column {name!r} is {column.get('type')}; row access needs a string column "
            "holding department ids or user names",
        )


def breakdown_problems(
    measure: dict[str, Any], source: dict[str, Any]
) -> Iterator[tuple[Loc, str]]:
    """A measure does not break down by a PII column: each slice would publish a value."""
    breakdowns = measure.get("breakdowns")
    declared = _declared(source)
    for index, name in enumerate(breakdowns if isinstance(breakdowns, list) else []):
        column = declared.get(name) if isinstance(name, str) else None
        if column is not None and column.get("pii") is not None:
            yield (
                ("breakdowns", index),
                f"column {name!r} holds personal data (pii: {column['pii']}); a measure "
                "cannot break down by it, as every slice would show a value",
            )
