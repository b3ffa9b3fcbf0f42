"""How a page says a measure moved: the size and sign of the change in the measure's unit,
and, when the objective says which way is better, whether it moved for the better.

Every expectation is written out: none is built with the formatter under test.
"""

from __future__ import annotations

from typing import get_args

import pytest

from civicstat.spec.models import MeasureUnit
from civicstat.web.figures import change, value

HIGHER = "higher_is_better"
LOWER = "lower_is_better"

# unit → (a rise, as the page says it; a fall, as the page says it), without a direction.
RISE_AND_FALL: dict[str, tuple[float, str, str]] = {
    "percent": (3.2, "+3.2 pts", "−3.2 pts"),
    "count": (1250, "+1,250", "−1,250"),
    "number": (12.34, "+12.3", "−12.3"),
    "currency": (1250.4, "+$1,250", "−$1,250"),
    "rate": (4.56, "+4.6", "−4.6"),
    "seconds": (30, "+30.0 s", "−30.0 s"),
    "minutes": (2.5, "+2.5 min", "−2.5 min"),
    "hours": (4, "+4.0 h", "−4.0 h"),
    "days": (0.4, "+0.4 days", "−0.4 days"),
    "business_days": (1.5, "+1.5 business days", "−1.5 business days"),
}


def test_every_unit_a_measure_may_have_is_covered() -> None:
    assert set(RISE_AND_FALL) == set(get_args(MeasureUnit))


@pytest.mark.parametrize("unit", list(RISE_AND_FALL))
def test_a_rise_is_better_where_higher_is_better_and_worse_where_lower_is(unit: str) -> None:
    size, rise, _ = RISE_AND_FALL[unit]

    assert change(size, unit, HIGHER) == f"{rise}, better"
    assert change(size, unit, LOWER) == f"{rise}, worse"
    assert change(size, unit, None) == rise  # no objective: no judgement


@pytest.mark.parametrize("unit", list(RISE_AND_FALL))
def test_a_fall_is_worse_where_higher_is_better_and_better_where_lower_is(unit: str) -> None:
    size, _, fall = RISE_AND_FALL[unit]

    assert change(-size, unit, HIGHER) == f"{fall}, worse"
    assert change(-size, unit, LOWER) == f"{fall}, better"
    assert change(-size, unit, None) == fall


@pytest.mark.parametrize(
    ("number", "unit"),
    [(0.0, "percent"), (0.04, "percent"), (-0.04, "days"), (0.4, "count"), (-0.49, "currency")],
)
@pytest.mark.parametrize("direction", [HIGHER, LOWER, None])
def test_a_change_too_small_to_show_is_no_change_neither_better_nor_worse(
    number: float, unit: str, direction: str | None
) -> None:
    assert change(number, unit, direction) == "no change"


def test_no_previous_value_is_a_dash() -> None:
    assert change(None, "percent", HIGHER) == "—"


@pytest.mark.parametrize(
    ("number", "unit", "shown"),
    [
        (85.24, "percent", "85.2%"),
        (1234, "count", "1,234"),
        (12500.4, "currency", "$12,500"),
        (3.45, "days", "3.5 days"),
        (None, "percent", "—"),
        (float("nan"), "count", "—"),
    ],
)
def test_a_value_is_written_the_way_people_read_it(
    number: float | None, unit: str, shown: str
) -> None:
    assert value(number, unit) == shown
