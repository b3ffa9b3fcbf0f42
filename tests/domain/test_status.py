"""Status against a target: pure rules, checked as properties over many values."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from civicstat.domain.targets import Direction, Status, Target, evaluate

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
