"""Quality checks: each kind finds its planted violations, says which, and lets NULL through
where another check owns it; SQL conditions run only through the safe condition language."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from typing import Any

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from civicstat.pipeline.quality import CheckOutcome, QualityError, run_checks
from civicstat.spec.language import ExpressionError
from civicstat.spec.models import QualityCheck

NOW = dt.datetime(2025, 7, 10, 12, 0)
CHECKS = TypeAdapter(list[QualityCheck])

# Ten service requests with planted problems: a NULL district and priority, a repeated
# request id, a misspelt district, a priority out of range, a malformed code.
INSERT_ROWS = """INSERT INTO requests VALUES
    (1, 'A-1', 'north', 1, 10.5, TIMESTAMP '2025-07-10 08:00', DATE '2025-07-09', TRUE),
    (2, 'A-2', 'north', 2, 20.0, TIMESTAMP '2025-07-09 08:00', DATE '2025-07-08', FALSE),
    (3, 'A-3', 'south', 3, 30.0, TIMESTAMP '2025-07-08 08:00', DATE '2025-07-08', NULL),
    (3, 'A-3', 'south', 3, 30.0, TIMESTAMP '2025-07-08 08:00', DATE '2025-07-08', NULL),
    (3, 'A-4', 'Nroth', 9, 99.5, TIMESTAMP '2025-07-07 08:00', DATE '2025-07-07', TRUE),
    (5, 'A-5', NULL,    1, -1.0, TIMESTAMP '2025-07-06 08:00', NULL,              FALSE),
    (6, 'a6',  'east',  NULL, NULL, NULL,                      DATE '2025-07-05', TRUE),
    (7, 'A-7', 'Nroth', 2, 50.0, TIMESTAMP '2025-07-05 08:00', DATE '2025-07-04', FALSE),
    (8, NULL,  'west',  0, 0.0,  TIMESTAMP '2025-07-04 08:00', DATE '2025-07-03', TRUE),
    (9, 'A-9', 'west',  4, 40.0, TIMESTAMP '2025-07-03 08:00', DATE '2025-07-02', TRUE)
