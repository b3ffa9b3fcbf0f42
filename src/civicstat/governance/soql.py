"""SoQL, Socrata's query language, parsed into a small tree: what the SODA API's ``$select``,
``$where``, ``$order``, ``$group`` and ``$having`` say, before anything runs.

Pure: text in, a tree or a :class:`SoqlError` out. Bounded: a parameter past
``MAX_TEXT`` characters, an expression nested past ``MAX_DEPTH`` or a list past
``MAX_ITEMS`` is refused with a SoqlError, never a RecursionError. Messages name columns
and functions, never a literal the query holds (it may be a guess at personal data).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from civicstat.governance.soql_tree import (
    AGGREGATES,
    Between,
    Binary,
    Call,
    Column,
    Expr,
    In,
    IsNull,
    Like,
    Literal,
    Ordered,
    Selected,
    SoqlError,
    Unary,
    balanced,
    depth,
    has_aggregate,
    substitute,
    walk,
)

__all__ = [
    "AGGREGATES", "FUNCTIONS", "MAX_DEPTH", "MAX_ITEMS", "MAX_TEXT", "MAX_TREE_DEPTH",
    "Between", "Binary", "Call", "Column", "Expr", "In", "IsNull", "Like", "Literal",
    "Ordered", "Selected", "SoqlError", "Token", "Unary", "balanced", "depth", "has_aggregate",
    "parse_expression", "parse_group", "parse_order", "parse_select", "substitute", "tokens",
    "walk",
]  # fmt: skip

MAX_TEXT = 4_000  # characters in one parameter
MAX_DEPTH = 24  # nesting of parentheses, functions and operators
MAX_TREE_DEPTH = 40  # levels of the parsed tree, operators in a row included
MAX_ITEMS = 500  # items in a list: select, order, group, IN (...)
# Functions and their number of arguments.
FUNCTIONS = {
    **dict.fromkeys(AGGREGATES, 1),
    "date_trunc_y": 1,
    "date_trunc_ym": 1,
    "date_trunc_ymd": 1,
    "starts_with": 2,
    "upper": 1,
    "lower": 1,
}
_KEYWORDS = {"and", "or", "not", "is", "null", "in", "between", "like", "true", "false"}
_KEYWORDS |= {"as", "asc", "desc"}
_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>'(?:[^']|'')*')
    | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*|`[A-Za-z_][A-Za-z0-9_]*`)
    | (?P<op><>|!=|<=|>=|[=<>(),*+\-/%])
    )""",
    re.VERBOSE,
)
_NAME_LENGTH = 63
_INT64_MAX = 2**63 - 1


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # string, number, name, keyword, op, end
    text: str
    at: int


def tokens(text: str) -> list[Token]:
    if len(text) > MAX_TEXT:
        raise SoqlError(f"query too long: at most {MAX_TEXT:,} characters a parameter")
    found, at = [], 0
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at == len(text):
            found.append(Token("end", "", at))
            return found
        match = _TOKEN.match(text, at)
        if match is None or match.lastgroup is None:
            raise SoqlError(f"cannot read the query at character {at + 1}")
        kind = match.lastgroup
        word, start = match.group(kind), match.start(kind)
        if kind == "name":
            if word.startswith("`"):
                word = word[1:-1]
            elif word.lower() in _KEYWORDS:
                kind, word = "keyword", word.lower()
            if len(word) > _NAME_LENGTH:
                raise SoqlError(f"a name at character {at + 1} is too long")
        found.append(Token(kind, word, start))
        at = match.end()


