"""Compile a checked condition or value of the measure expression language to Ibis.

The language itself (parsing, the allowlist, type checks) is the spec's
(:mod:`civicstat.spec.language`); compiling it here lets the same definition run on every
warehouse engine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ibis
from ibis.expr.types import BooleanValue, Table, Value
from sqlglot import exp

from civicstat.spec.language import (
    SECONDS,
    ExpressionError,
    describe,
    interval_parts,
    number,
    round_digits,
    typed_literal,
)

__all__ = ["ValueExpr", "to_ibis"]


def to_ibis(tree: exp.Expression, table: Table) -> BooleanValue:
    """Compile a checked condition to an Ibis boolean expression over ``table``."""
    value: BooleanValue = _Compiler(table).compile(tree)
    return value


class _Compiler:
    def __init__(self, table: Table) -> None:
        self.table = table
        binary: dict[type[exp.Expression], Callable[[Any, Any], Any]] = {
            exp.EQ: lambda a, b: a == b,
            exp.NEQ: lambda a, b: a != b,
            exp.GT: lambda a, b: a > b,
            exp.GTE: lambda a, b: a >= b,
            exp.LT: lambda a, b: a < b,
            exp.LTE: lambda a, b: a <= b,
            exp.And: lambda a, b: a & b,
            exp.Or: lambda a, b: a | b,
            exp.Add: lambda a, b: _dates_as_timestamps(a, b, lambda x, y: x + y),
            exp.Sub: lambda a, b: _dates_as_timestamps(a, b, lambda x, y: x - y),
            exp.Mul: lambda a, b: a * b,
            exp.Div: lambda a, b: a / b,
        }
        self.binary = binary

    def compile(self, node: exp.Expression) -> Any:
        value = self._compile(node)
        # SQLGlot writes `x NOT LIKE p` (and NOT ILIKE) as the node with negate=True.
        return ~value if node.args.get("negate") else value

    def _compile(self, node: exp.Expression) -> Any:
        if type(node) in self.binary:
            left, right = node.args["this"], node.args["expression"]
            return self.binary[type(node)](self.compile(left), self.compile(right))
        match node:
            case exp.Paren():
                return self.compile(node.this)
            case exp.Column():
                return self.table[node.name]
            case exp.Boolean():
                return ibis.literal(node.this)
            case exp.Null():
                return ibis.null()
            case exp.Literal(is_string=True):
                return ibis.literal(node.this)
            case exp.Literal():
                return ibis.literal(number(node))
            case exp.Neg():
                return -self.compile(node.this)
            case exp.Not():
                return ~self.compile(node.this)
            case exp.Is():
                inner = self.compile(node.this)
                target = node.expression
                if isinstance(target, exp.Null):
                    return inner.isnull()
                return inner == self.compile(target)
            case exp.In():
                values = [self.compile(v) for v in node.expressions]
                return self.compile(node.this).isin(values)
            case exp.Between():
                low, high = self.compile(node.args["low"]), self.compile(node.args["high"])
                return self.compile(node.this).between(low, high)
            case exp.Like():
                return self.compile(node.this).like(self.compile(node.expression))
            case exp.ILike():
                return self.compile(node.this).ilike(self.compile(node.expression))
            case exp.Cast():
                return ibis.literal(typed_literal(node))
            case exp.Interval():
                # In seconds: the difference of two timestamps is one, and intervals of
                # different units do not compare.
                amount, unit = interval_parts(node)
                return ibis.interval(amount * SECONDS[unit], unit="s")
            case exp.Coalesce():
                args = [self.compile(a) for a in [node.this, *node.expressions]]
                return ibis.coalesce(*args)
            case exp.Abs():
                return self.compile(node.this).abs()
            case exp.Lower():
                return self.compile(node.this).lower()
            case exp.Upper():
                return self.compile(node.this).upper()
            case exp.Case():
                return self._case(node)
            case exp.If():
                return ibis.ifelse(
                    self.compile(node.this),
                    self.compile(node.args["true"]),
                    self.compile(node.args["false"]) if node.args.get("false") else ibis.null(),
                )
            case exp.Round():
                return self.compile(node.this).round(round_digits(node.args.get("decimals")))
            case exp.Mod():
                return self.compile(node.this) % self.compile(node.expression)
        raise ExpressionError(f"{describe(node)} is not allowed in a condition")

    def _case(self, node: exp.Case) -> Any:
        """CASE WHEN c THEN v ..., or CASE x WHEN 1 THEN v ... (x compared with each value)."""
        subject = node.args.get("this")
        cases = []
        for when in node.args["ifs"]:
            test = when.this if subject is None else exp.EQ(this=subject, expression=when.this)
            cases.append((self.compile(test), self.compile(when.args["true"])))
        default = node.args.get("default")
        return ibis.cases(*cases, else_=self.compile(default) if default is not None else None)


def _dates_as_timestamps(a: Any, b: Any, op: Callable[[Any, Any], Any]) -> Any:
    """Date arithmetic as timestamps: ``date - date`` is then an interval in seconds, like
    ``timestamp - timestamp``, comparable with any INTERVAL of the language."""
    if (_is_date(a) and _is_date(b)) or _is_interval(a) or _is_interval(b):
        a = a.cast("timestamp") if _is_date(a) else a
        b = b.cast("timestamp") if _is_date(b) else b
    return op(a, b)


def _is_date(value: Any) -> bool:
    return isinstance(value, Value) and value.type().is_date()


def _is_interval(value: Any) -> bool:
    return isinstance(value, Value) and value.type().is_interval()


ValueExpr = Value  # re-exported for callers that annotate compiled values
