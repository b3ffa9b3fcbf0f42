"""SODA requests compiled to Ibis over a governed table, run on DuckDB: the answers match
what a hand count gives, and an aggregate of a group under k is withheld."""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

import ibis
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from civicstat.governance.soda_query import compile_request, read_request
from civicstat.governance.soql import SoqlError

ROWS = [
    # kind, n, at, ok: "a" has 4 rows, "b" 3, "c" 1 (hand-counted groups below)
    ("a", 1, dt.datetime(2024, 1, 5, 8), True),
    ("a", 2, dt.datetime(2024, 1, 9, 9), False),
    ("a", 3, dt.datetime(2024, 2, 1, 0), True),
    ("a", 4, dt.datetime(2024, 2, 2, 0), None),
    ("b", 10, dt.datetime(2024, 1, 1, 0), True),
    ("b", 20, dt.datetime(2024, 3, 1, 0), True),
    ("b", None, dt.datetime(2024, 3, 2, 0), False),
    ("c", 7, dt.datetime(2024, 3, 3, 0), True),
]


@pytest.fixture(scope="module")
def con() -> Any:
    return ibis.duckdb.connect()


@pytest.fixture(scope="module")
def table(con: Any) -> ibis.Table:
    columns = ("kind", "n", "at", "ok")
    data = {c: [r[i] for r in ROWS] for i, c in enumerate(columns)}
    return con.create_table("t", ibis.memtable(data))


def run(con: Any, table: ibis.Table, k: int = 1, **params: str) -> list[dict[str, Any]]:
    request = read_request([(f"${p}" if p != "kind" else p, v) for p, v in params.items()])
    compiled = compile_request(table, request, k=k, stable=())
    result: list[dict[str, Any]] = (
        con.to_pyarrow(compiled.query).select(compiled.columns).to_pylist()
    )
    return result


def test_where_order_limit_offset(con: Any, table: ibis.Table) -> None:
    rows = run(con, table, where="n >= 2 AND kind != 'c'", order="n DESC", limit="2", offset="1")
    assert [r["n"] for r in rows] == [10, 4]


def test_timestamps_compare_with_floating_timestamp_text(con: Any, table: ibis.Table) -> None:
    rows = run(con, table, where="at between '2024-01-05T08:00:00' and '2024-02-01T00:00:00'",
               select="n", order="n")  # fmt: skip
    assert rows == [{"n": 1}, {"n": 2}, {"n": 3}]


def test_nulls_in_not_in_like_starts_with_booleans(con: Any, table: ibis.Table) -> None:
    assert run(con, table, where="n IS NULL", select="kind") == [{"kind": "b"}]
    assert len(run(con, table, where="kind NOT IN ('a', 'c')")) == 3
    assert len(run(con, table, where="kind like 'a%' and starts_with(kind, 'a')")) == 4
    assert len(run(con, table, where="ok = true")) == 5
    assert len(run(con, table, where="NOT (ok = false) AND ok IS NOT NULL")) == 5


def test_simple_filter_and_full_text(con: Any, table: ibis.Table) -> None:
    assert len(run(con, table, kind="b")) == 3
    assert len(run(con, table, q="B")) == 3


def test_group_with_suppression_withholds_small_groups(con: Any, table: ibis.Table) -> None:
    rows = run(con, table, k=3, select="kind, count(*), sum(n) AS total, max(at)", group="kind",
               order="kind")  # fmt: skip
    # Hand count: a 4 rows (n 1+2+3+4), b 3 rows (10+20, one null), c 1 row (under k=3).
    assert rows == [
        {"kind": "a", "count": 4, "total": 10, "max_at": dt.datetime(2024, 2, 2)},
        {"kind": "b", "count": 3, "total": 30, "max_at": dt.datetime(2024, 3, 2)},
        {"kind": "c", "count": None, "total": None, "max_at": None},
    ]


