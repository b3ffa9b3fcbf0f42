"""What the demo's generators share: the span of months they cover, calendar arithmetic on
epoch seconds, vectorised draws, and building Arrow columns from them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from civicstat.demo.city import DAY, Bools, Floats, Ints

__all__ = [
    "Span", "categorical", "daily_events", "default_end", "epoch_seconds", "ids", "labels",
    "month_of", "timestamps", "weekday_of", "year_of",
]  # fmt: skip


def default_end(today: dt.date | None = None) -> dt.date:
    """The last day of the month before ``today``: the newest complete month of data."""
    return (today or dt.date.today()).replace(day=1) - dt.timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Span:
    """Whole months of data ending on ``end``; the extract was taken at midnight after it."""

    start: dt.date
    end: dt.date

    @classmethod
    def ending(cls, end: dt.date, years: int) -> Span:
        months = end.year * 12 + end.month - 12 * years  # month index of the first month
        return cls(dt.date(months // 12, months % 12 + 1, 1), end)

    @property
    def start_s(self) -> int:
        return epoch_seconds(self.start)

    @property
    def snapshot_s(self) -> int:
        """Epoch seconds of the extract: nothing later than this is known."""
        return epoch_seconds(self.end) + DAY

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def daily_events(
    span: Span, rng: np.random.Generator, rate: Floats, season: Floats, weekday: Floats
) -> tuple[Ints, Ints]:
    """Poisson counts per day and type; each event's epoch day and type index."""
    first = span.start_s // DAY
    days = np.arange(first, first + span.days)
    growth = 1.025 ** ((days - first) / 365.25)
    lam = rate * season[month_of(days * DAY) % 12] * (weekday[weekday_of(days)] * growth)[:, None]
    cell = np.repeat(np.arange(lam.size), rng.poisson(lam).ravel())
    return days[cell // rate.size], cell % rate.size


def categorical(rng: np.random.Generator, probs: Floats, row: Ints) -> Ints:
    """One draw per element from the categorical distribution ``probs[row]``.

    Row g's cumulative probabilities are shifted into (g, g + 1], so one searchsorted
    over all rows draws every element at once.
    """
    cum = np.cumsum(probs, axis=1) / probs.sum(axis=1, keepdims=True)
    cum[:, -1] = 1.0
    flat = (cum + np.arange(len(probs))[:, None]).ravel()
    found: Ints = np.searchsorted(flat, rng.random(len(row)) + row, side="right")
    found -= row * probs.shape[1]
    np.minimum(found, probs.shape[1] - 1, out=found)  # guards rounding at a row's top end
    return found


def epoch_seconds(day: dt.date) -> int:
    return (day - dt.date(1970, 1, 1)).days * DAY


def weekday_of(epoch_day: Ints) -> Ints:
    return (epoch_day + 3) % 7  # 1970-01-01 was a Thursday; Monday is 0


def month_of(t: Ints) -> Ints:
    """Months since January 1970 (``% 12`` gives the calendar month, January = 0)."""
    return t.astype("M8[s]").astype("M8[M]").astype(np.int64)


def year_of(t: Ints) -> Ints:
    return t.astype("M8[s]").astype("M8[Y]").astype(np.int64) + 1970


def ids(prefix: str, year: Ints, width: int) -> pa.Array:
    """Ids such as ``R24-0001234``: prefix, two-digit year, a sequence restarting each year.

    ``year`` must be sorted, as it is for rows in time order.
    """
    seq = np.arange(len(year)) - np.searchsorted(year, year) + 1
    yy = pc.utf8_lpad(pa.array(year % 100).cast(pa.string()), 2, "0")
    number = pc.utf8_lpad(pa.array(seq).cast(pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, yy, "-", number, "")


def labels(names: tuple[str, ...] | list[str], index: Ints) -> pa.Array:
    return pa.array(list(names), pa.string()).take(pa.array(index))


def timestamps(t: Ints, null: Bools | None = None) -> pa.Array:
    return pa.array(t.astype("M8[s]").astype("M8[us]"), mask=null)
