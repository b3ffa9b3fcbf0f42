"""Run a source's declared quality checks on a candidate version before it is published.

The pipeline loads a pull into a DuckDB relation, runs :func:`run_checks` on it, stores one
:class:`CheckOutcome` per check (``QualityResult``) and publishes only when no ``error``
check failed, so a bad feed never replaces the last good version.

Each check is one query and one scan of the relation (the benchmark runs them on 10M rows).
Row checks group the failing rows by value in that same scan, which yields the count, the
number of distinct failing values and the most frequent ones for the ``detail`` sentence.
Identifiers are always quoted and values passed as parameters; ``sql`` checks are compiled
from the measure condition language through Ibis, never pasted into the query as written.

Choices worth knowing:

- ``unique``: rows with NULL in any key column are not compared (as in a SQL ``UNIQUE``
  constraint). A missing key is a ``not_null`` question; counting every NULL row as a
  duplicate would make one missing value fail two checks and hide real duplicates.
- ``range``, ``regex`` and ``accepted_values`` let NULL pass, for the same reason.
- ``freshness`` compares naive wall-clock times: the data's timestamps are local times of
  the city, so ``now`` must be given naive in that same sense (``run_checks`` refuses an
  aware ``now`` rather than guess a time zone). A ``date`` counts from the end of its day.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from typing import Any

import duckdb
import ibis
import ibis.common.exceptions as ibis_errors
from ibis.backends.sql.datatypes import DuckDBType

from civicstat.metrics import expressions
from civicstat.pipeline._checking import (
    EXAMPLES,
    NUMERIC,
    CheckOutcome,
    QualityError,
    Relation,
    as_number,
    as_text,
    failures,
    outcome,
    quote_name,
    rows_text,
    show,
)
from civicstat.spec import language
from civicstat.spec.language import ExpressionError
from civicstat.spec.models import (
    AcceptedValuesCheck,
    FreshnessCheck,
    NotNullCheck,
    QualityCheck,
    RangeCheck,
    RegexCheck,
    RowCountChangeCheck,
    SqlCheck,
    UniqueCheck,
)

__all__ = ["EXAMPLES", "CheckOutcome", "QualityError", "quoted_columns", "run_checks"]


# Checks whose detail, when they pass, quotes only the spec and counts.
_SILENT_WHEN_PASSED = frozenset(
    {"not_null", "unique", "accepted_values", "range", "regex", "row_count_change", "sql"}
)


def run_checks(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    checks: Sequence[QualityCheck],
    *,
    previous_row_count: int | None,
    now: dt.datetime,
) -> list[CheckOutcome]:
    """Run ``checks`` on the table or view ``relation`` (one name, quoted here), in order.

    ``previous_row_count`` is the published version's row count (None when there is none);
    ``now`` is the naive local wall-clock time the data's timestamps are compared with.
    Every check is prepared before any runs, so a check that cannot run raises
    :class:`QualityError` (or :class:`ExpressionError` for ``sql``) before any scan.
    """
    if now.tzinfo is not None:
        raise ValueError(
            "now must be naive local wall-clock time, like the data's timestamps: "
            "convert with now.astimezone(city_tz).replace(tzinfo=None)"
        )
    table = Relation.describe(con, relation)
    runs = [_prepare(check, table, previous_row_count, now) for check in checks]
    return [run() for run in runs]


def quoted_columns(check: str, target: str, passed: bool = False) -> tuple[str, ...] | None:
    """The columns whose values the ``detail`` of a stored outcome of ``check`` on
    ``target`` quotes: () when it quotes none (counts, or a passed check other than
    freshness), None when that cannot be told. Who may read a detail is decided from these
    (``governance.disclosure``)."""
    if passed and check in _SILENT_WHEN_PASSED:
        return ()
    match check:
        case "not_null" | "row_count_change":
            return ()
        case "unique":
            return tuple(target.split(", "))
        case "accepted_values" | "range" | "regex" | "freshness":
            return (target,)
        case "sql":
            try:
                return tuple(sorted(language.referenced_columns(language.parse(target))))
            except ExpressionError:
                return None
    return None


# --- one preparation per check kind -------------------------------------------------------

_Run = Callable[[], CheckOutcome]


def _prepare(check: QualityCheck, table: Relation, previous: int | None, now: dt.datetime) -> _Run:
    match check:
        case NotNullCheck():
            return _not_null(check, table)
        case UniqueCheck():
            return _unique(check, table)
        case AcceptedValuesCheck():
            return _accepted_values(check, table)
        case RangeCheck():
            return _range(check, table)
        case RegexCheck():
            return _regex(check, table)
        case RowCountChangeCheck():
            return _row_count_change(check, table, previous)
        case FreshnessCheck():
            return _freshness(check, table, now)
        case SqlCheck():
            return _sql(check, table)
    raise QualityError(f"unknown check {check!r}")  # pragma: no cover - the union is closed


def _not_null(check: NotNullCheck, table: Relation) -> _Run:
    columns = [table.column(name) for name in check.columns]
    target = ", ".join(check.columns)
    any_null = " OR ".join(f"{c} IS NULL" for c in columns)
    each = "".join(f", count(*) FILTER (WHERE {c} IS NULL)" for c in columns)
    sql = f"SELECT count(*), count(*) FILTER (WHERE {any_null}){each} FROM {table.sql}"  # noqa: S608

    def run() -> CheckOutcome:
        total, failing, *per_column = table.scalar_row(sql)
        if not failing:
            return outcome(check, target, 0, f"no NULL in {target} ({rows_text(total)})")
        counts = ", ".join(
            f"{name} in {rows_text(n)}"
            for name, n in zip(check.columns, per_column, strict=True)
            if n
        )
        return outcome(
            check, target, failing, f"{failing} of {rows_text(total)} have NULL: {counts}"
        )

    return run


def _unique(check: UniqueCheck, table: Relation) -> _Run:
    keys = [table.column(name) for name in check.columns]
    target = ", ".join(check.columns)
    where = " AND ".join(f"{k} IS NOT NULL" for k in keys)

    def run() -> CheckOutcome:
        found = failures(table, keys, where, min_count=2)
        if not found.rows:
            return outcome(check, target, 0, f"every {target} is unique (NULL keys not compared)")
        examples = found.sentence(check.columns, "duplicated value")
        detail = f"{rows_text(found.rows)} where {target} is shared with another row {examples}"
        return outcome(check, target, found.rows, detail)

    return run


def _accepted_values(check: AcceptedValuesCheck, table: Relation) -> _Run:
    column = table.column(check.column)
    if NUMERIC.match(table.types[check.column]):
        values: list[Any] = [as_number(check.column, v) for v in check.values]
        text = column
    else:  # strings, booleans, dates...: compare as text, as the values are written
        values = [str(v).lower() if isinstance(v, bool) else str(v) for v in check.values]
        text = as_text(column, table.types[check.column])
    where = f"{column} IS NOT NULL AND {text} NOT IN ({', '.join('?' * len(values))})"
    listed = ", ".join(show(v) for v in check.values[:10]) + (", …" * (len(values) > 10))
    passes = f"every {check.column} is one of {listed}"
    return _rule(check, table, column, where, values, f"is not one of {listed}", passes)


def _range(check: RangeCheck, table: Relation) -> _Run:
    column = table.column(check.column, "numeric")
    bounds = [
        (op, value, word)
        for op, value, word in (("<", check.min, "below"), (">", check.max, "above"))
        if value is not None
    ]
    where = " OR ".join(f"{column} {op} ?" for op, _, _ in bounds) or "FALSE"
    outside = (
        " or ".join(f"{word} {show(value)}" for _, value, word in bounds) or "out of no bounds"
    )
    passes = f"no {check.column} is {outside}"
    return _rule(check, table, column, where, [v for _, v, _ in bounds], f"is {outside}", passes)


def _regex(check: RegexCheck, table: Relation) -> _Run:
    column = table.column(check.column)
    try:  # DuckDB uses RE2: compile the pattern once, on no rows, before any scan
        table.con.execute("SELECT regexp_full_match('', ?)", [check.pattern])
    except duckdb.Error as error:
        message = str(error).removeprefix("Invalid Input Error: ")
        raise QualityError(f"pattern {check.pattern!r} is not usable: {message}") from error
    text = as_text(column, table.types[check.column])
    where = f"{column} IS NOT NULL AND NOT regexp_full_match({text}, ?)"
    fails, passes = (
        f"does not match {check.pattern!r}",
        f"every {check.column} matches {check.pattern!r}",
    )
    return _rule(check, table, column, where, [check.pattern], fails, passes)


def _rule(
    check: AcceptedValuesCheck | RangeCheck | RegexCheck,
    table: Relation,
    column: str,
    where: str,
    params: Sequence[Any],
    fails: str,
    passes: str,
) -> _Run:
    """A check of one column's values: the rows meeting ``where`` fail, grouped by value.
    NULL always passes: whether a value is there at all is ``not_null``'s question."""

    def run() -> CheckOutcome:
        found = failures(table, [column], where, params)
        if not found.rows:
            return outcome(check, check.column, 0, passes + " (NULL not checked)")
        detail = f"{rows_text(found.rows)} where {check.column} {fails} "
        return outcome(check, check.column, found.rows, detail + found.sentence([check.column]))

    return run


