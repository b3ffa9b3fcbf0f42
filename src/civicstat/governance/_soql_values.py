"""SoQL expressions as Ibis values over one table: columns by name, literals read as the
type of what they are compared with (``'2024-01-01T00:00:00'`` against a timestamp,
``'5'`` against a number), functions and operators. Errors name columns, never values.
"""

from __future__ import annotations

import datetime as dt
import math
import operator
import re
from collections.abc import Mapping
from typing import Any

import ibis
import ibis.expr.datatypes as dtypes
import ibis.expr.types as ir

from civicstat.governance import soql
from civicstat.governance.soql import (
    Between,
    Binary,
    Call,
    Column,
    Expr,
    In,
    IsNull,
    Like,
    Literal,
    SoqlError,
    Unary,
)

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_COMPARE = {
    "=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
    ">": operator.gt, ">=": operator.ge,
}  # fmt: skip
_ARITHMETIC = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
    "%": operator.mod,
}  # fmt: skip
_TRUNCATE = {"date_trunc_y": "Y", "date_trunc_ym": "M", "date_trunc_ymd": "D"}
_TRUE = {"true", "1"}
_FALSE = {"false", "0"}


class Values:
    """Compiles expressions over ``table``; ``resolved`` gives the value of a whole
    expression already computed (after grouping: a group key, a suppressed aggregate),
    and then a bare column that is not one of them is refused."""

    def __init__(self, table: ir.Table, resolved: Mapping[Expr, ir.Value] | None = None):
        self.table = table
        self.resolved = resolved

    def column(self, name: str) -> ir.Value:
        if self.resolved is not None:
            raise SoqlError(f"column {name!r} must be in $group or inside an aggregate")
        if name not in self.table.columns:
            # A name is repeated only when it could be one: a filter's name may be anything.
            said = f": {name!r}" if _NAME.match(name) else ""
            raise SoqlError(f"no such column{said}")
        return self.table[name]

    def condition(self, expr: Expr) -> ir.BooleanValue:
        value = self.value(expr)
        if not value.type().is_boolean():
            raise SoqlError("a condition must be true or false, not a value")
        return value

    def value(self, expr: Expr, like: dtypes.DataType | None = None) -> ir.Value:
        if self.resolved is not None and expr in self.resolved:
            return self.resolved[expr]
        match expr:
            case Literal():
                return self.literal(expr, like)
            case Column(name=name):
                return self.column(name)
            case Call():
                return self.call(expr)
            case Unary(op="not", operand=operand):
                return ~self.condition(operand)
            case Unary(operand=operand):
                return -self.number(operand)
            case Binary():
                return self.binary(expr)
            case IsNull(operand=operand, negated=negated):
                value = self.value(operand)
                return value.notnull() if negated else value.isnull()
            case In(operand=operand, items=items, negated=negated):
                value = self.value(operand)
                options = [self.value(i, value.type()) for i in items]
                return value.notin(options) if negated else value.isin(options)
            case Between(operand=operand, low=low, high=high, negated=negated):
                value = self.value(operand)
                between = value.between(
                    self.value(low, value.type()), self.value(high, value.type())
                )
                return ~between if negated else between
            case Like(operand=operand, pattern=pattern, negated=negated):
                text = self.text(operand)
                found = text.like(self.value(pattern, dtypes.string))
                return ~found if negated else found
        raise SoqlError("cannot read that expression")  # pragma: no cover

    def literal(self, expr: Literal, like: dtypes.DataType | None) -> ir.Value:
        if like is None or expr.value is None:
            return ibis.literal(expr.value) if expr.value is not None else ibis.null()
        value = coerce(expr.value, like)
        if like.is_integer() and isinstance(value, float):
            return ibis.literal(value, type="float64")
        return ibis.literal(value, type=like)

    def coerce(self, expr: Literal, like: dtypes.DataType) -> ir.Value:
        return self.literal(expr, like)

    def binary(self, expr: Binary) -> ir.Value:
        if expr.op in ("and", "or"):
            left, right = self.condition(expr.left), self.condition(expr.right)
            return left & right if expr.op == "and" else left | right
        left, right = self.pair(expr.left, expr.right)
        if expr.op in _COMPARE:
            return _COMPARE[expr.op](left, right)
        if not (left.type().is_numeric() and right.type().is_numeric()):
            raise SoqlError(f"{expr.op} works on numbers only")
        return _ARITHMETIC[expr.op](left, right)

    def pair(self, a: Expr, b: Expr) -> tuple[ir.Value, ir.Value]:
        """Two operands, a literal read as the type of the other side."""
        if isinstance(a, Literal) and not isinstance(b, Literal):
            right = self.value(b)
            return self.value(a, right.type()), right
        left = self.value(a)
        return left, self.value(b, None if isinstance(a, Literal) else left.type())

    def number(self, expr: Expr) -> ir.NumericValue:
        value = self.value(expr)
        if not value.type().is_numeric():
            raise SoqlError("expected a number")
        return value

    def text(self, expr: Expr) -> ir.StringValue:
        value = self.value(expr, dtypes.string)
        if not value.type().is_string():
            raise SoqlError("expected text")
        return value

    def call(self, call: Call) -> ir.Value:
        name, args = call.function, call.args
        if name in soql.AGGREGATES:
            raise SoqlError(f"{name} is an aggregate: it needs $group or a $select of aggregates")
        if name in _TRUNCATE:
            value = self.value(args[0])
            if not (value.type().is_timestamp() or value.type().is_date()):
                raise SoqlError(f"{name} works on dates and times only")
            return value.truncate(_TRUNCATE[name])
        if name == "starts_with":
            return self.text(args[0]).startswith(self.text(args[1]))
        if name == "upper":
            return self.text(args[0]).upper()
        return self.text(args[0]).lower()

    def aggregate(self, call: Call) -> ir.Value:
        """An aggregate's reduction over the table (before grouping)."""
        if call.star:
            return self.table.count()
        inner = Values(self.table)
        if any(
            isinstance(n, Call) and n.function in soql.AGGREGATES for n in soql.walk(call.args[0])
        ):
            raise SoqlError("an aggregate cannot hold another aggregate")
        value = inner.value(call.args[0])
        if call.function == "count":
            return value.count()
        if call.function in ("sum", "avg"):
            if not value.type().is_numeric():
                raise SoqlError(f"{call.function} works on numbers only")
            number: Any = value
            return number.sum() if call.function == "sum" else number.mean()
        reducible: Any = value
        return reducible.min() if call.function == "min" else reducible.max()


