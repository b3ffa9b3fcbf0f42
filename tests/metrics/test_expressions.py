"""Measure conditions: a safe SQL subset that compiles to the same answer on every engine."""

from __future__ import annotations

import datetime as dt

import ibis
import pyarrow as pa
import pytest

from civicstat.metrics.expressions import to_ibis
from civicstat.spec.language import ExpressionError, check, parse

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


# --- what validate refuses because compute could not run it ------------------------------

TYPED = COLUMNS | {"urgent": "boolean", "opened_on": "date"}


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("received_at > 'soon'", "\"'soon'\" is not a timestamp: write one as TIMESTAMP"),
        ("received_at > 5", "cannot compare a timestamp 'received_at' with a number '5'"),
        ("district = 5", "cannot compare text 'district' with a number '5'"),
        ("urgent + 1 > 2", "cannot add true or false and a number in 'urgent + 1'"),
        ("round(answer_seconds, priority) > 1", "round's digits 'priority' must be a whole"),
        ("round(answer_seconds, 1.5) > 1", "round's digits '1.5' must be a whole number"),
        ("lower(priority) = 'a'", "lower of 'priority' must be text, not a number"),
        ("abs(district) > 1", "abs of 'district' must be a number, not text"),
        ("priority LIKE 'a%'", "LIKE of 'priority' must be text, not a number"),
        ("priority IN ('a', 'b')", "cannot compare a number 'priority' with text"),
        ("coalesce(priority, 'x') = 1", "coalesce mixes a number 'priority' and text"),
        ("CASE WHEN priority THEN 1 END = 1", "WHEN 'priority' must be true or false"),
        ("priority AND urgent", "AND of 'priority' must be true or false, not a number"),
        ("priority IS TRUE", "IS TRUE of 'priority' must be true or false"),
        ("priority IS 5", "IS is followed by NULL, TRUE or FALSE, not '5'"),
        ("priority + NULL > 1", "NULL there makes it always NULL"),
        ("priority % 0 = 1", "division by zero in 'priority % 0'"),
        ("priority > 99999999999999999999", "does not fit in 64 bits"),
        ("answer_seconds > 1e999", "the number 1e999 is too large"),
        ("answered_at - received_at <= 5", "cannot compare an interval"),
        ("answered_at - opened_on > INTERVAL '1 day'", "cannot subtract a timestamp and a date"),
        ("answered_at - received_at < INTERVAL '99999 weeks'", "longer than a hundred years"),
        ("(priority, priority) = (1, 2)", "is only allowed after IN"),
        ("priority IN ()", "IN takes a list of values in parentheses"),
        ("urgent IN (TRUE, FALSE)", "IN of 'urgent' must be"),
        ("'2025-01-01' BETWEEN '2024-01-01' AND opened_on", "cannot compare text"),
        ("1 = 1", "names no column: it is the same for every row"),
        ("priority + 1", "a condition must be true or false, not 'priority + 1'"),
    ],
)
def test_a_condition_compute_could_not_run_is_refused_naming_the_part_at_fault(
    sql: str, message: str
) -> None:
    problems = check(sql, TYPED)
    assert any(message in p for p in problems), problems


@pytest.mark.parametrize(
    ("sql", "kind", "message"),
    [
        ("urgent", "number", "a value must be a number, not 'urgent'"),
        ("answered_at - received_at", "number", "a value must be a number"),
        ("district", "any", None),
        ("1", "any", "names no column"),
    ],
)
def test_a_value_is_a_number_where_its_kind_sums_or_averages(
    sql: str, kind: str, message: str | None
) -> None:
    problems = check(sql, TYPED, value=True, numeric=kind == "number")
    assert problems == [] if message is None else any(message in p for p in problems)


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("(" * 120 + "priority = 1" + ")" * 120, "nests parentheses, CASEs or NOTs more than 20"),
        ("NOT " * 200 + "urgent", "more than 20 deep"),
        ("- " * 500 + "priority > 1", "more than 20 deep"),
        ("abs(" * 60 + "priority" + ")" * 60 + " > 1", "more than 20 deep"),
        ("CASE WHEN " * 30 + "urgent" + " THEN TRUE END" * 30, "more than 20 deep"),
        (" OR ".join(["priority = 1"] * 500), "more than 100 operations inside one another"),
        ("priority IN (" + ", ".join(["1"] * 10_000) + ")", "longer than 20,000 characters"),
    ],
)
def test_nesting_and_length_past_the_bounds_are_refused_before_the_parser_recurses(
    sql: str, message: str
) -> None:
    (problem,) = check(sql, TYPED)
    assert message in problem


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("(" * 20 + "priority = 1" + ")" * 20, [True, False, True, False]),
        (" OR ".join(f"priority = {n}" for n in range(1, 41)), [True] * 4),
        (
            "priority IN (" + ", ".join(str(n) for n in range(2, 2_000)) + ")",
            [False, True, False, True],
        ),
    ],
    ids=["20-parentheses", "40-ors", "2000-values"],
)
def test_the_bounds_leave_room_for_real_conditions(
    calls: ibis.Table, sql: str, expected: list[bool]
) -> None:
    assert check(sql, TYPED) == []
    result = calls.select(r=to_ibis(parse(sql), calls)).to_pyarrow().column("r").to_pylist()
    assert result == expected


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        (
            "CASE district WHEN 'North' THEN 1 WHEN 'south' THEN 2 ELSE 0 END = 2",
            [False, True, False, False],
        ),
        ("received_at >= '2026-01-01 08:00:00' AND received_at < '2026-01-02'", [True] * 4),
        ("round(answer_seconds, -1) = 10", [False, True, True, None]),
    ],
)
def test_simple_case_quoted_times_and_negative_round_digits_compute(
    calls: ibis.Table, sql: str, expected: list[bool | None]
) -> None:
    assert check(sql, TYPED) == []
    result = calls.select(r=to_ibis(parse(sql), calls)).to_pyarrow().column("r").to_pylist()
    assert result == expected


@pytest.mark.parametrize("sql", ["@", "@ > 1", "- > 1"])
def test_an_operator_without_its_operand_is_a_problem_not_a_crash(sql: str) -> None:
    assert check(sql, TYPED)
    assert check(sql, TYPED, value=True)


def test_text_the_sql_parser_itself_trips_on_is_a_problem_not_a_crash() -> None:
    # Found by bench/fuzz_conditions.py: SQLGlot raises an AttributeError on it.
    assert check("{:!!`}", TYPED) == ["cannot parse a condition"]