def _row_count_change(check: RowCountChangeCheck, table: Relation, previous: int | None) -> _Run:
    sql = f"SELECT count(*) FROM {table.sql}"  # noqa: S608 (quoted identifier)
    limit = f"limit {show(check.max_change_percent)}%"

    def run() -> CheckOutcome:
        (count,) = table.scalar_row(sql)
        if previous is None:
            return outcome(check, "", 0, f"{rows_text(count)}; no previous version to compare with")
        if previous:
            change = abs(count - previous) / previous * 100
            how = f"{change:.1f}% change"
        else:  # from nothing, any row is an unbounded change
            change, how = (math.inf, "from none") if count else (0.0, "no change")
        detail = f"row count went from {previous} to {count} ({how}, {limit})"
        passed = change <= check.max_change_percent
        return CheckOutcome(check.check, "", check.severity, passed, 0, detail)

    return run


def _freshness(check: FreshnessCheck, table: Relation, now: dt.datetime) -> _Run:
    column = table.column(check.column, "time")
    sql = f"SELECT max({column}), count(*) FROM {table.sql}"  # noqa: S608 (quoted identifiers)

    def run() -> CheckOutcome:
        newest, count = table.scalar_row(sql)
        if newest is None:
            why = "the table is empty" if not count else f"every {check.column} is NULL"
            detail = f"no {check.column} to judge freshness by: {why}"
            return CheckOutcome(check.check, check.column, check.severity, False, 0, detail)
        if not isinstance(newest, dt.datetime):  # a date lasts until the end of its day
            newest = dt.datetime.combine(newest + dt.timedelta(days=1), dt.time())
        age = (now - newest) / dt.timedelta(hours=1)
        passed = age <= check.max_age_hours
        when = f"{age:.1f} hours before" if age >= 0 else f"{-age:.1f} hours after"
        detail = (
            f"newest {check.column} is {show(newest)}, {when} {show(now)} "
            f"(limit {show(check.max_age_hours)} hour{'' if check.max_age_hours == 1 else 's'})"
        )
        return CheckOutcome(check.check, check.column, check.severity, passed, 0, detail)

    return run


