"""Business days: the counts must agree with numpy.busday_count, and the index with both."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from civicstat.domain.calendars import BusinessCalendar

dates = st.dates(min_value=dt.date(2015, 1, 1), max_value=dt.date(2030, 12, 31))
# Deliberately include a weekend date and a date already a holiday among the extras.
EXTRAS = [dt.date(2024, 12, 24), dt.date(2024, 7, 4), dt.date(2025, 3, 8), dt.date(2029, 1, 2)]
CALENDARS = [
    BusinessCalendar("US"),
    BusinessCalendar("US", subdivision="VT", extra_holidays=EXTRAS),
    BusinessCalendar("GB", subdivision="SCT"),
    BusinessCalendar(None),
]
calendars = st.sampled_from(CALENDARS)


def _numpy_count(calendar: BusinessCalendar, a: dt.date, b: dt.date) -> int:
    holidays = calendar.holidays_in(2014, 2031)
    return int(np.busday_count(a, b, holidays=holidays))


@given(calendar=calendars, a=dates, b=dates)
def test_busday_count_agrees_with_numpy(calendar: BusinessCalendar, a: dt.date, b: dt.date) -> None:
    assert calendar.busday_count(a, b) == _numpy_count(calendar, a, b)


@given(calendar=calendars, a=dates, days=st.integers(-15, 15))
def test_busday_count_agrees_with_numpy_over_short_spans(
    calendar: BusinessCalendar, a: dt.date, days: int
) -> None:
    b = a + dt.timedelta(days=days)
    assert calendar.busday_count(a, b) == _numpy_count(calendar, a, b)


def test_a_backwards_count_is_negative_and_shifted_as_in_numpy() -> None:
    us = BusinessCalendar("US")
    monday, saturday = dt.date(2024, 1, 8), dt.date(2024, 1, 13)
    assert us.busday_count(monday, saturday) == 5  # Mon..Fri
    assert us.busday_count(saturday, monday) == -4  # (Mon, Sat]: Tue..Fri
    assert us.busday_count(monday, monday) == 0


@pytest.mark.parametrize(
    ("day", "business"),
    [
        (dt.date(2024, 7, 4), False),  # Independence Day, a Thursday
        (dt.date(2024, 7, 5), True),
        (dt.date(2024, 7, 6), False),  # Saturday
        (dt.date(2026, 7, 3), False),  # Friday, observed for Saturday 4 July
        (dt.date(2024, 11, 28), False),  # Thanksgiving
        (dt.date(2024, 12, 24), True),  # not a federal holiday
        (dt.date(2021, 12, 31), False),  # New Year's Day 2022 (a Saturday), observed
    ],
)
def test_us_federal_holidays_are_not_business_days(day: dt.date, business: bool) -> None:
    assert BusinessCalendar("US").is_business_day(day) is business


def test_a_subdivision_adds_its_own_holidays() -> None:
    town_meeting_day = dt.date(2024, 3, 5)
    assert BusinessCalendar("US").is_business_day(town_meeting_day)
    assert not BusinessCalendar("US", subdivision="VT").is_business_day(town_meeting_day)


def test_extra_holidays_close_the_office() -> None:
    calendar = BusinessCalendar("US", extra_holidays=[dt.date(2024, 12, 24)])
    assert not calendar.is_business_day(dt.date(2024, 12, 24))
    # Monday 23 to Friday 27 December: the 23rd and the 26th (the 25th is Christmas).
    assert calendar.busday_count(dt.date(2024, 12, 23), dt.date(2024, 12, 27)) == 2
    assert BusinessCalendar("US").busday_count(dt.date(2024, 12, 23), dt.date(2024, 12, 27)) == 3
    assert dt.date(2024, 12, 24) in calendar.holidays_in(2024, 2024)


def test_without_a_country_only_weekends_are_off() -> None:
    calendar = BusinessCalendar(None)
    assert calendar.is_business_day(dt.date(2024, 7, 4))
    assert calendar.holidays_in(2024, 2025) == []
    assert calendar.busday_count(dt.date(2024, 1, 1), dt.date(2025, 1, 1)) == 262


def test_holidays_in_lists_the_years_asked_for_in_order() -> None:
    listed = BusinessCalendar("US").holidays_in(2024, 2025)
    assert listed == sorted(listed)
    assert {d.year for d in listed} == {2024, 2025}
    assert dt.date(2024, 7, 4) in listed
    assert dt.date(2025, 12, 25) in listed


@pytest.mark.parametrize(
    ("country", "subdivision", "message"),
    [("XX", None, "XX"), ("US", "ZZ", "ZZ"), (None, "VT", "subdivision needs a country")],
)
def test_an_unknown_calendar_is_refused(
    country: str | None, subdivision: str | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        BusinessCalendar(country, subdivision)


def test_the_index_counts_business_days_before_each_date() -> None:
    rows = BusinessCalendar("US").index(dt.date(2024, 7, 1), dt.date(2024, 7, 8))
    assert rows == [
        (dt.date(2024, 7, 1), 0),  # Monday
        (dt.date(2024, 7, 2), 1),
        (dt.date(2024, 7, 3), 2),
        (dt.date(2024, 7, 4), 3),  # holiday: not counted into the next day
        (dt.date(2024, 7, 5), 3),
        (dt.date(2024, 7, 6), 4),
        (dt.date(2024, 7, 7), 4),
        (dt.date(2024, 7, 8), 4),
    ]
    assert BusinessCalendar("US").index(dt.date(2024, 7, 8), dt.date(2024, 7, 1)) == []


@given(calendar=calendars, first=dates, length=st.integers(0, 120), data=st.data())
def test_two_index_lookups_give_the_business_day_count(
    calendar: BusinessCalendar, first: dt.date, length: int, data: st.DataObject
) -> None:
    last = first + dt.timedelta(days=length)
    index = dict(calendar.index(first, last))
    assert list(index) == [first + dt.timedelta(days=i) for i in range(length + 1)]
    a = data.draw(st.dates(min_value=first, max_value=last))
    b = data.draw(st.dates(min_value=a, max_value=last))
    assert calendar.busday_count(a, b) == index[b] - index[a] == _numpy_count(calendar, a, b)
