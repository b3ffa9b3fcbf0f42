"""Checks of one measure file against its kind, its dataset's columns and other measures.

Each check yields ``(loc, message)``, the place in the file and what is wrong there, so the
validator can report every problem of a measure at once.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from civicstat.spec import language, measure_kinds
from civicstat.spec._errors import hint
from civicstat.spec.yamlpos import Loc

TIME_TYPES = ("date", "timestamp")
_TIME_FIELDS = ("time", "start", "end")


def kind_problems(data: Mapping[str, Any]) -> Iterator[tuple[Loc, str]]:
    """The kind exists; the fields it needs are there; no field it ignores is."""
    name = data.get("kind")
    if not isinstance(name, str):
        return
    available = measure_kinds.available()
    if name not in available:
        yield ("kind",), f"unknown measure kind {name!r}{hint(name, available)}"
        return
    kind = available[name]
    for field in sorted(kind.required - data.keys()):
        yield (), f"a {name} measure needs {field!r}"
    allowed = measure_kinds.BASE_FIELDS | kind.required | kind.optional
    for field in sorted(data.keys() - allowed):
        yield (field,), f"{field!r} is not used by a {name} measure"


def column_problems(
    data: Mapping[str, Any], dataset: str, columns: Mapping[str, str]
) -> Iterator[tuple[Loc, str]]:
    """Columns named by the measure exist and have a fitting type; SQL is allowed SQL."""
    for field in _TIME_FIELDS:
        column = data.get(field)
        if not isinstance(column, str):
            continue
        if column not in columns:
            message = f"column {column!r} not in dataset {dataset}{hint(column, columns)}"
            yield (field,), message
        elif columns[column] not in TIME_TYPES:
            kind = columns[column]
            yield (field,), f"{field} column {column!r} is {kind}; it must be a date or timestamp"
    breakdowns = data.get("breakdowns")
    for index, column in enumerate(breakdowns if isinstance(breakdowns, list) else []):
        if isinstance(column, str) and column not in columns:
            message = f"column {column!r} not in dataset {dataset}{hint(column, columns)}"
            yield ("breakdowns", index), message
    measure_kind = measure_kinds.available().get(str(data.get("kind")))
    numeric = measure_kind is not None and measure_kind.numeric_value
    for field in ("condition", "filter", "value"):
        sql = data.get(field)
        if isinstance(sql, str):
            value = field == "value"
            for problem in language.check(sql, columns, value=value, numeric=numeric):
                yield (field,), f"{field}: {problem}"


def population_problems(
    data: Mapping[str, Any], datasets: Mapping[str, Mapping[str, str]]
) -> Iterator[tuple[Loc, str]]:
    """A rate's population dataset exists and has the columns it names."""
    population = data.get("population")
    if not isinstance(population, dict):
        return
    dataset = population.get("dataset")
    if not isinstance(dataset, str):
        return
    if dataset not in datasets:
        yield ("population", "dataset"), f"dataset {dataset!r} not loaded by any source"
        return
    columns = datasets[dataset]
    for field in ("value", "time"):
        column = population.get(field)
        if isinstance(column, str) and column not in columns:
            message = f"column {column!r} not in dataset {dataset}{hint(column, columns)}"
            yield ("population", field), message
    match = population.get("match")
    breakdowns = data.get("breakdowns") or []
    for index, column in enumerate(match if isinstance(match, list) else []):
        if isinstance(column, str) and column not in columns:
            message = f"column {column!r} not in dataset {dataset}{hint(column, columns)}"
            yield ("population", "match", index), message
        elif isinstance(column, str) and column not in breakdowns:
            yield ("population", "match", index), f"{column!r} is not one of the breakdowns"


def reference_problems(
    data: Mapping[str, Any], measures: Mapping[str, Mapping[str, Any]]
) -> Iterator[tuple[Loc, str]]:
    """Measures a ratio, derived or cumulative measure is built from exist and fit."""
    references: list[tuple[Loc, Any]] = [
        ((field,), data.get(field)) for field in ("numerator", "denominator", "of")
    ]
    inputs = data.get("inputs")
    if isinstance(inputs, dict):
        references += [(("inputs", name), ref) for name, ref in inputs.items()]
    grain = data.get("grain", "month")
    for loc, ref in references:
        if not isinstance(ref, str):
            continue
        if ref not in measures:
            yield loc, f"measure {ref!r} not in measures/{hint(ref, measures)}"
            continue
        other = measures[ref]
        kind = measure_kinds.available().get(str(data.get("kind")))
        if kind is not None and kind.accumulates:
            other_kind = measure_kinds.available().get(str(other.get("kind")))
            if other_kind is None or not other_kind.from_rows or other_kind.flow:
                yield loc, f"measure {ref!r} is a {other.get('kind')}; only row measures accumulate"
            elif other.get("window"):
                yield loc, f"measure {ref!r} already has a window"
        elif other.get("grain", "month") != grain:
            yield loc, f"measure {ref!r} is by {other.get('grain', 'month')}, this one by {grain}"
    expression = data.get("expression")
    if isinstance(expression, str) and isinstance(inputs, dict):
        for problem in language.check_arithmetic(expression, list(inputs)):
            yield ("expression",), f"expression: {problem}"


def cycle(measures: Mapping[str, Mapping[str, Any]]) -> list[str] | None:
    """A chain of measures built from each other in a circle, if there is one."""
    edges = {mid: list(_depends(data)) for mid, data in measures.items()}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in edges.get(node, []):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt in edges and nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


def _depends(data: Mapping[str, Any]) -> Iterator[str]:
    for field in ("numerator", "denominator", "of"):
        if isinstance(data.get(field), str):
            yield data[field]
    inputs = data.get("inputs")
    if isinstance(inputs, dict):
        yield from (v for v in inputs.values() if isinstance(v, str))
