"""The measure expression language: a small, safe subset of SQL for conditions and filters.

A condition such as ``priority = 1 AND response_seconds <= 480`` is parsed with SQLGlot and
checked node by node against an allowlist, so it can never smuggle in a subquery, a second
statement, a table function such as ``read_csv`` or a comment. This is the spec's half:
reading and checking; :mod:`civicstat.metrics.expressions` compiles a checked tree to Ibis.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Mapping, Sequence

import sqlglot
from sqlglot import Token, TokenType, exp

from civicstat.spec import _expression_types as types
from civicstat.spec._literals import (
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
    "SECONDS",
    "ExpressionError",
    "check",
    "check_arithmetic",
    "describe",
    "interval_parts",
    "number",
    "parse",
    "parse_value",
    "referenced_columns",
    "round_digits",
    "typed_literal",
    "unwrap",
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
    if not isinstance(unwrap(tree), (*_PREDICATES, exp.Boolean, exp.Column)):
        raise ExpressionError(f"a condition must be true or false, not {tree.sql()!r}")
    return tree


def parse_value(sql: str) -> exp.Expression:
    """Parse one value expression (what a sum or median aggregates), or raise."""
    tree = _parse(sql, what="an expression")
    if isinstance(unwrap(tree), _PREDICATES):
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
        raise ExpressionError(f"{describe(tree)} is not allowed in {what}")
    _check_depth(tree, what)
    for node in tree.walk():
        if node.comments:
            raise ExpressionError(f"comments are not allowed in {what}")
        if not isinstance(node, _ALLOWED):
            raise ExpressionError(f"{describe(node)} is not allowed in {what}")
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
    top = unwrap(tree)
    if not value and kind not in (types.BOOLEAN, types.ANY):
        if isinstance(top, exp.Column):
            what = f"the {columns[top.name]} column {top.name!r}"
        else:
            what = types.show(tree)
        problems.append(f"a condition must be true or false, not {what}")
    elif value and numeric and kind not in (*types.NUMBERS, types.ANY):
        problems.append(f"a value must be a number, not {types.show(tree)}")
    return problems


_ARITHMETIC: tuple[type[exp.Expression], ...] = (
    exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Neg, exp.Paren, exp.Literal, exp.Column, exp.Identifier,
)  # fmt: skip


def check_arithmetic(sql: str, names: Sequence[str]) -> list[str]:
    """Problems with a derived measure's expression over the ``names`` of its inputs."""
    try:
        tree = parse_value(sql)
    except ExpressionError as error:
        return [str(error)]
    problems = []
    for node in tree.walk():
        if not isinstance(node, _ARITHMETIC) or (isinstance(node, exp.Literal) and node.is_string):
            problems.append(f"only + - * / and numbers may combine measures, not {node.sql()!r}")
            break
    for column in tree.find_all(exp.Column):
        if column.name not in names:
            problems.append(f"{column.name!r} is not one of the inputs ({', '.join(names)})")
    return problems


def unwrap(node: exp.Expression) -> exp.Expression:
    while isinstance(node, exp.Paren):
        node = node.this
    return node


def describe(node: object) -> str:
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