"""


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    connection.execute(
        "CREATE TABLE requests (id INTEGER, code VARCHAR, district VARCHAR, priority INTEGER, "
        "score DECIMAL(6, 2), created_at TIMESTAMP, due DATE, urgent BOOLEAN)"
    )
    connection.execute(INSERT_ROWS)
    yield connection
    connection.close()


def run(
    con: duckdb.DuckDBPyConnection,
    *checks: dict[str, Any],
    relation: str = "requests",
    previous: int | None = None,
    now: dt.datetime = NOW,
) -> list[CheckOutcome]:
    return run_checks(
        con, relation, CHECKS.validate_python(checks), previous_row_count=previous, now=now
    )


def one(con: duckdb.DuckDBPyConnection, check: dict[str, Any], **kwargs: Any) -> CheckOutcome:
    (outcome,) = run(con, check, **kwargs)
    return outcome


# --- not_null ---------------------------------------------------------------------------


def test_not_null_counts_rows_with_a_null_in_any_listed_column(
    con: duckdb.DuckDBPyConnection,
) -> None:
    outcome = one(con, {"check": "not_null", "columns": ["district", "priority"]})

    assert outcome == CheckOutcome(
        "not_null",
        "district, priority",
        "error",
        False,
        2,
        "2 of 10 rows have NULL: district in 1 row, priority in 1 row",
    )


def test_not_null_passes_on_a_complete_column_and_keeps_a_warn_severity(
    con: duckdb.DuckDBPyConnection,
) -> None:
    outcome = one(con, {"check": "not_null", "columns": ["id"], "severity": "warn"})

    assert (outcome.passed, outcome.failing_rows, outcome.severity) == (True, 0, "warn")
    assert outcome.detail == "no NULL in id (10 rows)"


# --- unique -----------------------------------------------------------------------------


def test_unique_counts_every_row_of_a_duplicated_group_with_examples(
    con: duckdb.DuckDBPyConnection,
) -> None:
    outcome = one(con, {"check": "unique", "columns": ["id"], "severity": "warn"})

    assert (outcome.passed, outcome.failing_rows, outcome.severity) == (False, 3, "warn")
    assert outcome.detail == (
        "3 rows where id is shared with another row (1 duplicated value): 3 (3 rows)"
    )


def test_unique_over_several_columns_names_each_value(con: duckdb.DuckDBPyConnection) -> None:
    outcome = one(con, {"check": "unique", "columns": ["id", "code"]})

    assert outcome.failing_rows == 2
    assert outcome.target == "id, code"
    assert "(id=3, code='A-3') (2 rows)" in outcome.detail


def test_unique_does_not_count_nulls_as_duplicates(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE TABLE keys AS SELECT * FROM (VALUES (NULL), (NULL), (1)) AS t(k)")

    outcome = one(con, {"check": "unique", "columns": ["k"]}, relation="keys")

    assert (outcome.passed, outcome.failing_rows) == (True, 0)
    assert "NULL keys not compared" in outcome.detail


def test_unique_shows_the_five_largest_groups_then_an_ellipsis(
    con: duckdb.DuckDBPyConnection,
) -> None:
    con.execute("CREATE TABLE many AS SELECT range % 7 AS k FROM range(7 * 3 + 1)")

    outcome = one(con, {"check": "unique", "columns": ["k"]}, relation="many")

    assert outcome.failing_rows == 22
    assert outcome.detail == (
        "22 rows where k is shared with another row (7 duplicated values): "
        "0 (4 rows), 1 (3 rows), 2 (3 rows), 3 (3 rows), 4 (3 rows), …"
    )


# --- accepted_values --------------------------------------------------------------------


def test_accepted_values_lists_the_unexpected_values_most_frequent_first(
    con: duckdb.DuckDBPyConnection,
) -> None:
    check = {"check": "accepted_values", "column": "district", "values": ["north", "south"]}

    outcome = one(con, check)

    # 'Nroth' twice, 'east' once, 'west' twice; the NULL district is not_null's business.
    assert outcome.failing_rows == 5
    assert outcome.detail == (
        "5 rows where district is not one of 'north', 'south' (3 distinct values): "
        "'Nroth' (2 rows), 'west' (2 rows), 'east' (1 row)"
    )


def test_accepted_values_compare_numbers_as_numbers(con: duckdb.DuckDBPyConnection) -> None:
    check = {"check": "accepted_values", "column": "priority", "values": [1, 2.0, "3", 4]}

    outcome = one(con, check)

    assert outcome.failing_rows == 2  # 9 and 0; the NULL priority passes
    assert "9 (1 row)" in outcome.detail
    assert "0 (1 row)" in outcome.detail


def test_accepted_values_compare_other_types_as_written(con: duckdb.DuckDBPyConnection) -> None:
    urgent = one(con, {"check": "accepted_values", "column": "urgent", "values": [True]})
    due = one(con, {"check": "accepted_values", "column": "due", "values": ["2025-07-08"]})

    assert (urgent.failing_rows, due.failing_rows) == (3, 6)
    assert "false (3 rows)" in urgent.detail


def test_accepted_values_refuses_text_for_a_numeric_column(
    con: duckdb.DuckDBPyConnection,
) -> None:
    with pytest.raises(QualityError, match="'high' is not a number"):
        run(con, {"check": "accepted_values", "column": "priority", "values": ["high"]})


# --- range ------------------------------------------------------------------------------


def test_range_bounds_are_inclusive_and_null_passes(con: duckdb.DuckDBPyConnection) -> None:
    outcome = one(con, {"check": "range", "column": "priority", "min": 1, "max": 4})

    assert outcome.failing_rows == 2
    assert outcome.detail == (
        "2 rows where priority is below 1 or above 4 (2 distinct values): 0 (1 row), 9 (1 row)"
    )


def test_range_with_one_bound_on_a_decimal_column(con: duckdb.DuckDBPyConnection) -> None:
    low = one(con, {"check": "range", "column": "score", "min": 0})
    high = one(con, {"check": "range", "column": "score", "max": 50.5, "severity": "warn"})

    assert (low.failing_rows, low.passed) == (1, False)
    assert "-1.00 (1 row)" in low.detail
    assert (high.failing_rows, high.severity) == (1, "warn")
    assert "99.50 (1 row)" in high.detail


def test_range_on_a_text_column_cannot_run(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(QualityError, match="'district' is VARCHAR; it must be a number"):
        run(con, {"check": "range", "column": "district", "min": 0})


# --- regex ------------------------------------------------------------------------------


def test_regex_must_match_the_whole_value(con: duckdb.DuckDBPyConnection) -> None:
    outcome = one(con, {"check": "regex", "column": "code", "pattern": r"A-\d"})

    assert outcome.failing_rows == 1  # 'a6'; the NULL code passes
    assert outcome.detail == (
        "1 row where code does not match 'A-\\\\d' (1 distinct value): 'a6' (1 row)"
    )
    assert one(con, {"check": "regex", "column": "code", "pattern": "A"}).failing_rows == 9


def test_regex_on_a_number_reads_its_text(con: duckdb.DuckDBPyConnection) -> None:
    outcome = one(con, {"check": "regex", "column": "priority", "pattern": "[1-4]"})

    assert outcome.failing_rows == 2


def test_regex_duckdb_cannot_run_is_refused_before_any_scan(
    con: duckdb.DuckDBPyConnection,
) -> None:
    with pytest.raises(QualityError, match="pattern '\\(\\?=A\\)A' is not usable"):
        run(con, {"check": "regex", "column": "code", "pattern": "(?=A)A"})


# --- row_count_change -------------------------------------------------------------------


def test_row_count_change_passes_without_a_previous_version(
    con: duckdb.DuckDBPyConnection,
) -> None:
    outcome = one(con, {"check": "row_count_change", "max_change_percent": 10})

    assert (outcome.passed, outcome.target, outcome.failing_rows) == (True, "", 0)
    assert outcome.detail == "10 rows; no previous version to compare with"


@pytest.mark.parametrize(
    ("previous", "passed", "detail"),
    [
        (9, False, "row count went from 9 to 10 (11.1% change, limit 10%)"),
        (11, True, "row count went from 11 to 10 (9.1% change, limit 10%)"),
        (10, True, "row count went from 10 to 10 (0.0% change, limit 10%)"),
        (20, False, "row count went from 20 to 10 (50.0% change, limit 10%)"),
        (0, False, "row count went from 0 to 10 (from none, limit 10%)"),
    ],
)
def test_row_count_change_against_the_previous_version(
    con: duckdb.DuckDBPyConnection, previous: int, passed: bool, detail: str
) -> None:
    outcome = one(con, {"check": "row_count_change", "max_change_percent": 10}, previous=previous)

    assert (outcome.passed, outcome.detail) == (passed, detail)


# --- freshness --------------------------------------------------------------------------


def test_freshness_measures_the_newest_timestamp_against_now(
    con: duckdb.DuckDBPyConnection,
) -> None:
    fresh = one(con, {"check": "freshness", "column": "created_at", "max_age_hours": 4})
    stale = one(con, {"check": "freshness", "column": "created_at", "max_age_hours": 3.5})

    assert (fresh.passed, stale.passed) == (True, False)
    assert stale.detail == (
        "newest created_at is 2025-07-10 08:00:00, 4.0 hours before 2025-07-10 12:00:00 "
        "(limit 3.5 hours)"
    )


def test_freshness_of_a_date_counts_from_the_end_of_its_day(
    con: duckdb.DuckDBPyConnection,
) -> None:
    check = {"check": "freshness", "column": "due", "max_age_hours": 12}

    assert one(con, check).passed  # 2025-07-09 ended 12 hours before NOW
    assert not one(con, check, now=NOW + dt.timedelta(minutes=1)).passed


def test_freshness_fails_on_an_empty_table_or_an_empty_column(
    con: duckdb.DuckDBPyConnection,
) -> None:
    con.execute("CREATE TABLE empty AS SELECT * FROM requests WHERE FALSE")
    con.execute("CREATE TABLE blank AS SELECT NULL::TIMESTAMP AS created_at")
    check = {"check": "freshness", "column": "created_at", "max_age_hours": 24}

    empty = one(con, check, relation="empty")
    blank = one(con, check, relation="blank")

    assert (empty.passed, empty.detail) == (
        False,
        "no created_at to judge freshness by: the table is empty",
    )
    assert (blank.passed, blank.detail) == (
        False,
        "no created_at to judge freshness by: every created_at is NULL",
    )


def test_freshness_refuses_an_aware_now(con: duckdb.DuckDBPyConnection) -> None:
    check = {"check": "freshness", "column": "created_at", "max_age_hours": 24}

    with pytest.raises(ValueError, match="naive local wall-clock"):
        run(con, check, now=NOW.replace(tzinfo=dt.UTC))


def test_freshness_needs_a_date_or_timestamp_column(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(QualityError, match="must be a date or timestamp"):
        run(con, {"check": "freshness", "column": "code", "max_age_hours": 1})


# --- sql --------------------------------------------------------------------------------


def test_sql_check_fails_rows_where_the_condition_is_not_true(
    con: duckdb.DuckDBPyConnection,
) -> None:
    condition = "priority BETWEEN 1 AND 4 AND score >= 0"

    outcome = one(con, {"check": "sql", "condition": condition, "severity": "warn"})

    # 9 and 0 out of range, score -1, and the row where both are NULL (unknown is not true).
    assert (outcome.target, outcome.failing_rows, outcome.severity) == (condition, 4, "warn")
    assert outcome.detail.startswith(
        f"4 rows where {condition} is not true (4 distinct combinations): "
    )
    assert "(priority=NULL, score=NULL) (1 row)" in outcome.detail


def test_sql_check_passes_when_every_row_meets_it(con: duckdb.DuckDBPyConnection) -> None:
    outcome = one(con, {"check": "sql", "condition": "id > 0 AND urgent IS NOT NULL OR id = 3"})

    assert (outcome.passed, outcome.detail) == (
        True,
        "every row meets id > 0 AND urgent IS NOT NULL OR id = 3",
    )


def test_sql_check_compares_timestamps_and_intervals(con: duckdb.DuckDBPyConnection) -> None:
    condition = "created_at >= TIMESTAMP '2025-07-05 00:00:00'"

    outcome = one(con, {"check": "sql", "condition": condition})

    assert outcome.failing_rows == 3  # two older rows and the NULL created_at


@pytest.mark.parametrize(
    "condition",
    [
        "1 = 1; DROP TABLE requests",
        "id IN (SELECT id FROM requests)",
        "length(read_csv('/etc/passwd')) > 0",
        "id = 1 -- comment",
        "requests.id = 1",
    ],
)
def test_sql_check_refuses_anything_outside_the_condition_language(
    con: duckdb.DuckDBPyConnection, condition: str
) -> None:
    with pytest.raises(ExpressionError):
        run(con, {"check": "sql", "condition": condition})

    assert con.execute("SELECT count(*) FROM requests").fetchone() == (10,)


def test_sql_check_names_an_unknown_column(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(ExpressionError, match="unknown column 'priorty' \\(did you mean"):
        run(con, {"check": "sql", "condition": "priorty > 1"})


def test_sql_check_with_text_quotes_inside_a_literal(con: duckdb.DuckDBPyConnection) -> None:
    outcome = one(con, {"check": "sql", "condition": "district <> 'o''brien'"})

    assert outcome.failing_rows == 1  # only the NULL district


# --- every check ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("check", "detail"),
    [
        (
            {
                "check": "accepted_values",
                "column": "code",
                "values": ["A-1", "A-2"],
                "severity": "warn",
            },
            "every code is one of 'A-1', 'A-2' (NULL not checked)",
        ),
        ({"check": "range", "column": "id", "min": 1}, "no id is below 1 (NULL not checked)"),
        (
            {"check": "regex", "column": "district", "pattern": "[a-zA-Z]+"},
            "every district matches '[a-zA-Z]+' (NULL not checked)",
        ),
        ({"check": "sql", "condition": "id < 100"}, "every row meets id < 100"),
    ],
)
def test_a_passing_check_says_what_held(
    con: duckdb.DuckDBPyConnection, check: dict[str, Any], detail: str
) -> None:
    if check["check"] == "accepted_values":
        con.execute("DELETE FROM requests WHERE code NOT IN ('A-1', 'A-2')")

    outcome = one(con, check)

    assert (outcome.passed, outcome.failing_rows, outcome.detail) == (True, 0, detail)
    assert outcome.severity == check.get("severity", "error")


def test_dates_and_timestamps_read_as_iso_in_examples(con: duckdb.DuckDBPyConnection) -> None:
    outcome = one(con, {"check": "sql", "condition": "due > DATE '2025-07-04' OR id = 6"})

    # The row without a due date fails too: NULL OR FALSE is not true.
    assert outcome.detail == (
        "4 rows where due > DATE '2025-07-04' OR id = 6 is not true (4 distinct combinations): "
        "(due=2025-07-02, id=9) (1 row), (due=2025-07-03, id=8) (1 row), "
        "(due=2025-07-04, id=7) (1 row), (due=NULL, id=5) (1 row)"
    )


def test_outcomes_come_in_the_order_of_the_checks_on_a_quoted_view(
    con: duckdb.DuckDBPyConnection,
) -> None:
    con.execute('CREATE VIEW "candidate ""v2""" AS SELECT * FROM requests')

    outcomes = run(
        con,
        {"check": "unique", "columns": ["code"]},
        {"check": "row_count_change", "max_change_percent": 50},
        {"check": "not_null", "columns": ["code"], "severity": "warn"},
        {"check": "sql", "condition": "id <> 6"},
        relation='candidate "v2"',
        previous=10,
    )

    assert [(o.check, o.passed, o.failing_rows, o.severity) for o in outcomes] == [
        ("unique", False, 2, "error"),
        ("row_count_change", True, 0, "error"),
        ("not_null", False, 1, "warn"),
        ("sql", False, 1, "error"),
    ]


