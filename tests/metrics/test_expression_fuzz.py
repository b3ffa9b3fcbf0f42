"""Whatever a city writes as a condition, validate either refuses it or compute can run it.

Random conditions and values, most of them well typed and the rest not, are checked as
``civicstat validate`` checks them, against the example workspace's dataset (with one
column of each type the language knows added); every one that passes is compiled as a
share measure's condition and filter (or a sum's value) and run on DuckDB: nothing that
passes validation may fail there. A run of a few seconds is part of the suite; a longer
campaign is the same test with more examples:

    CIVICSTAT_FUZZ_EXAMPLES=20000 pytest tests/metrics/test_expression_fuzz.py -p no:cacheprovider
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from importlib.resources import files

import ibis
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from civicstat.metrics import compute
from civicstat.spec.example import write_example
from civicstat.spec.language import check
from civicstat.spec.models import Measure

EXAMPLES = int(os.environ.get("CIVICSTAT_FUZZ_EXAMPLES", "150"))
EXAMPLE = files("civicstat.spec.example")
SOURCE = yaml.safe_load((EXAMPLE / "sources" / "service_requests.yaml").read_text())
# The example's columns, and one of each type it lacks, derived from its rows.
EXTRA = {"reopened": "integer", "cost": "float", "urgent": "boolean", "due_day": "date"}
COLUMNS = {c["name"]: c["type"] for c in SOURCE["columns"]} | EXTRA
BY_TYPE: dict[str, list[str]] = {}
for _name, _type in COLUMNS.items():
    BY_TYPE.setdefault(_type, []).append(_name)


@pytest.fixture(scope="module")
def requests(tmp_path_factory: pytest.TempPathFactory) -> ibis.Table:
    root = tmp_path_factory.mktemp("example")
    write_example(root)
    con = ibis.duckdb.connect()
    types = {c["name"]: c["type"].upper() for c in SOURCE["columns"]}
    table = con.read_csv(
        root / SOURCE["options"]["path"],
        types={name: t.replace("STRING", "VARCHAR") for name, t in types.items()},
    )
    derived = table.mutate(
        reopened=(table.request_id.length() % 3).cast("int64"),
        cost=table.request_id.length() * 1.5,
        urgent=table.request_type == "pothole",
        due_day=table.due_at.date(),
    )
    return con.create_table("requests", derived)


# --- random expressions, typed so that most of them mean something ---------------------

Expr = st.SearchStrategy[str]
LITERALS: dict[str, Expr] = {
    "integer": st.sampled_from(["0", "1", "3", "-2", "99999999999999999999"]),
    "float": st.sampled_from(["1.5", "0.0", "1e3", "1e999", ".5"]),
    "string": st.sampled_from(["'pothole'", "'north'", "''", "'%o%'", "'2025-01-01'", "'abc'"]),
    "boolean": st.sampled_from(["TRUE", "FALSE"]),
    "date": st.sampled_from(["DATE '2025-01-01'", "'2025-03-01'", "DATE '2025-13-01'"]),
    "timestamp": st.sampled_from(
        ["TIMESTAMP '2025-01-01 08:00:00'", "'2025-02-01 00:00:00'", "TIMESTAMP '2025-01-01'"]
    ),
    "interval": st.sampled_from(
        ["INTERVAL '10 minutes'", "INTERVAL '2' DAY", "INTERVAL '1 week'", "INTERVAL '1.5 hours'"]
    ),
}
TYPES = list(LITERALS)


def leaf(kind: str) -> Expr:
    columns = BY_TYPE.get(kind, [])
    options = [LITERALS[kind], st.just("NULL")]
    if columns:
        options.insert(0, st.sampled_from(columns))
    return st.one_of(*options)


@functools.cache
def typed(kind: str, depth: int) -> Expr:
    """An expression meant to be of type ``kind``; now and then one of another type. Built
    once per (kind, depth): hypothesis then only draws from it."""
    if depth == 0:
        return leaf(kind)

    def sub(k: str) -> Expr:
        return typed(k, depth - 1)

    def fmt(template: str, *parts: Expr) -> Expr:
        return st.tuples(*parts).map(lambda values: template.format(*values))

    def per_type(make: Callable[[Expr], Expr]) -> Expr:
        return st.one_of(*(make(sub(k)) for k in TYPES))

    builders: list[Expr] = [leaf(kind), fmt("({})", sub(kind)), per_type(lambda e: e)]
    if kind == "boolean":
        builders += [
            per_type(lambda e: fmt("{} {} {}", e, st.sampled_from(COMPARISONS), e)),
            fmt("{} {} {}", sub("boolean"), st.sampled_from(["AND", "OR"]), sub("boolean")),
            fmt("NOT {}", sub("boolean")),
            per_type(lambda e: fmt("{} IS {}", e, st.sampled_from(IS_TARGETS))),
            per_type(lambda e: fmt("{} IN ({}, {})", e, e, e)),
            per_type(lambda e: fmt("{} NOT BETWEEN {} AND {}", e, e, e)),
            fmt("{} {} {}", sub("string"), st.sampled_from(LIKES), sub("string")),
        ]
    if kind in ("integer", "float"):
        builders += [
            fmt("{} {} {}", sub(kind), st.sampled_from(list("+-*/%")), sub(kind)),
            fmt("-{}", sub(kind)),
            fmt("abs({})", sub(kind)),
            fmt("round({}, {})", sub(kind), st.sampled_from(["0", "2", "-1", "1.5", "reopened"])),
        ]
    if kind == "string":
        builders += [fmt("lower({})", sub("string")), fmt("upper({})", sub("string"))]
    if kind == "interval":
        builders += [
            fmt("{} - {}", sub("timestamp"), sub("timestamp")),
            fmt("{} - {}", sub("date"), sub("date")),
            fmt("-{}", sub("interval")),
        ]
    if kind == "timestamp":
        builders += [fmt("{} {} {}", sub("timestamp"), st.sampled_from("+-"), sub("interval"))]
    builders += [
        fmt("coalesce({}, {})", sub(kind), sub(kind)),
        fmt("CASE WHEN {} THEN {} ELSE {} END", sub("boolean"), sub(kind), sub(kind)),
        fmt("CASE {} WHEN {} THEN {} END", sub("string"), sub("string"), sub(kind)),
        fmt("if({}, {}, {})", sub("boolean"), sub(kind), sub(kind)),
    ]
    return st.one_of(*builders)


COMPARISONS = ["=", "<>", "<", "<=", ">", ">="]
IS_TARGETS = ["NULL", "NOT NULL", "TRUE", "NOT FALSE"]
LIKES = ["LIKE", "ILIKE", "NOT LIKE"]
conditions = st.one_of(typed("boolean", 1), typed("boolean", 2), typed("boolean", 3))
values = st.one_of(typed("integer", 2), typed("float", 2))


def run(requests: ibis.Table, **fields: str) -> None:
    """Compute a measure with these fields over the rows, as a refresh would."""
    kind = "share" if "condition" in fields else "sum"
    measure = Measure.model_validate(
        {
            "id": "fuzzed",
            "title": "Fuzzed",
            "dataset": "service_requests",
            "kind": kind,
            "time": "created_at",
            "grain": "month",
            **fields,
        }
    )
    try:
        compute.expression(measure, requests).execute()
    except Exception as error:  # what the engine says, with the expression that got it there
        raise AssertionError(f"{fields} passed validate but does not compute: {error}") from error


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(condition=conditions)
def test_a_condition_that_passes_validate_computes(requests: ibis.Table, condition: str) -> None:
    if check(condition, COLUMNS):
        return
    run(requests, condition=condition, filter=condition)


@settings(
    max_examples=EXAMPLES // 3,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(value=values)
def test_a_value_that_passes_validate_computes(requests: ibis.Table, value: str) -> None:
    if check(value, COLUMNS, value=True):
        return
    run(requests, value=value)


SQLISH = st.text(alphabet=list("()-+*/%<>=!'\" ,.:;aAnNoOtTdD01239_\n"), max_size=60)
WORDS = st.lists(
    st.sampled_from([*COLUMNS, "NOT", "AND", "OR", "(", ")", "CASE", "WHEN", "THEN", "END",
                     "IN", "IS", "NULL", "-", "+", "1", "'x'", "=", "<", ",", "INTERVAL"]),
    max_size=40,
).map(" ".join)  # fmt: skip


@settings(max_examples=EXAMPLES * 2, deadline=None)
@given(text=SQLISH | WORDS | st.text(max_size=60))
def test_any_text_is_a_condition_or_a_reason(text: str) -> None:
    for as_value in (False, True):
        problems = check(text, COLUMNS, value=as_value)
        assert all(isinstance(p, str) and p for p in problems)
