"""Reporting periods: every day falls in exactly one period of each grain."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from civicstat.domain.periods import Grain, period_of

days = st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2100, 12, 31))


@given(day=days, grain=st.sampled_from(list(Grain)))
def test_a_day_lies_in_its_period_and_periods_tile(day: dt.date, grain: Grain) -> None:
    period = period_of(day, grain)
    assert period.contains(day)
    assert period_of(period.start, grain) == period
    assert (
        period_of(period.end, grain).start == period.end
    )  # the next period starts where this ends
    assert period_of(period.end - dt.timedelta(days=1), grain) == period


@pytest.mark.parametrize(
    ("day", "grain", "label", "start", "end"),
    [
        (dt.date(2024, 2, 29), Grain.MONTH, "2024-02", dt.date(2024, 2, 1), dt.date(2024, 3, 1)),
        (dt.date(2024, 12, 31), Grain.MONTH, "2024-12", dt.date(2024, 12, 1), dt.date(2025, 1, 1)),
        (
            dt.date(2024, 11, 15),
            Grain.QUARTER,
            "2024-Q4",
            dt.date(2024, 10, 1),
            dt.date(2025, 1, 1),
        ),
        (dt.date(2025, 1, 1), Grain.WEEK, "2025-W01", dt.date(2024, 12, 30), dt.date(2025, 1, 6)),
        (dt.date(2025, 8, 24), Grain.DAY, "2025-08-24", dt.date(2025, 8, 24), dt.date(2025, 8, 25)),
        (dt.date(2025, 8, 24), Grain.YEAR, "2025", dt.date(2025, 1, 1), dt.date(2026, 1, 1)),
    ],
)
def test_period_bounds_and_labels(
    day: dt.date, grain: Grain, label: str, start: dt.date, end: dt.date
) -> None:
    period = period_of(day, grain)
    assert (period.label, period.start, period.end) == (label, start, end)


def test_the_running_period_is_partial() -> None:
    period = period_of(dt.date(2026, 11, 25), Grain.MONTH)
    assert period.is_partial(dt.date(2026, 11, 25))
    assert not period.is_partial(dt.date(2026, 12, 1))