def test_a_column_missing_from_the_relation_is_an_error_with_a_hint(
    con: duckdb.DuckDBPyConnection,
) -> None:
    with pytest.raises(QualityError, match="'distrct' not in requests \\(did you mean 'district'"):
        run(
            con,
            {"check": "not_null", "columns": ["id"]},
            {"check": "not_null", "columns": ["distrct"]},
        )


def test_long_text_values_are_shortened_in_the_detail(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE TABLE notes AS SELECT repeat('x', 500) AS note")

    outcome = one(con, {"check": "regex", "column": "note", "pattern": "y+"}, relation="notes")

    assert outcome.failing_rows == 1
    assert len(outcome.detail) < 200
    assert "…" in outcome.detail


# --- properties -------------------------------------------------------------------------

small_ints = st.lists(st.one_of(st.none(), st.integers(-5, 5)), max_size=30)


def table_of(values: list[int | None]) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.execute("CREATE TABLE t (v INTEGER)")
    if values:
        connection.executemany("INSERT INTO t VALUES (?)", [[v] for v in values])
    return connection


@settings(max_examples=60, deadline=None)
@given(values=small_ints)
def test_unique_failing_rows_count_every_row_of_a_duplicated_value(
    values: list[int | None],
) -> None:
    counts = Counter(v for v in values if v is not None)
    expected = sum(n for n in counts.values() if n > 1)
    with table_of(values) as connection:
        (outcome,) = run(connection, {"check": "unique", "columns": ["v"]}, relation="t")

    assert outcome.failing_rows == expected
    assert outcome.passed == (expected == 0)


@settings(max_examples=60, deadline=None)
@given(
    values=small_ints,
    low=st.one_of(st.none(), st.integers(-6, 6)),
    high=st.one_of(st.none(), st.integers(-6, 6)),
)
def test_range_failing_rows_count_values_outside_the_bounds(
    values: list[int | None], low: int | None, high: int | None
) -> None:
    expected = sum(
        1
        for v in values
        if v is not None and ((low is not None and v < low) or (high is not None and v > high))
    )
    check = {"check": "range", "column": "v", "min": low, "max": high}
    with table_of(values) as connection:
        (outcome,) = run(connection, check, relation="t")

    assert outcome.failing_rows == expected
