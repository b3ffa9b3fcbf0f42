"""Checks of a source's quality checks beyond their shape: types, bounds, patterns, SQL.

A mistake found here would otherwise fail a run after the pull.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from civicstat.spec import language
from civicstat.spec.yamlpos import Loc

_TIME_TYPES = ("date", "timestamp")
_NUMBER_TYPES = ("integer", "float")
# Quality check patterns run on DuckDB, whose regular expressions (RE2) have Unicode classes
# but no look-around or back-references; Python's re stands in for RE2 here.
_RE2_UNICODE_CLASS = re.compile(r"\\[pP](\{\w+\}|\w)")
_NOT_IN_RE2 = re.compile(r"(?<!\\)(?:\\\\)*(\(\?<?[=!]|\\[1-9])")


def quality_problems(check: dict[str, Any], columns: dict[str, str]) -> Iterator[tuple[Loc, str]]:
    """Problems of one quality check beyond its shape and column names, each at its key."""
    kind, name = check.get("check"), check.get("column")
    type_ = columns.get(name) if isinstance(name, str) else None
    if kind == "range" and type_ not in (None, *_NUMBER_TYPES):
        yield ("column",), f"range column {name!r} is {type_}; it must be an integer or float"
    low, high = check.get("min"), check.get("max")
    if kind == "range" and low is None and high is None:
        yield (), "a range check needs a min, a max or both"
    if (
        kind == "range"
        and isinstance(low, int | float)
        and isinstance(high, int | float)
        and low > high
    ):
        yield ("max",), f"range max {high} is below its min {low}"
    if kind == "freshness" and type_ not in (None, *_TIME_TYPES):
        yield ("column",), f"freshness column {name!r} is {type_}; it must be a date or timestamp"
    values = check.get("values")
    if kind == "accepted_values" and type_ in _NUMBER_TYPES and isinstance(values, list):
        for index, value in enumerate(values):
            if not _is_number(value):
                message = f"accepted value {value!r} is not a number, but {name!r} is {type_}"
                yield ("values", index), message
    pattern = check.get("pattern")
    if kind == "regex" and isinstance(pattern, str) and (problem := _regex_problem(pattern)):
        yield ("pattern",), f"pattern {pattern!r} {problem}"
    condition = check.get("condition")
    if kind == "sql" and isinstance(condition, str):
        for problem in language.check(condition, columns):
            yield ("condition",), f"condition: {problem}"


def _is_number(value: Any) -> bool:
    """A number, or text that reads as one (a quality check compares numbers as numbers)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return False
    try:
        float(value)
    except ValueError:
        return False
    return True


def _regex_problem(pattern: str) -> str | None:
    """Why DuckDB could not match with ``pattern``, or None when it can."""
    try:
        re.compile(_RE2_UNICODE_CLASS.sub("x", pattern))
    except re.error as error:
        return f"is not a regular expression: {error}"
    except RecursionError:  # Python's parser recurses once per group (RE2's stops at 1000)
        return "nests its groups too deeply"
    if _NOT_IN_RE2.search(pattern):
        return "uses look-around or a back-reference, which DuckDB's regular expressions lack"
    return None