def _sql(check: SqlCheck, table: Relation) -> _Run:
    # The condition checker only needs to know which columns are boolean.
    types = {name: type_.lower() for name, type_ in table.types.items()}
    problems = language.check(check.condition, types)
    if problems:
        raise ExpressionError("; ".join(problems))
    tree = language.parse(check.condition)
    referenced = sorted(language.referenced_columns(tree))
    try:
        schema = {name: DuckDBType.from_string(type_) for name, type_ in table.types.items()}
        rows = ibis.table(schema, name=table.name)
        met = expressions.to_ibis(tree, rows).fill_null(False)
        failing = rows.filter(~met)
        selected = failing.select(*referenced) if referenced else failing
        query = ibis.to_sql(selected, dialect="duckdb")
    except (ibis_errors.IbisError, AttributeError) as error:
        message = f"condition {check.condition!r} cannot run on {table.name}: {error}"
        raise ExpressionError(message) from error
    keys = [quote_name(name) for name in referenced]

    def run() -> CheckOutcome:
        found = failures(table, keys, "TRUE", source=f"({query}) AS _failing")
        target = check.condition
        if not found.rows:
            return outcome(check, target, 0, f"every row meets {target}")
        detail = f"{rows_text(found.rows)} where {target} is not true"
        if referenced:
            detail += " " + found.sentence(
                referenced, "distinct combination" if len(keys) > 1 else "distinct value"
            )
        return outcome(check, target, found.rows, detail)

    return run
