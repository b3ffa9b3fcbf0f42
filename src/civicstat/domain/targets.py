"""Targets, target schedules, and the status of a value against them."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Protocol

from civicstat.domain.periods import Period

__all__ = [
    "Direction",
    "PeriodTargets",
    "Status",
    "Target",
    "TargetSchedule",
    "Trajectory",
    "evaluate",
    "evaluate_for",
    "target_for",
]


class Direction(StrEnum):
    HIGHER_IS_BETTER = "higher_is_better"
    LOWER_IS_BETTER = "lower_is_better"


class Status(StrEnum):
    """Where a measure stands against its target, worst last."""

    ON_TARGET = "on_target"
    NEAR_TARGET = "near_target"
    OFF_TARGET = "off_target"
    STALE = "stale"
    NO_DATA = "no_data"


class TargetSchedule(Protocol):
    """Anything that names the target for a given period (or has none for it)."""

    def target_for(self, period: Period) -> Target | None: ...


@dataclass(frozen=True, slots=True)
class Target:
    """A fixed target: the value to reach, which way is better, and a warning band.

    The warning band is in the measure's own unit: with a target of 90 (percent),
    higher is better and a band of 5, 86 is near target and 84.9 is off target.
    A fixed target is also a schedule that gives itself for every period.
    """

    value: float
    direction: Direction
    warning_band: float = 0.0

    def __post_init__(self) -> None:
        _check_finite(self.value, "target value")
        _check_band(self.warning_band)

    def target_for(self, period: Period) -> Target:
        return self


@dataclass(frozen=True, slots=True)
class PeriodTargets:
    """A target per period, keyed by period label ("2025-Q1", "FY2026", "2025-03")."""

    values: Mapping[str, float]
    direction: Direction
    warning_band: float = 0.0

    def __post_init__(self) -> None:
        for label, value in self.values.items():
            _check_finite(value, f"target value for {label!r}")
        _check_band(self.warning_band)
        # A private read-only copy: later changes to the caller's dict do not leak in.
        object.__setattr__(self, "values", MappingProxyType(dict(self.values)))

    def target_for(self, period: Period) -> Target | None:
        value = self.values.get(period.label)
        if value is None:
            return None
        return Target(value, self.direction, self.warning_band)


@dataclass(frozen=True, slots=True)
class Trajectory:
    """A target that moves in a straight line from a baseline to a goal.

    The target for a period is read on its last day; before the baseline it is the
    baseline value and after the goal date it is the goal value.
    """

    baseline_date: dt.date
    baseline_value: float
    goal_date: dt.date
    goal_value: float
    direction: Direction
    warning_band: float = 0.0

    def __post_init__(self) -> None:
        _check_finite(self.baseline_value, "baseline value")
        _check_finite(self.goal_value, "goal value")
        _check_band(self.warning_band)
        if self.goal_date <= self.baseline_date:
            raise ValueError("goal date must be after baseline date")

    def value_on(self, day: dt.date) -> float:
        span = (self.goal_date - self.baseline_date).days
        elapsed = min(max((day - self.baseline_date).days, 0), span)
        if elapsed == span:
            return self.goal_value
        fraction = elapsed / span
        return self.baseline_value + fraction * (self.goal_value - self.baseline_value)

    def target_for(self, period: Period) -> Target:
        last_day = period.end - dt.timedelta(days=1)
        return Target(self.value_on(last_day), self.direction, self.warning_band)


def target_for(schedule: TargetSchedule, period: Period) -> Target | None:
    """The target that applies to ``period``, or None when the schedule sets none."""
    return schedule.target_for(period)


def evaluate(value: float | None, target: Target, *, stale: bool = False) -> Status:
    """Status of ``value`` against ``target``.

    A missing or non-finite value has no data. A value from data that is out of date is
    stale whatever it is, so an old number is never shown as on target.
    """
    if value is None or not math.isfinite(value):
        return Status.NO_DATA
    if stale:
        return Status.STALE
    # Distance by which the value misses the target; <= 0 means the target is met.
    if target.direction is Direction.HIGHER_IS_BETTER:
        shortfall = target.value - value
    else:
        shortfall = value - target.value
    if shortfall <= 0:
        return Status.ON_TARGET
    if shortfall <= target.warning_band:
        return Status.NEAR_TARGET
    return Status.OFF_TARGET


def evaluate_for(
    value: float | None, schedule: TargetSchedule, period: Period, *, stale: bool = False
) -> Status:
    """Status of ``value`` for ``period`` under ``schedule``; no target means no data."""
    target = target_for(schedule, period)
    if target is None:
        return Status.NO_DATA
    return evaluate(value, target, stale=stale)


def _check_finite(value: float, what: str) -> None:
    if not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number")


def _check_band(band: float) -> None:
    if not math.isfinite(band) or band < 0:
        raise ValueError("warning band must be a finite number >= 0")
