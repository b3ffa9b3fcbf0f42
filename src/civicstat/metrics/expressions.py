"""The measure expression language: a small, safe subset of SQL for conditions and filters.

A condition such as ``priority = 1 AND response_seconds <= 480`` is parsed with SQLGlot,
checked node by node against an allowlist, and compiled to an Ibis expression, so the same
definition runs on every warehouse engine and can never smuggle in a subquery, a second
statement, a table function such as ``read_csv`` or a comment.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Callable, Mapping
from typing import Any

import ibis
import sqlglot
from ibis.expr.types import BooleanValue, Table, Value
from sqlglot import Token, TokenType, exp

from civicstat.metrics import _expression_types as types
from civicstat.metrics._literals import (
    SECONDS,
    ExpressionError,
    interval_parts,
    number,
    round_digits,
    typed_literal,
)

__all__ = [
    "MAX_DEPTH",
    "MAX_LENGTH",
    "MAX_NESTING",
    "ExpressionError",
    "check",
    "parse",
    "parse_value",
    "referenced_columns",
    "to_ibis",
]

_PREDICATES: tuple[type[exp.Expression], ...] = (
    exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE,
    exp.And, exp.Or, exp.Not, exp.Is, exp.In, exp.Between, exp.Like, exp.ILike,
)  # fmt: skip
_ALLOWED: tuple[type[exp.Expression], ...] = (
    *_PREDICATES,
    exp.Column, exp.Identifier, exp.Literal, exp.Boolean, exp.Null, exp.Paren, exp.Tuple,
    exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Neg, exp.Interval, exp.Var,
    exp.Coalesce, exp.Abs, exp.Lower, exp.Upper, exp.Case, exp.If, exp.Round, exp.Mod,
    exp.Cast, exp.DataType,  # only DATE '…' and TIMESTAMP '…', see _literals.typed_literal
)  # fmt: skip
MAX_LENGTH = 20_000
"""Longest expression read, in characters (a long IN list fits)."""
MAX_NESTING = 20
"""Most parentheses, CASEs and prefix operators (NOT, -) written inside one another: the
SQL parser recurses about 25 frames for each."""
MAX_DEPTH = 100
"""Most operations inside one another once parsed (``a OR b OR c`` nests each OR in the
next): compiling and running an expression recurses once for each."""

_OPEN = (TokenType.L_PAREN, TokenType.CASE)
_CLOSE = (TokenType.R_PAREN, TokenType.END)
_PREFIX = (TokenType.NOT, TokenType.DASH, TokenType.PLUS, TokenType.TILDE)
_OPERAND_END = (
    TokenType.VAR, TokenType.IDENTIFIER, TokenType.NUMBER, TokenType.STRING, TokenType.NULL,
    TokenType.TRUE, TokenType.FALSE, TokenType.R_PAREN, TokenType.END,
)  # fmt: skip


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
    if len(sql) > MAX_LENGTH:
        raise ExpressionError(f"{what} is longer than {MAX_LENGTH:,} characters")
    dialect = sqlglot.Dialect.get_or_raise("duckdb")
    try:
        tokens = dialect.tokenize(sql)
    except sqlglot.errors.SqlglotError as error:
        raise ExpressionError(f"cannot parse {what}: {_first_line(error)}") from error
    _check_nesting(tokens, what)
    try:
        trees = dialect.parser().parse(tokens, sql)
    except sqlglot.errors.SqlglotError as error:
        raise ExpressionError(f"cannot parse {what}: {_first_line(error)}") from error
    except RecursionError as error:  # a guard behind _check_nesting's bound
        raise ExpressionError(f"{what} is nested too deeply to read") from error
    except Exception as error:  # SQLGlot fails on some odd text with its own bugs
        raise ExpressionError(f"cannot parse {what}") from error
    statements = [t for t in trees if t is not None]
    if len(statements) != 1:
        raise ExpressionError(
            f"{what} is one expression: ';' and several statements are not allowed"
        )
    tree = statements[0]
    if not isinstance(tree, exp.Expression):
        raise ExpressionError(f"{_describe(tree)} is not allowed in {what}")
    _check_depth(tree, what)
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
            interval_parts(node)
        if isinstance(node, exp.Cast):
            typed_literal(node)
    return tree


def _check_nesting(tokens: list[Token], what: str) -> None:
    """Refuse, before the recursive parser runs, more than :data:`MAX_NESTING` parentheses,
    CASEs and prefix operators written inside one another."""
    frames: list[int] = []
    base = level = 0
    previous: TokenType | None = None
    for token in tokens:
        kind = token.token_type
        if kind in _OPEN:
            frames.append(base)
            base = level = level + 1
        elif kind in _CLOSE:
            base = level = frames.pop() if frames else 0
        elif kind in _PREFIX and previous not in _OPERAND_END:
            level += 1
        else:
            level = base
        previous = kind
        if level > MAX_NESTING:
            raise ExpressionError(
                f"{what} nests parentheses, CASEs or NOTs more than {MAX_NESTING} deep "
                f"(at character {token.col} of it)"
            )


def _check_depth(tree: exp.Expression, what: str) -> None:
    """Refuse a parsed tree deeper than :data:`MAX_DEPTH`, walked without recursion."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ExpressionError(
                f"{what} has more than {MAX_DEPTH} operations inside one another; "
                "a long chain of OR on one column reads better as IN (...)"
            )
        stack.extend((child, depth + 1) for child in node.iter_expressions())


def referenced_columns(tree: exp.Expression) -> set[str]:
    return {col.name for col in tree.find_all(exp.Column)}


def check(
    sql: str, columns: Mapping[str, str], *, value: bool = False, numeric: bool = True
) -> list[str]:
    """Problems with ``sql`` as a condition (or a ``value`` expression, a number unless
    ``numeric`` is false) over ``columns`` (name → declared type); empty when fine.

    What passes can be compiled and run: every operation fits the types of its operands.
    """
    try:
        tree = parse_value(sql) if value else parse(sql)
    except ExpressionError as error:
        return [str(error)]
    problems = []
    named = referenced_columns(tree)
    for name in sorted(named):
        if name not in columns:
            hint = difflib.get_close_matches(name, list(columns), n=1)
            suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
            problems.append(f"unknown column {name!r}{suggestion}")
    if not named:
        what = "the value" if value else "the condition"
        problems.append(f"{what} {types.show(tree)} names no column: it is the same for every row")
    try:
        kind = types.type_of(tree, columns)
    except ExpressionError as error:
        return [*problems, str(error)]
    top = _unwrap(tree)
    if not value and kind not in (types.BOOLEAN, types.ANY):
        if isinstance(top, exp.Column):
            what = f"the {columns[top.name]} column {top.name!r}"
        else:
            what = types.show(tree)
        problems.append(f"a condition must be true or false, not {what}")
    elif value and numeric and kind not in (*types.NUMBERS, types.ANY):
        problems.append(f"a value must be a number, not {types.show(tree)}")
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
        raise ExpressionError(f"{_describe(node)} is not allowed in a condition")

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
