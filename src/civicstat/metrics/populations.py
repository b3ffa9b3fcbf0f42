"""A rate's denominator: a fixed number, or a population dataset read by period and slice.

For a period, each group of the population table (one per combination of its ``match``
columns) contributes its row whose ``time`` is the latest at or before the period's start
(its earliest row when the period is older than all of them). The total sums every group;
a slice of a matched column sums the groups with that value. A slice of a column the
population does not have has no denominator, so no value.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from civicstat.metadata import data_versions
from civicstat.metadata.db import Database
from civicstat.metrics.compute import Denominators
from civicstat.spec.models import Measure, Population
from civicstat.warehouse.engine import Warehouse


def denominators(db: Database, warehouse: Warehouse, measure: Measure) -> Denominators | None:
    """None when the measure is not a rate over a population dataset."""
    if measure.kind != "rate":
        return None
    population = measure.population
    if not isinstance(population, Population):
        return None
    with db.session() as session:
        version = data_versions.current(session, population.dataset)
    if version is None:
        return lambda start, dim, value: None
    columns = [population.value, *population.match]
    if population.time:
        columns.append(population.time)
    with warehouse.session() as table:
        rows = table(version.dataset_id, version.version, version.files)
        records = warehouse.execute(rows.select(*columns)).to_pylist()
    return Lookup(population, records)


class Lookup:
    """A population's rows grouped by its ``match`` columns, asked by period and slice."""

    def __init__(self, population: Population, records: list[dict[str, Any]]) -> None:
        self.population = population
        groups: dict[tuple[Any, ...], list[tuple[dt.date, float]]] = defaultdict(list)
        for record in records:
            value = record[population.value]
            if value is None:
                continue
            when = _as_date(record[population.time]) if population.time else dt.date.min
            if when is None:
                continue
            key = tuple(record[c] for c in population.match)
            groups[key].append((when, float(value)))
        self.groups = {k: sorted(v) for k, v in groups.items()}

    def __call__(self, start: dt.date, dimension: str, value: str | None) -> float | None:
        match = self.population.match
        if dimension and dimension not in match:
            return None
        position = match.index(dimension) if dimension else None
        total, found = 0.0, False
        for key, series in self.groups.items():
            if position is not None and _text(key[position]) != value:
                continue
            applicable = [v for when, v in series if when <= start]
            total += applicable[-1] if applicable else series[0][1]
            found = True
        return total if found else None


def _as_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int) and 1 <= value <= 9999:  # a year
        return dt.date(value, 1, 1)
    return None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