class _Parser:
    """Recursive descent over the tokens, counting depth so nesting stays bounded."""

    def __init__(self, text: str) -> None:
        self.tokens = tokens(text)
        self.at = 0
        self.depth = 0

    # -- tokens
    @property
    def peek(self) -> Token:
        return self.tokens[self.at]

    def take(self) -> Token:
        token = self.tokens[self.at]
        self.at = min(self.at + 1, len(self.tokens) - 1)
        return token

    def accept(self, kind: str, text: str | None = None) -> bool:
        token = self.peek
        if token.kind == kind and (text is None or token.text == text):
            self.take()
            return True
        return False

    def expect(self, kind: str, text: str | None = None) -> Token:
        token = self.peek
        if token.kind != kind or (text is not None and token.text != text):
            raise self.error(f"expected {text or kind}")
        return self.take()

    def error(self, what: str) -> SoqlError:
        token = self.peek
        where = "at the end" if token.kind == "end" else f"at character {token.at + 1}"
        return SoqlError(f"cannot read the query {where}: {what}")

    def end(self) -> None:
        if self.peek.kind != "end":
            raise self.error("unexpected text")

    def deeper(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise SoqlError(f"query nested too deeply: at most {MAX_DEPTH} levels")

    def listed(self, items: list[object]) -> None:
        if len(items) > MAX_ITEMS:
            raise SoqlError(f"too many items in a list: at most {MAX_ITEMS}")

    # -- expressions, loosest first
    def expr(self) -> Expr:
        self.deeper()
        try:
            return self.disjunction()
        finally:
            self.depth -= 1

    def disjunction(self) -> Expr:
        found = [self.conjunction()]
        while self.accept("keyword", "or"):
            found.append(self.conjunction())
        return balanced("or", found)

    def conjunction(self) -> Expr:
        found = [self.negation()]
        while self.accept("keyword", "and"):
            found.append(self.negation())
        return balanced("and", found)

    def negation(self) -> Expr:
        if self.accept("keyword", "not"):
            self.deeper()
            try:
                return Unary("not", self.negation())
            finally:
                self.depth -= 1
        return self.predicate()

    def predicate(self) -> Expr:
        left = self.additive()
        token = self.peek
        if token.kind == "op" and token.text in ("=", "!=", "<>", "<", "<=", ">", ">="):
            self.take()
            op = "!=" if token.text == "<>" else token.text
            return Binary(op, left, self.additive())
        if self.accept("keyword", "is"):
            negated = self.accept("keyword", "not")
            self.expect("keyword", "null")
            return IsNull(left, negated)
        negated = self.accept("keyword", "not")
        if self.accept("keyword", "in"):
            return In(left, self.items(), negated)
        if self.accept("keyword", "between"):
            low = self.additive()
            self.expect("keyword", "and")
            return Between(left, low, self.additive(), negated)
        if self.accept("keyword", "like"):
            return Like(left, self.additive(), negated)
        if negated:
            raise self.error("expected IN, BETWEEN or LIKE after NOT")
        return left

    def items(self) -> tuple[Expr, ...]:
        self.expect("op", "(")
        found: list[Expr] = [self.expr()]
        while self.accept("op", ","):
            found.append(self.expr())
            self.listed(list(found))
        self.expect("op", ")")
        return tuple(found)

    def additive(self) -> Expr:
        left = self.multiplicative()
        while self.peek.kind == "op" and self.peek.text in ("+", "-"):
            left = Binary(self.take().text, left, self.multiplicative())
        return left

    def multiplicative(self) -> Expr:
        left = self.unary()
        while self.peek.kind == "op" and self.peek.text in ("*", "/", "%"):
            left = Binary(self.take().text, left, self.unary())
        return left

    def unary(self) -> Expr:
        if self.accept("op", "-"):
            self.deeper()
            try:
                operand = self.unary()
            finally:
                self.depth -= 1
            number = operand.value if isinstance(operand, Literal) else None
            if isinstance(number, int | float) and not isinstance(number, bool):
                return Literal(-number)
            return Unary("-", operand)
        return self.primary()

    def primary(self) -> Expr:
        token = self.peek
        if token.kind == "string":
            self.take()
            return Literal(token.text[1:-1].replace("''", "'"))
        if token.kind == "number":
            self.take()
            return Literal(_number(token.text))
        if token.kind == "keyword" and token.text in ("true", "false", "null"):
            self.take()
            return Literal(None if token.text == "null" else token.text == "true")
        if self.accept("op", "("):
            inner = self.expr()
            self.expect("op", ")")
            return inner
        if token.kind == "name":
            self.take()
            if self.accept("op", "("):
                return self.call(token.text.lower())
            return Column(token.text)
        raise self.error("expected a column, a value or a function")

    def call(self, function: str) -> Call:
        if function not in FUNCTIONS:
            raise SoqlError(f"unknown function {function!r}")
        self.deeper()
        try:
            if function == "count" and self.accept("op", "*"):
                self.expect("op", ")")
                return Call("count", (), star=True)
            args = [self.expr()]
            while self.accept("op", ","):
                args.append(self.expr())
                self.listed(list(args))
            self.expect("op", ")")
        finally:
            self.depth -= 1
        if len(args) != FUNCTIONS[function]:
            raise SoqlError(f"{function} takes {FUNCTIONS[function]} argument(s)")
        return Call(function, tuple(args))

    # -- clauses
    def select(self) -> tuple[Selected, ...]:
        found = [self.selected()]
        while self.accept("op", ","):
            found.append(self.selected())
            self.listed(list(found))
        self.end()
        return tuple(found)

    def selected(self) -> Selected:
        if self.accept("op", "*"):
            return Selected(None)
        expr = self.expr()
        if self.accept("keyword", "as"):
            return Selected(expr, self.expect("name").text)
        return Selected(expr)

    def order(self) -> tuple[Ordered, ...]:
        found = []
        while True:
            expr = self.expr()
            descending = self.accept("keyword", "desc")
            if not descending:
                self.accept("keyword", "asc")
            found.append(Ordered(expr, descending))
            self.listed(list(found))
            if not self.accept("op", ","):
                break
        self.end()
        return tuple(found)

    def expressions(self) -> tuple[Expr, ...]:
        found = [self.expr()]
        while self.accept("op", ","):
            found.append(self.expr())
            self.listed(list(found))
        self.end()
        return tuple(found)


def _number(text: str) -> int | float:
    if re.fullmatch(r"\d+", text):
        if len(text) > 19 or int(text) > _INT64_MAX:
            raise SoqlError("a number in the query is too large")
        return int(text)
    number = float(text)
    if not math.isfinite(number):
        raise SoqlError("a number in the query is too large")
    return number


def _shallow(expr: Expr) -> Expr:
    """``expr``, once its tree is shallow enough for the compiler and the engine (long
    chains of AND or OR are balanced, so they stay shallow)."""
    if depth(expr) > MAX_TREE_DEPTH:
        raise SoqlError(f"query nested too deeply: at most {MAX_TREE_DEPTH} levels")
    return expr


def parse_select(text: str) -> tuple[Selected, ...]:
    found = _Parser(text).select()
    return tuple(Selected(_shallow(s.expr), s.alias) if s.expr else s for s in found)


def parse_expression(text: str) -> Expr:
    """A ``$where`` or ``$having`` condition."""
    parser = _Parser(text)
    found = parser.expr()
    parser.end()
    return _shallow(found)


def parse_order(text: str) -> tuple[Ordered, ...]:
    return tuple(Ordered(_shallow(o.expr), o.descending) for o in _Parser(text).order())


def parse_group(text: str) -> tuple[Expr, ...]:
    return tuple(_shallow(e) for e in _Parser(text).expressions())
