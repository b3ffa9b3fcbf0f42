"""Reporting periods: every day falls in exactly one period of each grain."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from civicstat.domain.periods import Grain, Period, period_of, periods_between, window_start

days = st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2100, 12, 31))
grains = st.sampled_from(list(Grain))
fiscal_starts = st.integers(min_value=1, max_value=12)
ONE_DAY = dt.timedelta(days=1)


@given(day=days, grain=grains, fiscal_start=fiscal_starts)
def test_a_day_lies_in_its_period_and_periods_tile(
    day: dt.date, grain: Grain, fiscal_start: int
) -> None:
    period = period_of(day, grain, fiscal_start)
    assert period.contains(day)
    assert period_of(period.start, grain, fiscal_start) == period
    # The next period starts where this one ends.
    assert period_of(period.end, grain, fiscal_start).start == period.end
    assert period_of(period.end - ONE_DAY, grain, fiscal_start) == period


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
        (dt.date(2024, 2, 1), Grain.WEEK, "2024-W05", dt.date(2024, 1, 29), dt.date(2024, 2, 5)),
        (dt.date(2025, 8, 24), Grain.DAY, "2025-08-24", dt.date(2025, 8, 24), dt.date(2025, 8, 25)),
        (dt.date(2025, 8, 24), Grain.YEAR, "2025", dt.date(2025, 1, 1), dt.date(2026, 1, 1)),
    ],
)
def test_period_bounds_and_labels(
    day: dt.date, grain: Grain, label: str, start: dt.date, end: dt.date
) -> None:
    period = period_of(day, grain)
    assert (period.label, period.start, period.end) == (label, start, end)


FY, FQ = Grain.FISCAL_YEAR, Grain.FISCAL_QUARTER


@pytest.mark.parametrize(
    ("day", "grain", "fiscal_start", "label", "start", "end"),
    [
        # A July fiscal year is named by the year it ends in: FY2026 = Jul 2025 - Jun 2026.
        ("2025-07-01", FY, 7, "FY2026", "2025-07-01", "2026-07-01"),
        ("2026-06-30", FY, 7, "FY2026", "2025-07-01", "2026-07-01"),
        ("2025-06-30", FY, 7, "FY2025", "2024-07-01", "2025-07-01"),
        ("2025-08-15", FQ, 7, "FY2026-Q1", "2025-07-01", "2025-10-01"),
        ("2026-02-10", FQ, 7, "FY2026-Q3", "2026-01-01", "2026-04-01"),
        ("2026-06-30", FQ, 7, "FY2026-Q4", "2026-04-01", "2026-07-01"),
        # US federal: FY2026 starts 1 October 2025.
        ("2025-10-01", FY, 10, "FY2026", "2025-10-01", "2026-10-01"),
        ("2025-12-31", FQ, 10, "FY2026-Q1", "2025-10-01", "2026-01-01"),
        # A fiscal year that starts in a month other than a quarter's first.
        ("2026-01-31", FQ, 2, "FY2026-Q4", "2025-11-01", "2026-02-01"),
        ("2026-02-01", FQ, 2, "FY2027-Q1", "2026-02-01", "2026-05-01"),
        # With a January start the fiscal year is the calendar year.
        ("2026-05-05", FY, 1, "FY2026", "2026-01-01", "2027-01-01"),
        ("2026-05-05", FQ, 1, "FY2026-Q2", "2026-04-01", "2026-07-01"),
    ],
)
def test_fiscal_period_bounds_and_labels(
    day: str, grain: Grain, fiscal_start: int, label: str, start: str, end: str
) -> None:
    period = period_of(dt.date.fromisoformat(day), grain, fiscal_start)
    assert (period.label, period.start.isoformat(), period.end.isoformat()) == (label, start, end)
    assert period.grain is grain
    assert period.fiscal_start_month == fiscal_start


@given(day=days)
def test_a_january_fiscal_year_has_calendar_bounds_but_keeps_its_grain(day: dt.date) -> None:
    for fiscal, calendar in [(FY, Grain.YEAR), (FQ, Grain.QUARTER)]:
        fp, cp = period_of(day, fiscal), period_of(day, calendar)
        assert (fp.start, fp.end) == (cp.start, cp.end)
        assert fp.grain is fiscal
        assert fp.label == "FY" + cp.label


@given(day=days, fiscal_start=fiscal_starts)
def test_a_fiscal_year_is_named_for_its_last_day_and_holds_quarters_one_to_four(
    day: dt.date, fiscal_start: int
) -> None:
    year = period_of(day, Grain.FISCAL_YEAR, fiscal_start)
    assert year.start.month == fiscal_start
    assert year.start.day == 1
    assert year.label == f"FY{(year.end - ONE_DAY).year}"
    quarters = periods_between(year.start, year.end - ONE_DAY, Grain.FISCAL_QUARTER, fiscal_start)
    assert [q.label for q in quarters] == [f"{year.label}-Q{n}" for n in range(1, 5)]
    assert quarters[0].start == year.start
    assert quarters[-1].end == year.end


def test_periods_built_directly_still_default_to_a_january_fiscal_year() -> None:
    period = Period(dt.date(2025, 1, 1), dt.date(2025, 2, 1), Grain.MONTH)
    assert period == period_of(dt.date(2025, 1, 20), Grain.MONTH)
    assert period.fiscal_start_month == 1


@pytest.mark.parametrize("month", [0, 13])
def test_a_fiscal_year_must_start_in_a_real_month(month: int) -> None:
    with pytest.raises(ValueError, match="fiscal start month"):
        period_of(dt.date(2025, 1, 1), Grain.FISCAL_YEAR, month)
    with pytest.raises(ValueError, match="fiscal start month"):
        Period(dt.date(2025, 1, 1), dt.date(2026, 1, 1), Grain.FISCAL_YEAR, month)


def test_grain_lengths_in_months() -> None:
    assert [g.months for g in Grain] == [None, None, 1, 3, 12, 3, 12]


def test_the_running_period_is_partial() -> None:
    period = period_of(dt.date(2026, 11, 25), Grain.MONTH)
    assert period.is_partial(dt.date(2026, 11, 25))
    assert not period.is_partial(dt.date(2026, 12, 1))


@given(day=days, grain=grains, fiscal_start=fiscal_starts, n=st.integers(-60, 60))
def test_shifting_there_and_back_returns_the_same_period(
    day: dt.date, grain: Grain, fiscal_start: int, n: int
) -> None:
    period = period_of(day, grain, fiscal_start)
    shifted = period.shift(n)
    assert shifted.shift(-n) == period
    assert shifted == period_of(shifted.start, grain, fiscal_start)
    assert (shifted > period) == (n > 0)
    assert period.next().start == period.end
    assert period.previous().end == period.start
    assert period.next().previous() == period


def test_shift_steps_by_whole_periods() -> None:
    march = period_of(dt.date(2025, 3, 10), Grain.MONTH)
    assert march.shift(-3).label == "2024-12"
    assert march.shift(10).label == "2026-01"
    fy_q4 = period_of(dt.date(2026, 5, 1), Grain.FISCAL_QUARTER, 7)
    assert [fy_q4.shift(n).label for n in (0, 1, 2)] == ["FY2026-Q4", "FY2027-Q1", "FY2027-Q2"]
    week = period_of(dt.date(2024, 12, 30), Grain.WEEK)
    assert week.previous().label == "2024-W52"


@given(
    first=days,
    length=st.integers(0, 800),
    grain=grains,
    fiscal_start=fiscal_starts,
)
def test_periods_between_tile_the_range_without_gaps(
    first: dt.date, length: int, grain: Grain, fiscal_start: int
) -> None:
    last = first + dt.timedelta(days=length)
    periods = periods_between(first, last, grain, fiscal_start)
    assert periods[0].contains(first)
    assert periods[-1].contains(last)
    for earlier, later in itertools.pairwise(periods):
        assert earlier.end == later.start
        assert later.grain is grain
        assert later.fiscal_start_month == fiscal_start


def test_periods_between_is_empty_when_the_range_is_backwards() -> None:
    assert periods_between(dt.date(2025, 2, 1), dt.date(2025, 1, 31), Grain.DAY) == []
    months = periods_between(dt.date(2025, 1, 31), dt.date(2025, 4, 1), Grain.MONTH)
    assert [p.label for p in months] == ["2025-01", "2025-02", "2025-03", "2025-04"]


@pytest.mark.parametrize(
    ("day", "grain", "fiscal_start", "label"),
    [
        (dt.date(2024, 2, 29), Grain.DAY, 1, "2023-02-28"),
        (dt.date(2025, 3, 1), Grain.DAY, 1, "2024-03-01"),
        (dt.date(2025, 3, 5), Grain.WEEK, 1, "2024-W10"),
        (dt.date(2026, 12, 31), Grain.WEEK, 1, "2025-W52"),  # 2026-W53; 2025 has 52 weeks
        (dt.date(2021, 1, 1), Grain.WEEK, 1, "2019-W52"),  # 2020-W53
        (dt.date(2025, 3, 5), Grain.MONTH, 1, "2024-03"),
        (dt.date(2025, 3, 5), Grain.QUARTER, 1, "2024-Q1"),
        (dt.date(2025, 3, 5), Grain.YEAR, 1, "2024"),
        (dt.date(2025, 3, 5), Grain.FISCAL_YEAR, 7, "FY2024"),
        (dt.date(2025, 3, 5), Grain.FISCAL_QUARTER, 7, "FY2024-Q3"),
    ],
)
def test_year_ago_is_the_same_period_last_year(
    day: dt.date, grain: Grain, fiscal_start: int, label: str
) -> None:
    ago = period_of(day, grain, fiscal_start).year_ago()
    assert ago.label == label
    assert ago.grain is grain
    assert ago.fiscal_start_month == fiscal_start


@given(day=days, grain=grains, fiscal_start=fiscal_starts)
def test_year_ago_is_roughly_a_year_earlier(day: dt.date, grain: Grain, fiscal_start: int) -> None:
    period = period_of(day, grain, fiscal_start)
    ago = period.year_ago()
    assert ago == period_of(ago.start, grain, fiscal_start)
    assert 364 <= (period.start - ago.start).days <= 371
    months = grain.months
    if months is not None:
        assert ago == period.shift(-12 // months)


def test_trailing_windows_count_whole_periods() -> None:
    march = period_of(dt.date(2025, 3, 10), Grain.MONTH)
    assert window_start(march, trailing=1) == dt.date(2025, 3, 1)
    assert window_start(march, trailing=3) == dt.date(2025, 1, 1)
    assert window_start(march, trailing=12) == dt.date(2024, 4, 1)


@given(day=days, grain=grains, fiscal_start=fiscal_starts, n=st.integers(1, 40))
def test_a_trailing_window_holds_exactly_n_periods(
    day: dt.date, grain: Grain, fiscal_start: int, n: int
) -> None:
    period = period_of(day, grain, fiscal_start)
    start = window_start(period, trailing=n)
    inside = periods_between(start, period.end - ONE_DAY, grain, fiscal_start)
    assert len(inside) == n
    assert inside[0].start == start
    assert inside[-1] == period


@pytest.mark.parametrize(
    ("day", "grain", "to_date", "fiscal_start", "start"),
    [
        (dt.date(2026, 3, 10), Grain.MONTH, Grain.YEAR, 7, dt.date(2026, 1, 1)),
        (dt.date(2026, 3, 10), Grain.MONTH, Grain.FISCAL_YEAR, 7, dt.date(2025, 7, 1)),
        (dt.date(2025, 8, 10), Grain.MONTH, Grain.FISCAL_YEAR, 7, dt.date(2025, 7, 1)),
        (dt.date(2026, 3, 10), Grain.MONTH, Grain.QUARTER, 1, dt.date(2026, 1, 1)),
        (dt.date(2026, 3, 10), Grain.DAY, Grain.MONTH, 1, dt.date(2026, 3, 1)),
        (dt.date(2026, 3, 10), Grain.DAY, Grain.FISCAL_QUARTER, 2, dt.date(2026, 2, 1)),
        (dt.date(2026, 3, 10), Grain.QUARTER, Grain.QUARTER, 1, dt.date(2026, 1, 1)),
        (dt.date(2026, 3, 10), Grain.FISCAL_QUARTER, Grain.FISCAL_YEAR, 10, dt.date(2025, 10, 1)),
    ],
)
def test_to_date_windows_start_at_the_enclosing_period(
    day: dt.date, grain: Grain, to_date: Grain, fiscal_start: int, start: dt.date
) -> None:
    assert window_start(period_of(day, grain, fiscal_start), to_date=to_date) == start


@given(day=days, grain=grains, to_date=grains, fiscal_start=fiscal_starts)
def test_a_to_date_window_starts_in_the_enclosing_period(
    day: dt.date, grain: Grain, to_date: Grain, fiscal_start: int
) -> None:
    period = period_of(day, grain, fiscal_start)
    if to_date.rank < grain.rank:
        with pytest.raises(ValueError, match="cannot hold"):
            window_start(period, to_date=to_date)
        return
    start = window_start(period, to_date=to_date)
    assert start <= period.start
    assert period_of(start, to_date, fiscal_start) == period_of(period.start, to_date, fiscal_start)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"trailing": 3, "to_date": Grain.YEAR}, {"trailing": 0}, {"trailing": -2}],
)
def test_a_window_needs_exactly_one_sensible_shape(kwargs: dict[str, Any]) -> None:
    period = period_of(dt.date(2025, 3, 10), Grain.MONTH)
    with pytest.raises(ValueError, match="trailing"):
        window_start(period, **kwargs)
