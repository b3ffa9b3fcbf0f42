"""The shapes every read of values over time shares — the plan, the overview, a measure's
series and breakdown: a change between two periods, and a point of a recent trend."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel

TREND_PERIODS = 13  # a year and the same period of the year before


class Change(BaseModel):
    absolute: float
    relative: float | None


class TrendPoint(BaseModel):
    period: str
    start: dt.date
    value: float | None
    target: float | None
    partial: bool
