"""Measure conditions: a safe SQL subset that compiles to the same answer on every engine."""

from __future__ import annotations

import datetime as dt

import ibis
import pyarrow as pa
import pytest

from civicstat.metrics.expressions import ExpressionError, check, parse, to_ibis

COLUMNS = {
    "answer_seconds": "float",
    "priority": "integer",
    "received_at": "timestamp",
    "answered_at": "timestamp",
    "district": "string",
}

INJECTIONS = [
    ("answer_seconds <= 10; DROP TABLE calls", "several statements"),
    ("answer_seconds <= (SELECT max(answer_seconds) FROM calls)", "subquery"),
    ("EXISTS (SELECT 1)", "not allowed"),
    ("read_csv('/etc/passwd') IS NOT NULL", "READ_CSV"),
    ("answer_seconds <= 10 -- AND priority = 1", "comments"),
    ("answer_seconds <= 10 /* sneaky */", "comments"),
    ("calls.answer_seconds <= 10", "qualified column"),
    ("getenv('HOME') = 'x'", "not allowed"),
    ("answer_seconds + 1", "true or false"),
    ("answer_seconds <=", "cannot parse"),
    ("", "one expression"),
]


@pytest.mark.parametrize(("sql", "reason"), INJECTIONS)
def test_anything_outside_the_allowlist_is_rejected_with_a_reason(sql: str, reason: str) -> None:
    problems = check(sql, COLUMNS)
    assert len(problems) == 1
    assert reason.lower() in problems[0].lower()


def test_unknown_columns_are_named_with_a_suggestion() -> None:
    assert check("answer_secs <= 10", COLUMNS) == [
        "unknown column 'answer_secs' (did you mean 'answer_seconds'?)"
    ]


@pytest.fixture
def calls() -> ibis.Table:
    t0 = dt.datetime(2026, 1, 1, 8, 0, 0)
    return ibis.memtable(
        {
            "answer_seconds": [4.0, 10.0, 10.5, None],
            "priority": [1, 2, 1, 3],
            "received_at": [t0] * 4,
            "answered_at": [t0 + dt.timedelta(seconds=s) for s in (4, 10, 10.5, 30)],
            "district": ["North", "south", "Harbor", None],
        }
    )


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("answer_seconds <= 10", [True, True, False, None]),
        ("answered_at - received_at <= INTERVAL '10 seconds'", [True, True, False, False]),
        ("answered_at <= received_at + INTERVAL '10' SECOND", [True, True, False, False]),
        ("priority = 1 AND answer_seconds < 10", [True, False, False, False]),
        ("priority IN (2, 3) OR district IS NULL", [False, True, False, True]),
        ("NOT (priority = 1)", [False, True, False, True]),
        ("coalesce(answer_seconds, 99) BETWEEN 10 AND 99", [False, True, True, True]),
        ("lower(district) LIKE 's%'", [False, True, False, None]),
        ("district NOT LIKE 'N%'", [False, True, True, None]),
        ("district NOT ILIKE 'n%'", [False, True, True, None]),
        ("priority NOT IN (1)", [False, True, False, True]),
        ("priority NOT BETWEEN 2 AND 3", [True, False, True, False]),
        ("upper(district) = 'HARBOR'", [False, False, True, None]),
        ("abs(-answer_seconds) > 10", [False, False, True, None]),
        ("district IS NOT NULL AND TRUE", [True, True, True, False]),
    ],
)
def test_conditions_mean_what_sql_says(
    calls: ibis.Table, sql: str, expected: list[bool | None]
) -> None:
    result = calls.select(r=to_ibis(parse(sql), calls)).to_pyarrow().column("r").to_pylist()
    assert result == expected


def test_a_fractional_interval_is_refused() -> None:
    with pytest.raises(ExpressionError, match="whole number"):
        parse("answered_at - received_at <= INTERVAL '1.5 seconds'")


def test_date_and_timestamp_literals_compare_with_columns(calls: ibis.Table) -> None:
    sql = "received_at >= TIMESTAMP '2026-01-01 08:00:00' AND received_at < DATE '2026-01-02'"
    result = calls.select(r=to_ibis(parse(sql), calls)).to_pyarrow().column("r").to_pylist()
    assert result == [True] * 4


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("CAST(priority AS VARCHAR) = '1'", "only DATE '…' and TIMESTAMP '…' literals"),
        ("received_at > DATE 'yesterday'", "'yesterday' is not a valid date or timestamp"),
        ("now() > received_at", "function 'now' is not allowed"),
        ("priority", "not the integer column 'priority'"),
    ],
)
def test_casts_unknown_functions_and_non_boolean_columns_are_explained(
    sql: str, message: str
) -> None:
    (problem,) = check(sql, COLUMNS)
    assert message in problem


@pytest.mark.parametrize(
    "sql",
    [
        "b - a <= INTERVAL '8 minutes'",
        "b - a <= INTERVAL '480 seconds'",
        "b <= a + INTERVAL '8 minutes'",
        "d2 - d1 <= INTERVAL '8 days'",
        "d2 - d1 <= INTERVAL '1 week'",
        "d2 <= d1 + INTERVAL '7 days'",
    ],
)
def test_intervals_of_every_unit_compare_with_time_differences(sql: str) -> None:
    table = ibis.memtable(
        pa.table(
            {
                "a": [dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 1)],
                "b": [dt.datetime(2024, 1, 1, 0, 7), dt.datetime(2024, 1, 1, 0, 9)],
                "d1": [dt.date(2024, 1, 1), dt.date(2024, 1, 1)],
                "d2": [dt.date(2024, 1, 5), dt.date(2024, 1, 12)],
            }
        )
    )
    met = table.select(met=to_ibis(parse(sql), table)).to_pyarrow().column("met").to_pylist()
    assert met == [True, False]
