"""Status against a target: pure rules, checked as properties over many values."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from civicstat.domain.periods import Grain, period_of
from civicstat.domain.targets import (
    Direction,
    PeriodTargets,
    Status,
    Target,
    Trajectory,
    evaluate,
    evaluate_for,
    target_for,
)

finite = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False)
bands = st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False)
directions = st.sampled_from(list(Direction))
RANK = {Status.ON_TARGET: 0, Status.NEAR_TARGET: 1, Status.OFF_TARGET: 2}


def test_worked_example_from_the_design() -> None:
    # Answer 90% of 911 calls within 10 s, warning band 5 points.
    target = Target(90, Direction.HIGHER_IS_BETTER, 5)
    assert evaluate(92.3, target) is Status.ON_TARGET
    assert evaluate(90.0, target) is Status.ON_TARGET
    assert evaluate(85.0, target) is Status.NEAR_TARGET
    assert evaluate(84.99, target) is Status.OFF_TARGET
    assert evaluate(None, target) is Status.NO_DATA


def test_lower_is_better_example() -> None:
    # Issue permits within 15 business days on average, band 2 days.
    target = Target(15, Direction.LOWER_IS_BETTER, 2)
    assert evaluate(14, target) is Status.ON_TARGET
    assert evaluate(17, target) is Status.NEAR_TARGET
    assert evaluate(17.5, target) is Status.OFF_TARGET


@given(value=finite, goal=finite, band=bands, direction=directions)
def test_meeting_the_target_exactly_is_on_target(
    value: float, goal: float, band: float, direction: Direction
) -> None:
    assert evaluate(goal, Target(goal, direction, band)) is Status.ON_TARGET


@given(a=finite, b=finite, goal=finite, band=bands, direction=directions)
def test_a_better_value_never_has_a_worse_status(
    a: float, b: float, goal: float, band: float, direction: Direction
) -> None:
    target = Target(goal, direction, band)
    better, worse = (
        (max(a, b), min(a, b))
        if direction is Direction.HIGHER_IS_BETTER
        else (min(a, b), max(a, b))
    )
    assert RANK[evaluate(better, target)] <= RANK[evaluate(worse, target)]


@given(value=finite, goal=finite, direction=directions)
def test_without_a_band_nothing_is_near(value: float, goal: float, direction: Direction) -> None:
    assert evaluate(value, Target(goal, direction, 0)) is not Status.NEAR_TARGET


@given(value=finite, goal=finite, band=bands)
def test_directions_mirror_each_other(value: float, goal: float, band: float) -> None:
    higher = evaluate(value, Target(goal, Direction.HIGHER_IS_BETTER, band))
    lower = evaluate(-value, Target(-goal, Direction.LOWER_IS_BETTER, band))
    assert higher is lower


@given(
    goal=finite,
    band=bands,
    direction=directions,
    value=st.sampled_from([math.nan, math.inf, -math.inf]),
)
def test_non_finite_values_have_no_data(
    goal: float, band: float, direction: Direction, value: float
) -> None:
    assert evaluate(value, Target(goal, direction, band)) is Status.NO_DATA


@pytest.mark.parametrize("band", [-1.0, math.nan, math.inf])
def test_a_target_refuses_a_nonsense_band(band: float) -> None:
    with pytest.raises(ValueError, match="warning band"):
        Target(90, Direction.HIGHER_IS_BETTER, band)


def test_statuses_run_from_best_to_worst_with_stale_before_no_data() -> None:
    assert list(Status) == [
        Status.ON_TARGET,
        Status.NEAR_TARGET,
        Status.OFF_TARGET,
        Status.STALE,
        Status.NO_DATA,
    ]


@given(value=finite, goal=finite, band=bands, direction=directions)
def test_a_stale_value_is_never_shown_as_on_target(
    value: float, goal: float, band: float, direction: Direction
) -> None:
    assert evaluate(value, Target(goal, direction, band), stale=True) is Status.STALE


def test_stale_without_a_value_is_still_no_data() -> None:
    target = Target(90, Direction.HIGHER_IS_BETTER)
    assert evaluate(None, target, stale=True) is Status.NO_DATA
    assert evaluate(math.nan, target, stale=True) is Status.NO_DATA
    assert evaluate(95, target, stale=False) is Status.ON_TARGET


MARCH_2025 = period_of(dt.date(2025, 3, 1), Grain.MONTH)


def test_a_fixed_target_applies_to_every_period() -> None:
    target = Target(90, Direction.HIGHER_IS_BETTER, 5)
    assert target_for(target, MARCH_2025) == target
    assert evaluate_for(86, target, MARCH_2025) is Status.NEAR_TARGET


def test_period_targets_are_looked_up_by_label() -> None:
    schedule = PeriodTargets({"FY2026": 120, "2025-Q1": 100}, Direction.LOWER_IS_BETTER, 10)
    fy2026 = period_of(dt.date(2026, 2, 1), Grain.FISCAL_YEAR, 7)
    q1 = period_of(dt.date(2025, 2, 1), Grain.QUARTER)
    assert target_for(schedule, fy2026) == Target(120, Direction.LOWER_IS_BETTER, 10)
    assert target_for(schedule, q1) == Target(100, Direction.LOWER_IS_BETTER, 10)
    assert evaluate_for(125, schedule, fy2026) is Status.NEAR_TARGET
    assert evaluate_for(111, schedule, q1) is Status.OFF_TARGET


def test_a_period_without_a_target_has_no_data_even_with_a_value() -> None:
    schedule = PeriodTargets({"2025-Q1": 100}, Direction.HIGHER_IS_BETTER)
    q2 = period_of(dt.date(2025, 5, 1), Grain.QUARTER)
    assert target_for(schedule, q2) is None
    assert evaluate_for(150, schedule, q2) is Status.NO_DATA
    assert evaluate_for(150, schedule, q2, stale=True) is Status.NO_DATA


def test_period_targets_keep_their_own_copy() -> None:
    values = {"2025-03": 10.0}
    schedule = PeriodTargets(values, Direction.HIGHER_IS_BETTER)
    values["2025-03"] = 99.0
    assert target_for(schedule, MARCH_2025) == Target(10.0, Direction.HIGHER_IS_BETTER)


def test_period_targets_refuse_non_finite_values() -> None:
    with pytest.raises(ValueError, match="'2025-Q1'"):
        PeriodTargets({"2025-Q1": math.nan}, Direction.HIGHER_IS_BETTER)
    with pytest.raises(ValueError, match="warning band"):
        PeriodTargets({"2025-Q1": 1.0}, Direction.HIGHER_IS_BETTER, -1)


# Cut response time from 12 minutes (end of 2024) to 8 minutes (end of 2026).
TRAJECTORY = Trajectory(
    dt.date(2024, 12, 31), 12.0, dt.date(2026, 12, 31), 8.0, Direction.LOWER_IS_BETTER, 0.5
)


def _target_value(day: dt.date, grain: Grain) -> float:
    target = target_for(TRAJECTORY, period_of(day, grain))
    assert target is not None
    return target.value


def test_a_trajectory_is_read_on_the_last_day_of_the_period() -> None:
    assert _target_value(dt.date(2024, 6, 1), Grain.YEAR) == 12.0  # ends on the baseline
    assert _target_value(dt.date(2026, 6, 1), Grain.YEAR) == 8.0  # ends on the goal
    # 2025 ends 365 of 730 days in: halfway.
    assert _target_value(dt.date(2025, 6, 1), Grain.YEAR) == pytest.approx(10.0)
    # January 2025 ends 31 days in.
    assert _target_value(dt.date(2025, 1, 1), Grain.MONTH) == pytest.approx(12 - 4 * 31 / 730)


def test_a_trajectory_is_flat_outside_its_dates() -> None:
    assert _target_value(dt.date(2020, 3, 1), Grain.MONTH) == 12.0
    assert _target_value(dt.date(2031, 3, 1), Grain.MONTH) == 8.0
    assert evaluate_for(8.4, TRAJECTORY, period_of(dt.date(2031, 3, 1), Grain.MONTH)) is (
        Status.NEAR_TARGET
    )


@given(a=st.dates(), b=st.dates())
def test_a_trajectory_moves_monotonically_between_baseline_and_goal(a: dt.date, b: dt.date) -> None:
    early, late = sorted([a, b])
    assert 8.0 <= TRAJECTORY.value_on(late) <= TRAJECTORY.value_on(early) <= 12.0


@pytest.mark.parametrize("goal_date", [dt.date(2024, 12, 31), dt.date(2024, 1, 1)])
def test_a_trajectory_must_end_after_it_starts(goal_date: dt.date) -> None:
    with pytest.raises(ValueError, match="goal date must be after baseline date"):
        Trajectory(dt.date(2024, 12, 31), 12, goal_date, 8, Direction.LOWER_IS_BETTER)


@pytest.mark.parametrize(("baseline", "goal"), [(math.nan, 8.0), (12.0, math.inf)])
def test_a_trajectory_refuses_non_finite_values(baseline: float, goal: float) -> None:
    with pytest.raises(ValueError, match="must be a finite number"):
        Trajectory(
            dt.date(2024, 1, 1), baseline, dt.date(2025, 1, 1), goal, Direction.LOWER_IS_BETTER
        )
