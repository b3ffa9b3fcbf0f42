"""The types of a measure expression, checked before any engine sees it.

Every node of a parsed condition gets one of the language's types from the declared
columns; an operation on types it does not take (a timestamp compared with a word,
arithmetic on a true/false, ``lower`` of a number) is an :class:`ExpressionError` naming
the part at fault, so ``civicstat validate`` refuses what a refresh could not run.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence

from sqlglot import exp

from civicstat.spec._literals import (
    ExpressionError,
    interval_parts,
    number,
    round_digits,
    typed_literal,
)

INTEGER, FLOAT, STRING, BOOLEAN = "integer", "float", "string", "boolean"
DATE, TIMESTAMP, INTERVAL = "date", "timestamp", "interval"
NULL = "null"  # the NULL literal: compared with anything, an operand of nothing
ANY = "any"  # a column of a type the language does not know: not checked
NUMBERS = (INTEGER, FLOAT)
TIMES = (DATE, TIMESTAMP)

_DATE_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIMESTAMP_TEXT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?)?"
)
_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)
_ENGINE_TYPES = {  # warehouse type names (quality checks pass DuckDB's) → language type
    "varchar": STRING, "text": STRING, "string": STRING, "char": STRING, "uuid": STRING,
    "tinyint": INTEGER, "smallint": INTEGER, "integer": INTEGER, "int": INTEGER,
    "bigint": INTEGER, "hugeint": INTEGER, "utinyint": INTEGER, "usmallint": INTEGER,
    "uinteger": INTEGER, "ubigint": INTEGER, "int64": INTEGER, "int32": INTEGER,
    "float": FLOAT, "double": FLOAT, "real": FLOAT, "decimal": FLOAT, "numeric": FLOAT,
    "float64": FLOAT, "boolean": BOOLEAN, "bool": BOOLEAN, "date": DATE,
    "timestamp": TIMESTAMP, "datetime": TIMESTAMP, "interval": INTERVAL,
}  # fmt: skip


def language_type(declared: str) -> str:
    """The language's type of a column declared (or stored) as ``declared``."""
    name = declared.lower().split("(")[0].strip()
    if name.startswith("timestamp"):
        return TIMESTAMP
    return _ENGINE_TYPES.get(name, ANY)


def type_of(node: exp.Expression, columns: Mapping[str, str]) -> str:
    """The type of an allowlisted expression over ``columns`` (name → declared type)."""
    return _Types(columns).of(node)


def show(node: exp.Expression) -> str:
    text = node.sql()
    return repr(text if len(text) <= 40 else f"{text[:37]}...")


