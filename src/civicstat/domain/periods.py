"""Reporting periods: the calendar and fiscal buckets a measure is computed over."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Grain", "Period", "period_of", "periods_between", "window_start"]


class Grain(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"
    FISCAL_QUARTER = "fiscal_quarter"
    FISCAL_YEAR = "fiscal_year"

    @property
    def months(self) -> int | None:
        """Length in months for month-based grains; None for days and weeks."""
        return _MONTHS.get(self)

    @property
    def is_fiscal(self) -> bool:
        return self in (Grain.FISCAL_QUARTER, Grain.FISCAL_YEAR)

    @property
    def rank(self) -> int:
        """Coarseness, so callers can tell whether one grain can hold another."""
        return _RANK[self]


_MONTHS = {
    Grain.MONTH: 1,
    Grain.QUARTER: 3,
    Grain.YEAR: 12,
    Grain.FISCAL_QUARTER: 3,
    Grain.FISCAL_YEAR: 12,
}
_RANK = {
    Grain.DAY: 0,
    Grain.WEEK: 1,
    Grain.MONTH: 2,
    Grain.QUARTER: 3,
    Grain.FISCAL_QUARTER: 3,
    Grain.YEAR: 4,
    Grain.FISCAL_YEAR: 4,
}


@dataclass(frozen=True, slots=True, order=True)
class Period:
    """A half-open interval of local dates ``[start, end)`` at one grain.

    ``fiscal_start_month`` (1-12) is the month the fiscal year starts in. It shapes fiscal
    grains and is carried by calendar grains too, so that fiscal year-to-date windows
    and shifts keep the organisation's fiscal calendar.
    """

    start: dt.date
    end: dt.date
    grain: Grain
    fiscal_start_month: int = 1

    def __post_init__(self) -> None:
        _check_fiscal_start(self.fiscal_start_month)

    @property
    def label(self) -> str:
        s = self.start
        match self.grain:
            case Grain.DAY:
                return s.isoformat()
            case Grain.WEEK:
                year, week, _ = s.isocalendar()
                return f"{year}-W{week:02d}"
            case Grain.MONTH:
                return f"{s.year}-{s.month:02d}"
            case Grain.QUARTER:
                return f"{s.year}-Q{(s.month - 1) // 3 + 1}"
            case Grain.YEAR:
                return str(s.year)
            case Grain.FISCAL_YEAR:
                return f"FY{_fiscal_year_name(s, self.fiscal_start_month)}"
            case Grain.FISCAL_QUARTER:
                fy_start = _fiscal_year_start(s, self.fiscal_start_month)
                quarter = _month_index(s) - _month_index(fy_start)
                name = _fiscal_year_name(s, self.fiscal_start_month)
                return f"FY{name}-Q{quarter // 3 + 1}"

    def contains(self, day: dt.date) -> bool:
        return self.start <= day < self.end

    def is_partial(self, today: dt.date) -> bool:
        """True while the period is still running, so its value may yet change."""
        return self.contains(today)

    def shift(self, n: int) -> Period:
        """The period ``n`` steps later (earlier when negative), same grain and fiscal start."""
        months = self.grain.months
        if months is not None:
            start = _add_months(self.start, n * months)
            end = _add_months(start, months)
        else:
            length = 1 if self.grain is Grain.DAY else 7
            start = self.start + dt.timedelta(days=n * length)
            end = start + dt.timedelta(days=length)
        return Period(start, end, self.grain, self.fiscal_start_month)

    def previous(self) -> Period:
        return self.shift(-1)

    def next(self) -> Period:
        return self.shift(1)

    def year_ago(self) -> Period:
        """The same period one year earlier, for year-over-year comparison.

        Weeks map to the same ISO week number (week 53 to week 52 when the previous ISO
        year has none); days to the same date (29 February to 28 February).
        """
        match self.grain:
            case Grain.DAY:
                s = self.start
                # A year before a leap year is never a leap year, so 29 February has no twin.
                day = min(s.day, 28) if s.month == 2 else s.day
                return period_of(s.replace(s.year - 1, day=day), Grain.DAY, self.fiscal_start_month)
            case Grain.WEEK:
                iso_year, week, _ = self.start.isocalendar()
                week = min(week, _iso_weeks(iso_year - 1))
                monday = dt.date.fromisocalendar(iso_year - 1, week, 1)
                return period_of(monday, Grain.WEEK, self.fiscal_start_month)
            case _:
                start = _add_months(self.start, -12)
                return period_of(start, self.grain, self.fiscal_start_month)


def period_of(day: dt.date, grain: Grain, fiscal_start_month: int = 1) -> Period:
    """The period at ``grain`` that contains ``day`` (weeks start on Monday, ISO 8601).

    Fiscal grains use a fiscal year starting on the 1st of ``fiscal_start_month``.
    """
    _check_fiscal_start(fiscal_start_month)
    match grain:
        case Grain.DAY:
            start = day
            end = day + dt.timedelta(days=1)
        case Grain.WEEK:
            start = day - dt.timedelta(days=day.weekday())
            end = start + dt.timedelta(days=7)
        case Grain.MONTH:
            start = day.replace(day=1)
            end = _add_months(start, 1)
        case Grain.QUARTER:
            start = dt.date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
            end = _add_months(start, 3)
        case Grain.YEAR:
            start = dt.date(day.year, 1, 1)
            end = dt.date(day.year + 1, 1, 1)
        case Grain.FISCAL_YEAR:
            start = _fiscal_year_start(day, fiscal_start_month)
            end = _add_months(start, 12)
        case Grain.FISCAL_QUARTER:
            fy_start = _fiscal_year_start(day, fiscal_start_month)
            offset = (_month_index(day) - _month_index(fy_start)) // 3 * 3
            start = _add_months(fy_start, offset)
            end = _add_months(start, 3)
    return Period(start, end, grain, fiscal_start_month)


def periods_between(
    first: dt.date, last: dt.date, grain: Grain, fiscal_start_month: int = 1
) -> list[Period]:
    """Every period from the one containing ``first`` to the one containing ``last``."""
    periods: list[Period] = []
    if last < first:
        return periods
    period = period_of(first, grain, fiscal_start_month)
    while period.start <= last:
        periods.append(period)
        period = period.next()
    return periods


def window_start(
    period: Period, *, trailing: int | None = None, to_date: Grain | None = None
) -> dt.date:
    """First day of a window that ends with ``period``.

    ``trailing=N`` covers the last N periods (1 is the period itself); ``to_date=grain``
    runs from the start of the enclosing period of that grain (year-to-date, fiscal
    year-to-date, ...), which must be at least as coarse as the period's own grain.
    """
    if (trailing is None) == (to_date is None):
        raise ValueError("give exactly one of trailing= or to_date=")
    if trailing is not None:
        if trailing < 1:
            raise ValueError(f"trailing must be at least 1, got {trailing}")
        return period.shift(-(trailing - 1)).start
    assert to_date is not None
    if to_date.rank < period.grain.rank:
        raise ValueError(
            f"a {to_date.value}-to-date window cannot hold a {period.grain.value} period"
        )
    return period_of(period.start, to_date, period.fiscal_start_month).start


def _check_fiscal_start(month: int) -> None:
    if not 1 <= month <= 12:
        raise ValueError(f"fiscal start month must be 1-12, got {month}")


def _fiscal_year_start(day: dt.date, fiscal_start_month: int) -> dt.date:
    year = day.year if day.month >= fiscal_start_month else day.year - 1
    return dt.date(year, fiscal_start_month, 1)


def _fiscal_year_name(day: dt.date, fiscal_start_month: int) -> int:
    """The calendar year in which the fiscal year holding ``day`` ends (US convention)."""
    start = _fiscal_year_start(day, fiscal_start_month)
    return start.year if fiscal_start_month == 1 else start.year + 1


def _month_index(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


def _add_months(day: dt.date, months: int) -> dt.date:
    index = _month_index(day) + months
    return dt.date(index // 12, index % 12 + 1, 1)


def _iso_weeks(iso_year: int) -> int:
    """Number of ISO weeks in ``iso_year`` (52 or 53): 28 December is always in the last."""
    return dt.date(iso_year, 12, 28).isocalendar()[1]
