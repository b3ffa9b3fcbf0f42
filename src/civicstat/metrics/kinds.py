"""Measure kinds. Each turns a measure's rows into (numerator, denominator, n) aggregates.

Kinds register through the ``civicstat.measure_kinds`` entry point group, the built-in
ones too, so a plugin adds a kind the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points
from typing import Any, Protocol, cast

from ibis.expr.types import Table

from civicstat.metrics.expressions import parse, to_ibis
from civicstat.spec.models import Measure

GROUP = "civicstat.measure_kinds"


@dataclass(frozen=True)
class Aggregates:
    """Named aggregate expressions; value = numerator / denominator (scaled by the unit)."""

    numerator: Any
    denominator: Any
    n: Any


class MeasureKind(Protocol):
    def __call__(self, measure: Measure, rows: Table) -> Aggregates: ...


def share(measure: Measure, rows: Table) -> Aggregates:
    """Share of rows meeting ``condition``: a row where it is NULL does not meet it."""
    met = to_ibis(parse(measure.condition), rows).fill_null(False)
    return Aggregates(
        numerator=met.cast("int64").sum(),
        denominator=rows.count(),
        n=rows.count(),
    )


@cache
def available() -> dict[str, MeasureKind]:
    return {ep.name: cast("MeasureKind", ep.load()) for ep in entry_points(group=GROUP)}


def get(name: str) -> MeasureKind:
    kinds = available()
    if name not in kinds:
        raise KeyError(f"unknown measure kind {name!r} (installed: {', '.join(sorted(kinds))})")
    return kinds[name]
