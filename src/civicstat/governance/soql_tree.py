"""The tree SoQL is parsed into: columns, literals, calls, operators and predicates, the
items of ``$select`` and ``$order``, and the walks the compiler makes over them. Pure.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

AGGREGATES = {"count", "sum", "avg", "min", "max"}


class SoqlError(ValueError):
    """A query that cannot be read; the message says where, never with a value it holds."""


@dataclass(frozen=True, slots=True)
class Column:
    name: str


@dataclass(frozen=True, slots=True)
class Literal:
    value: str | int | float | bool | None  # text, number, boolean or null


@dataclass(frozen=True, slots=True)
class Call:
    function: str
    args: tuple[Expr, ...]
    star: bool = False  # count(*)


@dataclass(frozen=True, slots=True)
class Unary:
    op: str  # "not" or "-"
    operand: Expr


@dataclass(frozen=True, slots=True)
class Binary:
    op: str  # = != < <= > >= and or + - * / %
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class IsNull:
    operand: Expr
    negated: bool


@dataclass(frozen=True, slots=True)
class In:
    operand: Expr
    items: tuple[Expr, ...]
    negated: bool


@dataclass(frozen=True, slots=True)
class Between:
    operand: Expr
    low: Expr
    high: Expr
    negated: bool


@dataclass(frozen=True, slots=True)
class Like:
    operand: Expr
    pattern: Expr
    negated: bool


Expr = Column | Literal | Call | Unary | Binary | IsNull | In | Between | Like


@dataclass(frozen=True, slots=True)
class Selected:
    """One item of ``$select``: an expression and its alias; ``expr`` None is ``*``."""

    expr: Expr | None
    alias: str | None = None


@dataclass(frozen=True, slots=True)
class Ordered:
    expr: Expr
    descending: bool = False


def walk(expr: Expr) -> Iterator[Expr]:
    """``expr`` and every expression inside it."""
    pending = [expr]
    while pending:
        node = pending.pop()
        yield node
        pending.extend(_children(node))


def substitute(expr: Expr, names: dict[str, Expr]) -> Expr:
    """``expr`` with each bare column named in ``names`` replaced by what it names."""
    match expr:
        case Column(name=name):
            return names.get(name, expr)
        case Literal():
            return expr
        case Call(args=args):
            return replace(expr, args=tuple(substitute(a, names) for a in args))
        case Unary(operand=operand) | IsNull(operand=operand):
            return replace(expr, operand=substitute(operand, names))
        case Binary(left=left, right=right):
            return replace(expr, left=substitute(left, names), right=substitute(right, names))
        case In(operand=operand, items=items):
            items = tuple(substitute(i, names) for i in items)
            return replace(expr, operand=substitute(operand, names), items=items)
        case Between(operand=operand, low=low, high=high):
            low, high = substitute(low, names), substitute(high, names)
            return replace(expr, operand=substitute(operand, names), low=low, high=high)
        case Like(operand=operand, pattern=pattern):
            pattern = substitute(pattern, names)
            return replace(expr, operand=substitute(operand, names), pattern=pattern)
    return expr  # pragma: no cover


def balanced(op: str, operands: list[Expr]) -> Expr:
    """``a AND b AND c AND d`` as ``(a AND b) AND (c AND d)``: the same condition, with a
    tree as shallow as it can be."""
    if len(operands) == 1:
        return operands[0]
    middle = len(operands) // 2
    return Binary(op, balanced(op, operands[:middle]), balanced(op, operands[middle:]))


def depth(expr: Expr) -> int:
    """The levels of ``expr``'s tree, counted without recursion."""
    deepest, pending = 0, [(expr, 1)]
    while pending:
        node, level = pending.pop()
        deepest = max(deepest, level)
        pending.extend((child, level + 1) for child in _children(node))
    return deepest


def _children(node: Expr) -> list[Expr]:
    match node:
        case Call(args=args):
            return list(args)
        case Unary(operand=operand) | IsNull(operand=operand):
            return [operand]
        case Binary(left=left, right=right):
            return [left, right]
        case In(operand=operand, items=items):
            return [operand, *items]
        case Between(operand=operand, low=low, high=high):
            return [operand, low, high]
        case Like(operand=operand, pattern=pattern):
            return [operand, pattern]
    return []


def has_aggregate(expr: Expr) -> bool:
    return any(isinstance(n, Call) and n.function in AGGREGATES for n in walk(expr))
