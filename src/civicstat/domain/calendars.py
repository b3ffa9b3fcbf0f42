"""Business days: weekdays that are not public holidays of a jurisdiction.

Service-level measures ("permits issued within 15 business days") count business days.
The counts here follow ``numpy.busday_count`` exactly, and :meth:`BusinessCalendar.index`
gives the same counts as a table the metrics engine can join in SQL.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable

import holidays

__all__ = ["BusinessCalendar"]

_WEEKEND = frozenset({5, 6})  # Saturday, Sunday (date.weekday())


class BusinessCalendar:
    """Weekdays minus the public holidays of ``country`` (and ``subdivision``) and extras.

    Holidays come from the ``holidays`` package with observed dates as it gives them
    (Independence Day on a Saturday is observed on the Friday before). ``country=None``
    means weekends and ``extra_holidays`` only.
    """

    def __init__(
        self,
        country: str | None,
        subdivision: str | None = None,
        extra_holidays: Iterable[dt.date] = (),
    ) -> None:
        if country is None and subdivision is not None:
            raise ValueError("a subdivision needs a country")
        if country is not None:
            try:
                holidays.country_holidays(country, subdiv=subdivision, years=[])
            except NotImplementedError as error:
                raise ValueError(f"unknown holiday calendar: {error}") from None
        self.country = country
        self.subdivision = subdivision
        self._extra = frozenset(extra_holidays)
        self._dates: set[dt.date] = set(self._extra)
        self._loaded_years: set[int] = set()
        self._weekday_holidays: list[dt.date] = []

    def __repr__(self) -> str:
        extra = f", {sorted(self._extra)!r}" if self._extra else ""
        return f"BusinessCalendar({self.country!r}, {self.subdivision!r}{extra})"

    def is_business_day(self, day: dt.date) -> bool:
        if day.weekday() in _WEEKEND:
            return False
        self._load(day.year, day.year)
        return day not in self._dates

    def holidays_in(self, first_year: int, last_year: int) -> list[dt.date]:
        """Sorted holiday dates in the given calendar years, weekend ones included."""
        self._load(first_year, last_year)
        return sorted(d for d in self._dates if first_year <= d.year <= last_year)

    def busday_count(self, a: dt.date, b: dt.date) -> int:
        """Business days in ``[a, b)``, as ``numpy.busday_count(a, b, holidays=...)``.

        When ``b < a`` the result is negative and, as in numpy, counts ``(b, a]``.
        """
        if b < a:
            return -self._count(b + dt.timedelta(days=1), a + dt.timedelta(days=1))
        return self._count(a, b)

    def index(self, first: dt.date, last: dt.date) -> list[tuple[dt.date, int]]:
        """One row per date ``d`` in ``[first, last]``: business days in ``[first, d)``.

        For ``first <= a <= b <= last``, ``busday_count(a, b) == idx[b] - idx[a]``, so a
        SQL engine can count business days between two columns with two joins.
        """
        rows: list[tuple[dt.date, int]] = []
        if last < first:
            return rows
        self._load(first.year, last.year)
        count = 0
        day = first
        while day <= last:
            rows.append((day, count))
            if day.weekday() not in _WEEKEND and day not in self._dates:
                count += 1
            day += dt.timedelta(days=1)
        return rows

    def _count(self, start: dt.date, end: dt.date) -> int:
        """Business days in ``[start, end)`` for ``start <= end``, without a day loop."""
        weeks, rest = divmod((end - start).days, 7)
        first_weekday = start.weekday()
        extra = sum(1 for i in range(rest) if (first_weekday + i) % 7 not in _WEEKEND)
        self._load(start.year, end.year)
        lo = bisect.bisect_left(self._weekday_holidays, start)
        hi = bisect.bisect_left(self._weekday_holidays, end)
        return weeks * 5 + extra - (hi - lo)

    def _load(self, first_year: int, last_year: int) -> None:
        # Observed dates can cross a year boundary (1 January 2022, a Saturday, was observed
        # on 31 December 2021). The package files those under the observed year today;
        # loading the neighbouring years too keeps counts right if a calendar does not.
        wanted = set(range(first_year - 1, last_year + 2)) - self._loaded_years
        if not wanted:
            return
        if self.country is not None:
            found = holidays.country_holidays(
                self.country, subdiv=self.subdivision, years=sorted(wanted)
            )
            self._dates.update(found.keys())
        self._loaded_years |= wanted
        self._weekday_holidays = sorted(d for d in self._dates if d.weekday() not in _WEEKEND)
