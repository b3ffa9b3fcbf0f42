"""Reporting periods: the calendar buckets a measure is computed over."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum


class Grain(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


@dataclass(frozen=True, slots=True, order=True)
class Period:
    """A half-open interval of local dates ``[start, end)`` at one grain."""

    start: dt.date
    end: dt.date
    grain: Grain

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

    def contains(self, day: dt.date) -> bool:
        return self.start <= day < self.end

    def is_partial(self, today: dt.date) -> bool:
        """True while the period is still running, so its value may yet change."""
        return self.contains(today)


def period_of(day: dt.date, grain: Grain) -> Period:
    """The period at ``grain`` that contains ``day`` (weeks start on Monday, ISO 8601)."""
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
    return Period(start, end, grain)


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)
