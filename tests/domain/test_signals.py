"""Reading a series: change, XmR process behaviour charts, and end-of-period projections."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from civicstat.domain.periods import Grain, period_of
from civicstat.domain.signals import Change, Signal, change, elapsed_fraction, project, xmr


def test_change_is_absolute_and_relative_to_the_previous_value() -> None:
    assert change(120.0, 100.0) == Change(20.0, 0.2)
    assert change(80.0, 100.0) == Change(-20.0, -0.2)


def test_change_from_a_negative_base_keeps_the_sign_of_the_move() -> None:
    assert change(-50.0, -100.0) == Change(50.0, 0.5)


def test_change_from_zero_has_no_relative_change() -> None:
    assert change(5.0, 0.0) == Change(5.0, None)


@pytest.mark.parametrize(("current", "previous"), [(None, 1.0), (1.0, None), (math.nan, 1.0)])
def test_change_needs_both_values(current: float | None, previous: float | None) -> None:
    assert change(current, previous) is None


# Calls answered late per week. The first five weeks set the limits:
# mean 7, moving ranges 2, 1, 3, 1 -> average 1.75,
# limits 7 +/- 2.66 * 1.75 = 2.345 .. 11.655, moving range limit 3.268 * 1.75 = 5.719.
WEEKS = [5, 7, 6, 9, 8, 6, 12, 8, 8, 9, 8, 10, 8, 9, 8, 9, 7, 2]


def test_xmr_limits_match_the_hand_worked_chart() -> None:
    chart = xmr(WEEKS, baseline=5)
    assert chart.centre == pytest.approx(7.0)
    assert chart.average_moving_range == pytest.approx(1.75)
    assert chart.upper == pytest.approx(11.655)
    assert chart.lower == pytest.approx(2.345)
    assert chart.moving_range_upper == pytest.approx(5.719)


def test_xmr_flags_points_beyond_limits_and_long_runs() -> None:
    chart = xmr(WEEKS, baseline=5)
    # 12 (week 6) and 2 (week 17) fall outside the limits. Weeks 6-15 are ten in a row
    # above the centre of 7, so weeks 13, 14 and 15 are the 8th, 9th and 10th of the run;
    # week 16 sits exactly on the centre and ends it.
    assert chart.signals == [
        Signal(6, "beyond_limits"),
        Signal(13, "run_of_8"),
        Signal(14, "run_of_8"),
        Signal(15, "run_of_8"),
        Signal(17, "beyond_limits"),
    ]


def test_xmr_uses_every_point_without_a_baseline() -> None:
    chart = xmr([1.0, 3.0])
    assert (chart.centre, chart.average_moving_range) == (2.0, 2.0)
    assert chart.upper == pytest.approx(2 + 5.32)
    assert chart.lower == pytest.approx(2 - 5.32)
    assert chart.signals == []


def test_a_point_on_the_centre_line_breaks_a_run() -> None:
    values = [1.0, -1.0] + [1.0] * 7 + [0.0] + [1.0] * 7
    chart = xmr(values, baseline=2)  # centre 0, limits 0 +/- 5.32
    assert chart.centre == 0.0
    assert chart.signals == []
    assert xmr([*values, 1.0], baseline=2).signals == [Signal(17, "run_of_8")]


def test_runs_below_the_centre_count_too() -> None:
    # The baseline's own -1.0 starts the run, so the 8th point below is index 8.
    chart = xmr([1.0, -1.0] + [-0.5] * 8, baseline=2)
    assert chart.signals == [Signal(8, "run_of_8"), Signal(9, "run_of_8")]


def test_a_flat_series_has_no_signals() -> None:
    chart = xmr([4.0] * 12)
    assert (chart.upper, chart.lower, chart.moving_range_upper) == (4.0, 4.0, 0.0)
    assert chart.signals == []


@pytest.mark.parametrize(
    ("values", "baseline", "message"),
    [
        ([], None, "at least 2 values"),
        ([3.0], None, "at least 2 values"),
        ([1.0, 2.0, 3.0], 1, "baseline"),
        ([1.0, 2.0, 3.0], 4, "baseline"),
        ([1.0, math.nan], None, "finite"),
    ],
)
def test_xmr_refuses_too_little_or_bad_data(
    values: list[float], baseline: int | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        xmr(values, baseline=baseline)


def _reference_signals(values: list[float], centre: float, lo: float, hi: float) -> set[Signal]:
    """A slow, obvious restatement of the two rules."""
    found = {Signal(i, "beyond_limits") for i, v in enumerate(values) if v > hi or v < lo}
    for i in range(7, len(values)):
        window = values[i - 7 : i + 1]
        if all(v > centre for v in window) or all(v < centre for v in window):
            found.add(Signal(i, "run_of_8"))
    return found


@given(
    values=st.lists(st.integers(-20, 20).map(float), min_size=2, max_size=60),
    data=st.data(),
)
def test_xmr_signals_match_the_rules_as_written(values: list[float], data: st.DataObject) -> None:
    baseline = data.draw(st.none() | st.integers(2, len(values)))
    chart = xmr(values, baseline=baseline)
    base = values if baseline is None else values[:baseline]
    assert chart.centre == pytest.approx(sum(base) / len(base))
    assert chart.upper - chart.centre == pytest.approx(chart.centre - chart.lower)
    assert chart.signals == sorted(chart.signals, key=lambda s: (s.index, s.rule))
    assert set(chart.signals) == _reference_signals(values, chart.centre, chart.lower, chart.upper)


def test_projection_of_a_count_scales_with_time() -> None:
    # 300 permits in the first 10 days of a 30-day month: on pace for 900.
    assert project(300, elapsed=10, total=30, additive=True) == 900
    assert project(300, elapsed=30, total=30, additive=True) == 300


def test_projection_of_a_share_is_the_value_itself() -> None:
    assert project(0.82, elapsed=10, total=30, additive=False) == 0.82


@pytest.mark.parametrize(("elapsed", "total"), [(0, 30), (-1, 30), (31, 30), (math.nan, 30)])
def test_projection_needs_elapsed_time_within_the_period(elapsed: float, total: float) -> None:
    with pytest.raises(ValueError, match="elapsed"):
        project(10, elapsed=elapsed, total=total, additive=True)


@given(
    value=st.floats(0, 1e9),
    elapsed=st.integers(1, 366),
    extra=st.integers(0, 366),
)
def test_an_additive_projection_is_never_below_the_value_so_far(
    value: float, elapsed: int, extra: int
) -> None:
    projected = project(value, elapsed=elapsed, total=elapsed + extra, additive=True)
    assert projected >= value * (1 - 1e-12)


MARCH = period_of(dt.date(2025, 3, 1), Grain.MONTH)


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        (dt.date(2025, 3, 1), (1, 31)),
        (dt.date(2025, 3, 10), (10, 31)),
        (dt.date(2025, 3, 31), (31, 31)),
        (dt.date(2025, 4, 15), (31, 31)),
        (dt.date(2025, 2, 28), (0, 31)),
    ],
)
def test_elapsed_days_count_the_as_of_day_and_stay_in_the_period(
    as_of: dt.date, expected: tuple[int, int]
) -> None:
    assert elapsed_fraction(MARCH, as_of) == expected
