"""Every measure kind over small tables whose answers are worked out by hand."""

from __future__ import annotations

import datetime as dt
import statistics
from typing import Any

import ibis
import numpy as np
import pyarrow as pa
import pytest

from civicstat.domain.calendars import BusinessCalendar
from civicstat.domain.observations import ObservationRow
from civicstat.metrics import composite, kinds
from civicstat.metrics.compute import added_to, expression, observations
from civicstat.spec import language
from civicstat.spec.models import Measure

Result = dict[tuple[str, str], tuple[Any, ...]]


def ts(month: int, day: int, hour: int = 12, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, second)


CALLS = pa.table(
    {
        "received_at": [ts(1, 5), ts(1, 20), ts(1, 31, 23), ts(2, 1), ts(2, 2), ts(2, 27), None],
        "answered_at": [
            ts(1, 5, 12, 0, 4),
            ts(1, 20, 12, 0, 30),
            ts(2, 1, 0, 0, 10),
            ts(2, 1, 12, 1),
            None,
            ts(2, 27, 12, 0, 8),
            ts(3, 1),
        ],
        "seconds": [4.0, 30.0, 3610.0, 60.0, None, 8.0, 1.0],
        "district": ["North", "South", "North", "North", "South", None, "North"],
        "caller": ["a", "b", "a", "c", "c", "d", "e"],
    }
)


def measure(**fields: Any) -> Measure:
    base: dict[str, Any] = {"id": "m", "title": "M", "dataset": "calls", "time": "received_at"}
    return Measure.model_validate(base | fields)


def run(m: Measure, table: pa.Table = CALLS, env: kinds.Env | None = None, **kw: Any) -> Result:
    result = expression(m, ibis.memtable(table), env, **kw).to_pyarrow()
    return {
        (o.period_start.isoformat(), o.slice_key): (o.value, o.numerator, o.denominator, o.n)
        for o in observations(m, result, env)
    }


def values(result: Result) -> dict[tuple[str, str], Any]:
    return {k: v[0] for k, v in result.items()}


def test_count_by_month_with_breakdown_and_total() -> None:
    got = values(run(measure(kind="count", breakdowns=["district"])))
    assert got == {
        ("2026-01-01", ""): 3,
        ("2026-01-01", "district=North"): 2,
        ("2026-01-01", "district=South"): 1,
        ("2026-02-01", ""): 3,
        ("2026-02-01", "district=North"): 1,
        ("2026-02-01", "district=South"): 1,
        ("2026-02-01", "district=(blank)"): 1,
    }


def test_distinct_count_counts_each_value_once() -> None:
    got = values(run(measure(kind="distinct_count", value="caller")))
    assert got == {("2026-01-01", ""): 2, ("2026-02-01", ""): 2}


def test_sum_and_mean_skip_missing_values() -> None:
    assert values(run(measure(kind="sum", value="seconds"))) == {
        ("2026-01-01", ""): 4 + 30 + 3610,
        ("2026-02-01", ""): 68,
    }
    mean = run(measure(kind="mean", value="seconds"))
    assert mean[("2026-02-01", "")] == (34.0, 68.0, 2.0, 2)  # the missing value is not counted


def test_median_and_percentile_interpolate_like_percentile_cont() -> None:
    january = [4.0, 30.0, 3610.0]
    assert values(run(measure(kind="median", value="seconds")))[("2026-01-01", "")] == 30.0
    p90 = values(run(measure(kind="percentile", value="seconds", percentile=90)))
    expected = float(np.percentile(january, 90))  # linear interpolation, as PERCENTILE_CONT
    assert p90[("2026-01-01", "")] == pytest.approx(expected, rel=1e-12)
    assert p90[("2026-02-01", "")] == pytest.approx(float(np.percentile([60.0, 8.0], 90)))


def test_share_of_rows_meeting_a_condition() -> None:
    got = run(measure(kind="share", condition="seconds <= 10"))
    assert got[("2026-01-01", "")] == (100 / 3, 1, 3, 3)
    assert got[("2026-02-01", "")] == (100 / 3, 1, 3, 3)  # NULL seconds does not meet it


def test_latest_takes_the_value_of_the_last_row_in_time() -> None:
    got = values(run(measure(kind="latest", value="seconds")))
    assert got == {("2026-01-01", ""): 3610.0, ("2026-02-01", ""): 8.0}


def test_duration_between_two_timestamps_in_each_unit() -> None:
    seconds = values(run(measure(kind="duration", start="received_at", end="answered_at")))
    assert seconds[("2026-01-01", "")] == 30.0  # median of 4, 30, 43210 s
    minutes = values(
        run(
            measure(
                kind="duration",
                start="received_at",
                end="answered_at",
                unit="minutes",
                statistic="mean",
            )
        )
    )
    jan = [4, 30, (ts(2, 1, 0, 0, 10) - ts(1, 31, 23)).total_seconds()]
    assert minutes[("2026-01-01", "")] == pytest.approx(statistics.mean(jan) / 60, rel=1e-12)
    p = values(
        run(
            measure(
                kind="duration",
                start="received_at",
                end="answered_at",
                statistic="percentile",
                percentile=75,
                unit="hours",
            )
        )
    )
    assert p[("2026-02-01", "")] == pytest.approx(float(np.percentile([60, 8], 75)) / 3600)


