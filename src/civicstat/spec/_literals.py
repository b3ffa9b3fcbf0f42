"""The literals of the measure expression language, read one way by the checker and the
compiler: numbers, intervals, ``DATE '…'`` / ``TIMESTAMP '…'`` and ``round``'s digits.

A literal the engines cannot hold (a number past 64 bits, an interval of centuries) is an
error here, when the spec is validated, not a crash when a measure is computed.
"""

from __future__ import annotations

import datetime as dt
import math
import re

from sqlglot import exp


class ExpressionError(ValueError):
    """A condition is not valid measure SQL; the message says why."""


INTERVAL_UNITS = {
    "second": "s", "seconds": "s", "minute": "m", "minutes": "m", "hour": "h", "hours": "h",
    "day": "D", "days": "D", "week": "W", "weeks": "W",
}  # fmt: skip
SECONDS = {"s": 1, "m": 60, "h": 3600, "D": 86400, "W": 604800}
MAX_INTERVAL_DAYS = 36_525  # a hundred years: every engine's interval holds it
MAX_ROUND_DIGITS = 15  # a double's significant digits
_INT64 = 1 << 63
_TIMESTAMP_TYPES = (
    exp.DataType.Type.TIMESTAMP, exp.DataType.Type.TIMESTAMPNTZ, exp.DataType.Type.DATETIME,
)  # fmt: skip
_INTERVAL_TEXT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]+)?\s*$")


def number(node: exp.Literal) -> int | float:
    """A numeric literal's value: a 64-bit integer or a finite float, as every engine has."""
    text = node.this
    try:
        value: int | float = float(text) if any(c in text for c in ".eE") else int(text)
    except ValueError as error:
        raise ExpressionError(f"{text!r} is not a number") from error
    if isinstance(value, int) and not -_INT64 <= value < _INT64:
        raise ExpressionError(f"the number {text} does not fit in 64 bits")
    if isinstance(value, float) and not math.isfinite(value):
        raise ExpressionError(f"the number {text} is too large")
    return value


def interval_parts(node: exp.Interval) -> tuple[int, str]:
    """``INTERVAL '10 minutes'`` or ``INTERVAL '10' MINUTE`` as (10, "m")."""
    text = node.this.name if node.this is not None else ""
    match = _INTERVAL_TEXT.match(text)
    unit_node = node.args.get("unit")
    unit_text = (match.group(2) if match else None) or (unit_node.name if unit_node else "")
    unit = INTERVAL_UNITS.get(unit_text.lower())
    if match is None or unit is None or "." in match.group(1):
        raise ExpressionError(
            f"interval {node.sql()[:40]!r} must be a whole number of "
            "seconds, minutes, hours, days or weeks"
        )
    amount = int(match.group(1))
    if amount * SECONDS[unit] > MAX_INTERVAL_DAYS * SECONDS["D"]:
        raise ExpressionError(f"interval {node.sql()[:40]!r} is longer than a hundred years")
    return amount, unit


def typed_literal(node: exp.Cast) -> dt.date | dt.datetime:
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


def round_digits(node: exp.Expression | None) -> int:
    """``round``'s second argument: a whole number written in the condition (default 0)."""
    if node is None:
        return 0
    sign, inner = (-1, node.this) if isinstance(node, exp.Neg) else (1, node)
    if isinstance(inner, exp.Literal) and not inner.is_string and inner.this.isdigit():
        digits = sign * int(inner.this)
        if abs(digits) <= MAX_ROUND_DIGITS:
            return digits
    raise ExpressionError(
        f"round's digits {node.sql()[:40]!r} must be a whole number from "
        f"-{MAX_ROUND_DIGITS} to {MAX_ROUND_DIGITS}"
    )