def test_having_and_order_see_the_withheld_values(con: Any, table: ibis.Table) -> None:
    # c's count (1) is under k: no having on the count can single it out...
    assert run(con, table, k=3, select="kind, count(*)", group="kind", having="count < 3") == []
    assert run(con, table, k=3, select="kind", group="kind", having="count(*) = 1") == []
    # ...and it sorts as a null, not as the smallest count.
    ordered = run(con, table, k=3, select="kind, count(*) AS c", group="kind", order="c")
    assert [r["kind"] for r in ordered] == ["b", "a", "c"]


def test_an_ungrouped_aggregate_is_one_group(con: Any, table: ibis.Table) -> None:
    assert run(con, table, k=3, select="count(*)", where="kind = 'c'") == [{"count": None}]
    assert run(con, table, k=3, select="count(*), avg(n)", where="kind = 'a'") == [
        {"count": 4, "avg_n": 2.5}
    ]


def test_group_by_month(con: Any, table: ibis.Table) -> None:
    rows = run(con, table, select="date_trunc_ym(at) AS month, count(*)", group="month",
               order="month")  # fmt: skip
    assert rows == [
        {"month": dt.datetime(2024, 1, 1), "count": 3},
        {"month": dt.datetime(2024, 2, 1), "count": 2},
        {"month": dt.datetime(2024, 3, 1), "count": 3},
    ]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"where": "secret = 'x'"}, "no such column: 'secret'"),
        ({"select": "kind, n", "group": "kind"}, "must be in $group"),
        ({"where": "count(*) > 1"}, "$having"),
        ({"select": "sum(kind)"}, "numbers only"),
        ({"where": "n = 'Jane Secret'"}, "not a valid number"),
        ({"where": "at > 'Jane Secret'"}, "not a valid date"),
        ({"where": "kind"}, "true or false"),
        ({"select": "*", "group": "kind"}, "*"),
        ({"select": "kind, kind"}, "twice"),
    ],
)
def test_refusals_name_columns_never_values(
    con: Any, table: ibis.Table, params: dict[str, str], message: str
) -> None:
    with pytest.raises(SoqlError) as refused:
        run(con, table, **params)
    assert message in str(refused.value)
    assert "Jane" not in str(refused.value)


_PIECES = ["kind", "n", "at", "ok", " = ", " < ", " AND ", " OR ", " NOT ", " IS NULL", "(",
           ")", "'a'", "'2024-01-01T00:00:00'", "1", "2.5", "true", " IN ('a', 'b')",
           "count(*)", "sum(n)", "max(at)", ", ", " + ", " LIKE 'a%'", "0", " / ",
           " % "]  # fmt: skip
_QUERY = st.lists(st.sampled_from(_PIECES), min_size=1, max_size=12).map("".join)


@settings(max_examples=300, deadline=None)
@given(where=_QUERY, select=_QUERY, group=st.sampled_from(["", "kind", "ok"]))
def test_any_query_compiles_or_raises_a_soql_error(
    table: ibis.Table, where: str, select: str, group: str
) -> None:
    for params in ([("$where", where)], [("$select", select), ("$group", group)]):
        with contextlib.suppress(SoqlError):
            compile_request(table, read_request(params), k=3, stable=())


def test_the_deepest_accepted_queries_run_and_deeper_ones_are_refused(
    con: Any, table: ibis.Table
) -> None:
    # 300 conditions joined by OR: balanced into a shallow tree, so accepted and run.
    many = " OR ".join(f"n = {i}" for i in range(300))
    assert len(run(con, table, where=many)) == 7
    # Nesting just under each limit runs without a RecursionError anywhere below.
    nested = "(" * 20 + "n" + " + 1)" * 20 + " > 0"
    assert len(run(con, table, where=nested)) == 7
    chain = " + ".join(["n"] * 30) + " > 0"
    assert len(run(con, table, where=chain)) == 7
    for deeper in (" + ".join(["n"] * 60) + " > 0", "upper(" * 30 + "kind" + ")" * 30 + " = 'A'"):
        with pytest.raises(SoqlError, match="too"):
            run(con, table, where=deeper)