PERMITS = pa.table(
    {
        "applied": [dt.date(2024, 7, 1), dt.date(2024, 7, 3), dt.date(2024, 11, 27), None],
        "issued": [dt.date(2024, 7, 8), dt.date(2024, 7, 5), dt.date(2024, 12, 2), None],
        "kind": ["fence", "deck", "fence", "deck"],
    }
)


def test_duration_in_business_days_skips_weekends_and_holidays() -> None:
    calendar = BusinessCalendar("US")
    m = measure(
        kind="duration",
        dataset="permits",
        time="applied",
        start="applied",
        end="issued",
        unit="business_days",
        statistic="mean",
        grain="quarter",
    )
    got = run(m, PERMITS, kinds.Env(calendar=calendar))
    holidays = calendar.holidays_in(2024, 2024)
    by_hand = [
        int(np.busday_count(a, b, holidays=holidays))
        for a, b in [("2024-07-01", "2024-07-08"), ("2024-07-03", "2024-07-05")]
    ]
    assert by_hand == [4, 1]  # July 4th is a holiday
    assert got[("2024-07-01", "")][0] == statistics.mean(by_hand)
    # Thanksgiving (Nov 28) and the weekend: Nov 27, 29 and Dec 2 minus the end day.
    assert got[("2024-10-01", "")][0] == np.busday_count(
        "2024-11-27", "2024-12-02", holidays=holidays
    )


def test_fiscal_quarters_and_years_start_in_the_workspace_month() -> None:
    env = kinds.Env(fiscal_start_month=7)
    fy = values(run(measure(kind="count", time="applied", grain="fiscal_year"), PERMITS, env))
    assert fy == {("2024-07-01", ""): 3}
    fq = values(run(measure(kind="count", time="applied", grain="fiscal_quarter"), PERMITS, env))
    assert fq == {("2024-07-01", ""): 2, ("2024-10-01", ""): 1}
    env = kinds.Env(fiscal_start_month=8)  # quarters Aug-Oct, Nov-Jan, Feb-Apr, May-Jul
    fq = values(run(measure(kind="count", time="applied", grain="fiscal_quarter"), PERMITS, env))
    assert fq == {("2024-05-01", ""): 2, ("2024-11-01", ""): 1}


def test_rate_per_population_number() -> None:
    got = run(measure(kind="rate", per=100_000, population=250_000))
    assert got[("2026-01-01", "")] == (3 * 100_000 / 250_000, 3, 250_000, 3)


def test_trailing_window_aggregates_the_last_n_periods() -> None:
    rolling = values(run(measure(kind="count", window={"trailing": 2})))
    # January holds 3 rows, February 3: February's two-month window holds all 6, and March
    # (no rows of its own, but inside the data's range? no: the range ends in February).
    assert rolling == {("2026-01-01", ""): 3, ("2026-02-01", ""): 6}
    median = values(run(measure(kind="median", value="seconds", window={"trailing": 2})))
    assert median[("2026-02-01", "")] == statistics.median([4.0, 30.0, 3610.0, 60.0, 8.0])


def test_to_date_window_restarts_each_fiscal_year() -> None:
    table = pa.table(
        {
            "day": [
                dt.date(2025, 5, 1),
                dt.date(2025, 6, 1),
                dt.date(2025, 7, 1),
                dt.date(2025, 8, 1),
            ]
        }
    )
    m = measure(kind="count", time="day", window={"to_date": "fiscal_year"})
    got = values(run(m, table, kinds.Env(fiscal_start_month=7)))
    assert got == {
        ("2025-05-01", ""): 1,
        ("2025-06-01", ""): 2,
        ("2025-07-01", ""): 1,  # a new fiscal year
        ("2025-08-01", ""): 2,
    }


def test_incremental_window_recomputes_from_a_period_with_its_earlier_rows() -> None:
    full = run(measure(kind="count", window={"trailing": 2}))
    part = run(measure(kind="count", window={"trailing": 2}), from_period=dt.date(2026, 2, 1))
    assert part == {k: v for k, v in full.items() if k[0] >= "2026-02-01"}


REQUESTS = pa.table(
    {
        "opened": [ts(1, 10), ts(1, 20), ts(2, 5), ts(2, 10), ts(3, 10)],
        "closed": [ts(1, 25), ts(3, 5), None, ts(2, 28, 23), None],
        "agency": ["roads", "parks", "roads", "roads", "parks"],
    }
)