class _Types:
    def __init__(self, columns: Mapping[str, str]) -> None:
        self.columns = {name: language_type(type_) for name, type_ in columns.items()}

    def of(self, node: exp.Expression | None) -> str:
        if node is None:  # e.g. a lone '@' (DuckDB's abs) parses with nothing under it
            raise ExpressionError("an operator is missing its operand")
        match node:
            case exp.Paren():
                return self.of(node.this)
            case exp.Column():
                return self.columns.get(node.name, ANY)
            case exp.Literal(is_string=True):
                return STRING
            case exp.Literal():
                return INTEGER if isinstance(number(node), int) else FLOAT
            case exp.Boolean():
                return BOOLEAN
            case exp.Null():
                return NULL
            case exp.Cast():
                return TIMESTAMP if isinstance(typed_literal(node), dt.datetime) else DATE
            case exp.Interval():
                interval_parts(node)
                return INTERVAL
            case exp.Neg():
                return self.expect(node.this, (*NUMBERS, INTERVAL), "minus of")
            case exp.Abs():
                return self.expect(node.this, NUMBERS, "abs of")
            case exp.Add() | exp.Sub():
                return self.add(node)
            case exp.Mul() | exp.Div() | exp.Mod():
                return self.multiply(node)
            case exp.And() | exp.Or():
                for side in (node.this, node.expression):
                    self.expect(side, (BOOLEAN,), f"{node.key.upper()} of")
                return BOOLEAN
            case exp.Not():
                self.expect(node.this, (BOOLEAN,), "NOT of")
                return BOOLEAN
            case _ if isinstance(node, _COMPARISONS):
                self.comparable(node.this, node.expression)
                return BOOLEAN
            case exp.Is():
                return self.is_(node)
            case exp.In():
                return self.in_(node)
            case exp.Between():
                if node.args.get("symmetric"):
                    raise ExpressionError("BETWEEN SYMMETRIC is not allowed: order the bounds")
                self.all_comparable([node.this, node.args["low"], node.args["high"]], "BETWEEN")
                return BOOLEAN
            case exp.Like() | exp.ILike():
                verb = "LIKE" if isinstance(node, exp.Like) else "ILIKE"
                self.expect(node.this, (STRING,), f"{verb} of")
                self.expect(node.expression, (STRING,), f"{verb} pattern")
                return BOOLEAN
            case exp.Lower() | exp.Upper():
                return self.expect(node.this, (STRING,), f"{node.key} of")
            case exp.Coalesce():
                return self.unify([node.this, *node.expressions], "coalesce")
            case exp.Case():
                return self.case(node)
            case exp.If():
                self.expect(node.this, (BOOLEAN,), "the condition of if")
                branches = [node.args["true"], node.args.get("false")]
                return self.unify([b for b in branches if b is not None], "if")
            case exp.Round():
                digits = round_digits(node.args.get("decimals"))
                kind = self.expect(node.this, NUMBERS, "round of")
                return FLOAT if kind == FLOAT or digits > 0 else kind
            case exp.Tuple():
                raise ExpressionError(
                    f"the list {show(node)} is only allowed after IN, e.g. x IN (1, 2)"
                )
        raise ExpressionError(f"{show(node)} is not allowed here")

    def expect(self, node: exp.Expression | None, allowed: Sequence[str], role: str) -> str:
        kind = self.of(node)
        assert node is not None  # of() refuses a missing operand
        if kind == NULL:
            raise _null(role, node)
        if kind == ANY or kind in allowed:
            return kind
        wanted = " or ".join(dict.fromkeys(_NAMES[a] for a in allowed))
        raise ExpressionError(f"{role} {show(node)} must be {wanted}, not {_NAMES[kind]}")

    def add(self, node: exp.Add | exp.Sub) -> str:
        left, right = self.of(node.this), self.of(node.expression)
        subtract = isinstance(node, exp.Sub)
        if ANY in (left, right):
            return ANY
        if NULL in (left, right):
            raise _null(_verb(node) + " in", node)
        if left in NUMBERS and right in NUMBERS:
            return _arithmetic(left, right)
        if left in TIMES and right == INTERVAL:
            return TIMESTAMP
        if left == INTERVAL and right in TIMES and not subtract:
            return TIMESTAMP
        if left == right == INTERVAL:
            return INTERVAL
        if subtract and left == right and left in TIMES:
            return INTERVAL
        raise _cannot(node, left, right)

    def multiply(self, node: exp.Mul | exp.Div | exp.Mod) -> str:
        verb = {exp.Mul: "multiply", exp.Div: "divide", exp.Mod: "take the remainder of"}
        left, right = self.of(node.this), self.of(node.expression)
        for kind in (left, right):
            if kind == NULL:
                raise _null(f"{verb[type(node)]} in", node)
            if kind not in (*NUMBERS, ANY):
                raise ExpressionError(
                    f"cannot {verb[type(node)]} {_NAMES[left]} and {_NAMES[right]} "
                    f"in {show(node)}: only numbers"
                )
        if isinstance(node, exp.Div | exp.Mod) and _is_zero(_unwrap(node.expression)):
            raise ExpressionError(f"division by zero in {show(node)}")
        return _arithmetic(left, right, divide=isinstance(node, exp.Div))

    def comparable(
        self, left_node: exp.Expression, right_node: exp.Expression, *, subject: bool = False
    ) -> None:
        """Values compared with each other: of one family, or a quoted date or timestamp
        compared with one (as ``created_at >= '2025-07-01'``; the subject of IN or
        BETWEEN, whose type the engines take for the rest, is never such a text)."""
        left, right = self.of(left_node), self.of(right_node)
        if NULL in (left, right) or ANY in (left, right) or _same_family(left, right):
            return
        sides = [(right_node, right, left)]
        if not subject:
            sides.append((left_node, left, right))
        for node, kind, other in sides:
            literal = _unwrap(node)
            if kind == STRING and other in TIMES and isinstance(literal, exp.Literal):
                if _is_time_text(literal.this, other):
                    return
                example = "DATE '2025-07-01'" if other == DATE else "TIMESTAMP '2025-07-01 08:00'"
                raise ExpressionError(
                    f"{show(literal)} is not {_NAMES[other]}: write one as {example}"
                )
        raise ExpressionError(
            f"cannot compare {_NAMES[left]} {show(left_node)} "
            f"with {_NAMES[right]} {show(right_node)}"
        )

    def all_comparable(self, nodes: Sequence[exp.Expression], verb: str) -> None:
        """The subject of IN or BETWEEN and the values it is compared with: the subject is
        not NULL nor true/false (compare those with IS or =), and each value fits it."""
        subject, *others = nodes
        self.expect(subject, (*NUMBERS, STRING, *TIMES, INTERVAL), f"{verb} of")
        for other in others:
            if self.of(other) == BOOLEAN:
                raise ExpressionError(f"{verb} compares no true or false value like {show(other)}")
            self.comparable(subject, other, subject=True)

    def is_(self, node: exp.Is) -> str:
        target = _unwrap(node.expression)
        if isinstance(target, exp.Null):
            self.of(node.this)
        elif isinstance(target, exp.Boolean):
            self.expect(node.this, (BOOLEAN,), f"IS {target.sql()} of")
        else:
            raise ExpressionError(f"IS is followed by NULL, TRUE or FALSE, not {show(target)}")
        return BOOLEAN

    def in_(self, node: exp.In) -> str:
        if not node.expressions or any(node.args.get(k) for k in ("field", "query", "unnest")):
            raise ExpressionError(
                f"IN takes a list of values in parentheses, e.g. x IN (1, 2), not {show(node)}"
            )
        self.all_comparable([node.this, *node.expressions], "IN")
        return BOOLEAN

    def case(self, node: exp.Case) -> str:
        subject = node.args.get("this")
        for when in node.args.get("ifs") or []:
            if subject is not None:
                self.comparable(subject, when.this)
            else:
                self.expect(when.this, (BOOLEAN,), "WHEN")
        results = [w.args["true"] for w in node.args.get("ifs") or []]
        if node.args.get("default") is not None:
            results.append(node.args["default"])
        return self.unify(results, "CASE")

    def unify(self, nodes: Sequence[exp.Expression], what: str) -> str:
        """The one type of values that may stand for each other (branches, coalesce)."""
        kinds = [(self.of(n), n) for n in nodes]
        if any(kind == ANY for kind, _ in kinds):
            return ANY
        known = [(kind, n) for kind, n in kinds if kind != NULL]
        if not known:
            return NULL
        first, first_node = known[0]
        result = first
        for kind, node in known[1:]:
            if kind in NUMBERS and result in NUMBERS:
                result = FLOAT if FLOAT in (kind, result) else INTEGER
            elif kind != result:
                raise ExpressionError(
                    f"{what} mixes {_NAMES[first]} {show(first_node)} "
                    f"and {_NAMES[kind]} {show(node)}"
                )
        return result


