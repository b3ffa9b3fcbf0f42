"""Row-level access: which rows of a dataset an actor sees.

A source with ``row_access`` names a column holding each row's department (or, with
``by: user``, a user name). Admins see every row, and so does a steward whose department
owns the dataset (or sits above its owner); everyone else sees the rows of their own
department and of the departments under it, or, by user, their own rows. A row whose
column is empty is seen only by those who see every row; an actor with no department sees
no rows of a dataset filtered by department.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from civicstat.governance.actors import Actor, Role
from civicstat.spec.models import Department, Source


@dataclass(frozen=True, slots=True)
class RowScope:
    """The rows an actor sees: all of them, or those whose ``column`` is in ``values``."""

    column: str | None = None  # None: every row
    values: frozenset[str] = frozenset()

    @property
    def everything(self) -> bool:
        return self.column is None


EVERY_ROW = RowScope()


def departments_under(department: str, departments: Mapping[str, Department]) -> frozenset[str]:
    """``department`` and every department below it in the hierarchy."""
    children: dict[str, list[str]] = {}
    for item in departments.values():
        if item.parent is not None:
            children.setdefault(item.parent, []).append(item.id)
    found = {department}
    pending = [department]
    while pending:
        for child in children.get(pending.pop(), []):
            if child not in found:
                found.add(child)
                pending.append(child)
    return frozenset(found)


def row_scope(actor: Actor, source: Source, departments: Mapping[str, Department]) -> RowScope:
    """The rows of ``source``'s dataset that ``actor`` may see."""
    access = source.row_access
    if access is None or actor.role is Role.ADMIN:
        return EVERY_ROW
    own = departments_under(actor.department, departments) if actor.department else frozenset()
    if actor.role is Role.STEWARD and source.owner in own:
        return EVERY_ROW
    if access.by == "user":
        return RowScope(access.column, frozenset({actor.name} if actor.kind == "user" else ()))
    return RowScope(access.column, own)


def row_filter(table: ir.Table, scope: RowScope) -> ir.Table:
    """``table`` narrowed to the rows of ``scope``, inside the query."""
    if scope.column is None:
        return table
    if not scope.values or scope.column not in table.columns:
        # Nothing to match, or a version stored before the column existed: no row.
        return table.filter(ibis.literal(False))
    return table.filter(table[scope.column].cast("string").isin(sorted(scope.values)))