def test_backlog_counts_items_open_at_each_period_end_with_aging() -> None:
    m = measure(
        kind="backlog",
        dataset="requests",
        time=None,
        start="opened",
        end="closed",
        breakdowns=["agency"],
        aging=[30],
    )
    got = values(run(m, REQUESTS))
    # End of January (Feb 1 00:00): the Jan 20 item. End of February: Jan 20 (40 days)
    # and Feb 5 (24 days). End of March: Feb 5 (55 days) and Mar 10 (22 days); Jan 20
    # closed on Mar 5.
    assert got == {
        ("2026-01-01", ""): 1,
        ("2026-01-01", "agency=parks"): 1,
        ("2026-01-01", "age=0-30"): 1,
        ("2026-02-01", ""): 2,
        ("2026-02-01", "agency=parks"): 1,
        ("2026-02-01", "agency=roads"): 1,
        ("2026-02-01", "age=0-30"): 1,
        ("2026-02-01", "age=over 30"): 1,
        ("2026-03-01", ""): 2,
        ("2026-03-01", "agency=roads"): 1,
        ("2026-03-01", "agency=parks"): 1,
        ("2026-03-01", "age=0-30"): 1,
        ("2026-03-01", "age=over 30"): 1,
    }


def obs(period: str, value: float | None, key: str = "", n: int = 1) -> ObservationRow:
    start = dt.date.fromisoformat(period)
    return ObservationRow(start, start, key, value, None, None, n)


def test_ratio_divides_matching_periods_and_slices() -> None:
    m = measure(
        kind="ratio", dataset=None, time=None, numerator="a", denominator="b", unit="percent"
    )
    got = composite.ratio(
        m,
        [obs("2026-01-01", 5), obs("2026-02-01", 1), obs("2026-03-01", 2)],
        [obs("2026-01-01", 20), obs("2026-02-01", 0)],
    )
    assert [(str(r.period_start), r.value) for r in got] == [
        ("2026-01-01", 25.0),
        ("2026-02-01", None),  # division by zero has no value
    ]


def test_derived_evaluates_arithmetic_over_named_inputs() -> None:
    m = measure(
        kind="derived",
        dataset=None,
        time=None,
        inputs={"now": "x", "before": "y"},
        expression="(now - before) / before * 100",
    )
    got = composite.derived(
        m,
        {"now": [obs("2026-01-01", 110), obs("2026-02-01", 5)], "before": [obs("2026-01-01", 100)]},
    )
    assert [(str(r.period_start), r.value) for r in got] == [("2026-01-01", pytest.approx(10.0))]


@pytest.mark.parametrize(
    ("sql", "problem"),
    [
        ("a + (SELECT 1)", "subquery"),
        ("a + 1; DROP TABLE t", "';'"),
        ("read_csv('x') + a", "read_csv"),
        ("a /* hi */ + b", "comments"),
        ("a > b", "condition"),
        ("a + c", "'c' is not one of the inputs"),
    ],
)
def test_derived_expression_rejects_anything_but_arithmetic(sql: str, problem: str) -> None:
    problems = language.check_arithmetic(sql, ["a", "b"])
    assert any(problem.lower() in p.lower() for p in problems), problems


def test_every_builtin_kind_is_registered_through_entry_points() -> None:
    assert set(kinds.available()) >= {
        "count", "distinct_count", "sum", "mean", "median", "percentile", "share", "ratio",
        "rate", "duration", "backlog", "cumulative", "derived", "latest",
    }  # fmt: skip


def test_added_to_adds_the_appended_rows_aggregates_to_the_stored_ones() -> None:
    """Stored February: 2 North calls costing 10 in all, 1 South call costing 4. Appended:
    a North call without a cost and a call with no district. North's sum stays 10 though
    the appended group's own sum is NULL; South, with nothing appended, is kept as it was."""
    feb, end = dt.date(2026, 2, 1), dt.date(2026, 2, 28)
    stored = [
        ObservationRow(feb, end, "", 14.0, None, None, 3),
        ObservationRow(feb, end, "district=North", 10.0, None, None, 2),
        ObservationRow(feb, end, "district=South", 4.0, None, None, 1),
    ]
    appended = pa.table(
        {
            "received_at": [ts(2, 20), ts(2, 21)],
            "cost": pa.array([None, 2.5], pa.float64()),
            "district": ["North", None],
        }
    )
    m = measure(kind="sum", value="cost", breakdowns=["district"])
    result = expression(m, ibis.memtable(appended), None, feb).to_pyarrow()
    got = {(o.period_start, o.slice_key): (o.value, o.n) for o in added_to(m, stored, result)}
    assert got == {
        (feb, ""): (16.5, 4),
        (feb, "district=North"): (10.0, 2),
        (feb, "district=South"): (4.0, 1),
        (feb, "district=(blank)"): (2.5, 1),
    }
    share = measure(kind="share", condition="cost > 1", breakdowns=["district"])
    stored_share = [ObservationRow(feb, end, "", 50.0, 1.0, 2.0, 2)]
    result = expression(share, ibis.memtable(appended), None, feb).to_pyarrow()
    total = next(o for o in added_to(share, stored_share, result) if o.slice_key == "")
    assert (total.value, total.numerator, total.denominator, total.n) == (50.0, 2.0, 4.0, 4)
    with pytest.raises(ValueError, match="do not add up"):
        list(added_to(measure(kind="median", value="cost"), stored, result))