_NAMES = {
    INTEGER: "a number", FLOAT: "a number", STRING: "text", BOOLEAN: "true or false",
    DATE: "a date", TIMESTAMP: "a timestamp", INTERVAL: "an interval", NULL: "NULL", ANY: "any",
}  # fmt: skip


def _arithmetic(left: str, right: str, *, divide: bool = False) -> str:
    """The type of arithmetic on two numbers (or a column of unknown type)."""
    if ANY in (left, right):
        return ANY
    if divide or FLOAT in (left, right):
        return FLOAT
    return INTEGER


def _verb(node: exp.Expression) -> str:
    names = {exp.Neg: "minus", exp.Abs: "abs", exp.Add: "add", exp.Sub: "subtract"}
    return names.get(type(node), node.key)


def _null(role: str, node: exp.Expression) -> ExpressionError:
    return ExpressionError(
        f"{role} {show(node)}: NULL there makes it always NULL "
        "(to test for a missing value, write x IS NULL)"
    )


def _cannot(node: exp.Add | exp.Sub, left: str, right: str) -> ExpressionError:
    verb = "subtract" if isinstance(node, exp.Sub) else "add"
    return ExpressionError(f"cannot {verb} {_NAMES[left]} and {_NAMES[right]} in {show(node)}")


def _same_family(left: str, right: str) -> bool:
    return (
        left == right
        or (left in NUMBERS and right in NUMBERS)
        or (left in TIMES and right in TIMES)
    )


def _unwrap(node: exp.Expression) -> exp.Expression:
    while isinstance(node, exp.Paren):
        node = node.this
    return node


def _is_zero(node: exp.Expression) -> bool:
    if isinstance(node, exp.Neg):
        node = _unwrap(node.this)
    return isinstance(node, exp.Literal) and not node.is_string and number(node) == 0


def _is_time_text(text: str, kind: str) -> bool:
    """Whether a quoted value reads as a date (or timestamp) the way every engine reads it."""
    if not (_DATE_TEXT if kind == DATE else _TIMESTAMP_TEXT).fullmatch(text):
        return False
    try:
        if kind == DATE:
            dt.date.fromisoformat(text)
        else:
            dt.datetime.fromisoformat(text)
    except ValueError:
        return False
    return True
