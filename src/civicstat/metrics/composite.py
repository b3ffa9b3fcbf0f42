"""Measures computed from other measures' observations: ratio and derived.

Both work period by period and slice by slice: a value exists where every input has one.
A derived expression is the measure SQL subset's arithmetic (``+ - * /``, parentheses,
numbers) over the names given in ``inputs``, evaluated in Python, so it needs no engine.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence

from sqlglot import exp

from civicstat.domain.observations import ObservationRow
from civicstat.spec.language import ExpressionError, parse_value
from civicstat.spec.models import Measure

Key = tuple[dt.date, str]  # (period start, slice key)


def ratio(
    measure: Measure,
    numerator: Sequence[ObservationRow],
    denominator: Sequence[ObservationRow],
) -> list[ObservationRow]:
    """numerator ÷ denominator (× 100 when the unit is percent), where both have values."""
    scale = 100.0 if measure.unit == "percent" else 1.0
    bottom = _by_key(denominator)
    out = []
    for top in numerator:
        other = bottom.get((top.period_start, top.slice_key))
        if other is None:
            continue
        a, b = top.value, other.value
        value = a * scale / b if a is not None and b else None
        out.append(_row(top, _finite(value), a, b, min(top.n, other.n)))
    return out


def derived(
    measure: Measure, inputs: Mapping[str, Sequence[ObservationRow]]
) -> list[ObservationRow]:
    """The expression over the inputs' values wherever every input has an observation."""
    assert measure.expression is not None
    tree = parse_value(measure.expression)
    series = {name: _by_key(rows) for name, rows in inputs.items()}
    first = next(iter(series.values()), {})
    out = []
    for key, row in first.items():
        found = {name: s.get(key) for name, s in series.items()}
        values = {n: r.value for n, r in found.items() if r is not None}
        if len(values) < len(series):
            continue
        value = _evaluate(tree, values)
        n = min(r.n for r in found.values() if r is not None)
        out.append(_row(row, _finite(value), None, None, n))
    return out


def _evaluate(node: exp.Expression, values: Mapping[str, float | None]) -> float | None:
    match node:
        case exp.Paren():
            return _evaluate(node.this, values)
        case exp.Literal():
            return float(node.this)
        case exp.Column():
            return values[node.name]
        case exp.Neg():
            inner = _evaluate(node.this, values)
            return None if inner is None else -inner
    left = _evaluate(node.args["this"], values)
    right = _evaluate(node.args["expression"], values)
    if left is None or right is None:
        return None
    match node:
        case exp.Add():
            return left + right
        case exp.Sub():
            return left - right
        case exp.Mul():
            return left * right
        case exp.Div():
            return left / right if right else None
    raise ExpressionError(f"{node.sql()!r} is not arithmetic")


def _by_key(rows: Sequence[ObservationRow]) -> dict[Key, ObservationRow]:
    return {(r.period_start, r.slice_key): r for r in rows}


def _row(
    like: ObservationRow, value: float | None, num: float | None, den: float | None, n: int
) -> ObservationRow:
    return ObservationRow(like.period_start, like.period_end, like.slice_key, value, num, den, n)


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None