def coerce(value: str | int | float | bool, like: dtypes.DataType) -> Any:
    """A literal as a value of type ``like``; SoqlError when it cannot be one."""
    try:
        if like.is_string():
            if not isinstance(value, str):
                raise ValueError
            return value
        if like.is_boolean():
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
                return value.strip().lower() in _TRUE
            raise ValueError
        if like.is_numeric():
            return _number(value, like)
        if like.is_timestamp() or like.is_date():
            if not isinstance(value, str):
                raise ValueError
            moment = dt.datetime.fromisoformat(value.strip().removesuffix("Z"))
            if moment.tzinfo is not None:
                moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
            return moment.date() if like.is_date() else moment
    except (ValueError, OverflowError):
        raise SoqlError(f"a value in the query is not a valid {_kind(like)}") from None
    raise SoqlError(f"cannot compare with a {_kind(like)}")


def _number(value: str | int | float | bool, like: dtypes.DataType) -> int | float:
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, str):
        text = value.strip()
        if len(text) > 40:
            raise ValueError
        value = int(text) if text.lstrip("-").isdigit() else float(text)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError
    if like.is_integer():
        if isinstance(value, float):
            return value  # compared as a number; the engine widens the column
        bounds = like.bounds
        if not bounds.lower <= value <= bounds.upper:
            raise ValueError
    return value


def _kind(like: dtypes.DataType) -> str:
    if like.is_string():
        return "text"
    if like.is_boolean():
        return "true or false"
    if like.is_numeric():
        return "number"
    if like.is_timestamp() or like.is_date():
        return "date and time (like 2024-01-31T00:00:00)"
    return str(like)
