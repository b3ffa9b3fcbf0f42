"""A backlog's refresh carries on from the items open when its first period began: for any
items, any first period and any grain it must give exactly what a full count gives.

The full count (items opened before each period end and not closed by then) is the
reference; it is itself checked by hand in ``test_kinds.py`` and on Baltimore's 311
requests in ``tests/real``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from civicstat.domain.periods import period_of
from civicstat.metrics import kinds
from civicstat.metrics.compute import expression, observations
from civicstat.spec.models import Measure

BASE = dt.datetime(2025, 11, 1)
ENV = kinds.Env(fiscal_start_month=7)


def backlog(grain: str, aging: list[int], breakdowns: list[str]) -> Measure:
    return Measure.model_validate(
        {
            "id": "open",
            "title": "Open",
            "dataset": "requests",
            "kind": "backlog",
            "start": "opened",
            "end": "closed",
            "grain": grain,
            "aging": aging,
            "breakdowns": breakdowns,
        }
    )


Key = tuple[dt.date, str]


def run(
    m: Measure,
    table: pa.Table,
    from_period: dt.date | None = None,
    opening: dict[str, float | None] | None = None,
) -> dict[Key, tuple[Any, ...]]:
    result = expression(m, ibis.memtable(table), ENV, from_period).to_pyarrow()
    return {
        (o.period_start, o.slice_key): (o.value, o.numerator, o.denominator, o.n)
        for o in observations(m, result, ENV, opening=opening)
    }


def refreshed_matches_full(m: Measure, table: pa.Table, since: dt.date) -> None:
    full = run(m, table)
    first = period_of(since, m.grain, ENV.fiscal_start_month)
    before = first.previous().start
    opening = {key: v[0] for (start, key), v in full.items() if start == before}
    part = run(m, table, first.start, opening)
    assert part == {k: v for k, v in full.items() if k[0] >= first.start}


item = st.tuples(
    st.integers(0, 200),  # opened, days after BASE
    st.integers(0, 23),  # hour opened
    st.one_of(st.none(), st.integers(-3, 120)),  # days open (negative: closed before opened)
    st.sampled_from(["roads", "parks", None]),
)


def as_table(items: list[tuple[int, int, int | None, str | None]], dates: bool) -> pa.Table:
    opened = [BASE + dt.timedelta(days=d, hours=h) for d, h, _, _ in items]
    closed = [
        None if c is None else o + dt.timedelta(days=c, minutes=7)
        for o, (_, _, c, _) in zip(opened, items, strict=True)
    ]
    if dates:
        opened = [o.date() for o in opened]  # type: ignore[misc]
        closed = [None if c is None else c.date() for c in closed]  # type: ignore[misc]
    kind = pa.date32() if dates else pa.timestamp("us")
    return pa.table(
        {
            "opened": pa.array(opened, kind),
            "closed": pa.array(closed, kind),
            "agency": pa.array([a for *_, a in items], pa.string()),
        }
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    items=st.lists(item, min_size=1, max_size=40),
    grain=st.sampled_from(["week", "month", "quarter", "fiscal_quarter"]),
    aging=st.sampled_from([[], [7], [7, 30], [10, 45, 90]]),
    breakdowns=st.sampled_from([[], ["agency"]]),
    since_days=st.integers(-40, 260),
    dates=st.booleans(),
)
def test_a_refresh_equals_a_full_count(
    items: list[tuple[int, int, int | None, str | None]],
    grain: str,
    aging: list[int],
    breakdowns: list[str],
    since_days: int,
    dates: bool,
) -> None:
    since = (BASE + dt.timedelta(days=since_days)).date()
    refreshed_matches_full(backlog(grain, aging, breakdowns), as_table(items, dates), since)


def test_items_still_open_from_long_ago_are_carried_not_reread() -> None:
    """Items opened long before and never closed count through the opening alone: the
    refresh's own rows hold none of them."""
    old = [(0, 9, None, "roads")] * 5 + [(3, 9, 100, "parks")]  # closed in mid-February
    recent = [(95, 9, 2, "roads"), (100, 9, None, "parks")]
    m = backlog("month", [30], ["agency"])
    table = as_table(old + recent, dates=False)
    refreshed_matches_full(m, table, dt.date(2026, 2, 1))
    result = expression(m, ibis.memtable(table), ENV, dt.date(2026, 2, 1)).to_pyarrow()
    february = [
        r for r in result.to_pylist() if r["_period"] == dt.date(2026, 2, 1) and r["_carry"]
    ]
    # Opened since Feb 1: the Feb 4 item (closed Feb 6) is not open at the end; the Feb 9
    # one is (+1); the Jan 4 item closed on Feb 12 (-1). The five from November: no change.
    assert {(r["dim"], r["dim_value"]): r["n"] for r in february} == {
        ("", None): 0,
        ("agency", "parks"): 0,
    }
    got = run(m, table, dt.date(2026, 2, 1), {"": 6, "agency=roads": 5, "agency=parks": 1})
    assert got[(dt.date(2026, 2, 1), "")][0] == 6
    assert got[(dt.date(2026, 2, 1), "age=0-30")][0] == 1
    assert got[(dt.date(2026, 2, 1), "age=over 30")][0] == 5


def test_a_refresh_without_its_opening_is_refused() -> None:
    m = backlog("month", [], [])
    table = as_table([(0, 9, None, None)], dates=False)
    result = expression(m, ibis.memtable(table), ENV, dt.date(2025, 12, 1)).to_pyarrow()
    with pytest.raises(ValueError, match="needs the items open"):
        list(observations(m, result, ENV))


def test_an_opening_that_does_not_fit_the_data_is_refused() -> None:
    m = backlog("month", [], [])
    table = as_table([(0, 9, 40, None)], dates=False)  # closed in December
    result = expression(m, ibis.memtable(table), ENV, dt.date(2025, 12, 1)).to_pyarrow()
    with pytest.raises(ValueError, match="fewer than no items"):
        list(observations(m, result, ENV, opening={}))
