"""The measure expression language: a small, safe subset of SQL for conditions and filters.

A condition such as ``priority = 1 AND response_seconds <= 480`` is parsed with SQLGlot,
checked node by node against an allowlist, and compiled to an Ibis expression, so the same
definition runs on every warehouse engine and can never smuggle in a subquery, a second
statement, a table function such as ``read_csv`` or a comment.
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import re
from collections.abc import Callable, Mapping
from typing import Any

import ibis
import sqlglot
from ibis.expr.types import BooleanValue, Table, Value
from sqlglot import exp

_PREDICATES: tuple[type[exp.Expression], ...] = (
    exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE,
    exp.And, exp.Or, exp.Not, exp.Is, exp.In, exp.Between, exp.Like, exp.ILike,
)  # fmt: skip
_ALLOWED: tuple[type[exp.Expression], ...] = (
    *_PREDICATES,
    exp.Column, exp.Identifier, exp.Literal, exp.Boolean, exp.Null, exp.Paren, exp.Tuple,
    exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Neg, exp.Interval, exp.Var,
    exp.Coalesce, exp.Abs, exp.Lower, exp.Upper, exp.Case, exp.If, exp.Round, exp.Mod,
    exp.Cast, exp.DataType,  # only as DATE '…' and TIMESTAMP '…' literals, see _typed_literal
)  # fmt: skip
_INTERVAL_UNITS = {
    "second": "s", "seconds": "s", "minute": "m", "minutes": "m", "hour": "h", "hours": "h",
    "day": "D", "days": "D", "week": "W", "weeks": "W",
}  # fmt: skip
_TIMESTAMP_TYPES = (
    exp.DataType.Type.TIMESTAMP, exp.DataType.Type.TIMESTAMPNTZ, exp.DataType.Type.DATETIME,
)  # fmt: skip
_INTERVAL_TEXT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]+)?\s*$")


class ExpressionError(ValueError):
    """A condition is not valid measure SQL; the message says why."""


def parse(sql: str) -> exp.Expression:
    """Parse one condition and check it against the allowlist, or raise ExpressionError."""
    tree = _parse(sql)
    if not isinstance(_unwrap(tree), (*_PREDICATES, exp.Boolean, exp.Column)):
        raise ExpressionError(f"a condition must be true or false, not {tree.sql()!r}")
    return tree


def parse_value(sql: str) -> exp.Expression:
    """Parse one value expression (what a sum or median aggregates), or raise."""
    tree = _parse(sql, what="an expression")
    if isinstance(_unwrap(tree), _PREDICATES):
        raise ExpressionError(f"a value must be a number or a column, not the condition {sql!r}")
    return tree


@functools.lru_cache(maxsize=512)
def _parse(sql: str, what: str = "a condition") -> exp.Expression:
    """Parsed and checked once per text: callers only read the tree, never change it."""
    return _parse_uncached(sql, what)


def _parse_uncached(sql: str, what: str) -> exp.Expression:
    try:
        trees = sqlglot.parse(sql, read="duckdb")
    except sqlglot.errors.SqlglotError as error:
        raise ExpressionError(f"cannot parse {what}: {_first_line(error)}") from error
    statements = [t for t in trees if t is not None]
    if len(statements) != 1:
        raise ExpressionError(
            f"{what} is one expression: ';' and several statements are not allowed"
        )
    tree = statements[0]
    if not isinstance(tree, exp.Expression):
        raise ExpressionError(f"{_describe(tree)} is not allowed in {what}")
    for node in tree.walk():
        if node.comments:
            raise ExpressionError(f"comments are not allowed in {what}")
        if not isinstance(node, _ALLOWED):
            raise ExpressionError(f"{_describe(node)} is not allowed in {what}")
        if isinstance(node, exp.Column) and node.table:
            raise ExpressionError(
                f"qualified column {node.sql()!r} is not allowed: name the column alone"
            )
        if isinstance(node, exp.Interval):
            _interval_parts(node)
        if isinstance(node, exp.Cast):
            _typed_literal(node)
    return tree


def referenced_columns(tree: exp.Expression) -> set[str]:
    return {col.name for col in tree.find_all(exp.Column)}


def check(sql: str, columns: Mapping[str, str], *, value: bool = False) -> list[str]:
    """Problems with ``sql`` as a condition (or a ``value`` expression) over ``columns``
    (name → type); empty when fine."""
    try:
        tree = parse_value(sql) if value else parse(sql)
    except ExpressionError as error:
        return [str(error)]
    problems = []
    top = _unwrap(tree)
    if not value and isinstance(top, exp.Column) and columns.get(top.name, "boolean") != "boolean":
        problems.append(
            f"a condition must be true or false, not the {columns[top.name]} column {top.name!r}"
        )
    for name in sorted(referenced_columns(tree)):
        if name not in columns:
            hint = difflib.get_close_matches(name, list(columns), n=1)
            suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
            problems.append(f"unknown column {name!r}{suggestion}")
    return problems


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
                text = node.this
                return ibis.literal(float(text) if any(c in text for c in ".eE") else int(text))
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
                return ibis.literal(_typed_literal(node))
            case exp.Interval():
                # In seconds: the difference of two timestamps is one, and intervals of
                # different units do not compare.
                amount, unit = _interval_parts(node)
                return ibis.interval(amount * _SECONDS[unit], unit="s")
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
                case = ibis.cases(
                    *[
                        (self.compile(w.this), self.compile(w.args["true"]))
                        for w in node.args["ifs"]
                    ],
                    else_=self.compile(node.args["default"]) if node.args.get("default") else None,
                )
                return case
            case exp.If():
                return ibis.ifelse(
                    self.compile(node.this),
                    self.compile(node.args["true"]),
                    self.compile(node.args["false"]) if node.args.get("false") else ibis.null(),
                )
            case exp.Round():
                digits = node.args.get("decimals")
                return self.compile(node.this).round(int(digits.this) if digits else 0)
            case exp.Mod():
                return self.compile(node.this) % self.compile(node.expression)
        raise ExpressionError(f"{_describe(node)} is not allowed in a condition")


_SECONDS = {"s": 1, "m": 60, "h": 3600, "D": 86400, "W": 604800}


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


def _interval_parts(node: exp.Interval) -> tuple[int, str]:
    text = node.this.name if node.this is not None else ""
    match = _INTERVAL_TEXT.match(text)
    unit_node = node.args.get("unit")
    unit_text = (match.group(2) if match else None) or (unit_node.name if unit_node else "")
    unit = _INTERVAL_UNITS.get(unit_text.lower())
    if match is None or unit is None or "." in match.group(1):
        raise ExpressionError(
            f"interval {node.sql()!r} must be a whole number of "
            "seconds, minutes, hours, days or weeks"
        )
    return int(match.group(1)), unit


def _typed_literal(node: exp.Cast) -> dt.date | dt.datetime:
    """``DATE '2025-07-01'`` or ``TIMESTAMP '2025-07-01 08:00:00'``; no other cast."""
    target = node.to.this if isinstance(node.to, exp.DataType) else None
    value = node.this
    if isinstance(value, exp.Literal) and value.is_string:
        try:
            if target == exp.DataType.Type.DATE:
                return dt.date.fromisoformat(value.this)
            if target in _TIMESTAMP_TYPES:
                return dt.datetime.fromisoformat(value.this)
        except ValueError as error:
            raise ExpressionError(f"{value.this!r} is not a valid date or timestamp") from error
    raise ExpressionError(
        f"the type cast {node.sql()[:40]!r} is not allowed: "
        "only DATE '…' and TIMESTAMP '…' literals"
    )


def _unwrap(node: exp.Expression) -> exp.Expression:
    while isinstance(node, exp.Paren):
        node = node.this
    return node


def _describe(node: object) -> str:
    if isinstance(node, (exp.Subquery, exp.Select)):
        return "a subquery"
    if isinstance(node, exp.Anonymous):
        return f"function {node.name!r}"
    if isinstance(node, exp.TryCast):
        return f"the type cast {node.sql()[:40]!r}"
    if isinstance(node, exp.Func):
        return f"function {node.sql_name()!r}"
    if isinstance(node, exp.Star):
        return "'*'"
    text = node.sql()[:40] if isinstance(node, exp.Expression) else ""
    return f"{type(node).__name__.lower()} {text!r}"


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


ValueExpr = Value  # re-exported for callers that annotate compiled values
