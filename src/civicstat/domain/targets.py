"""Targets and the status of a value against them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum


class Direction(StrEnum):
    HIGHER_IS_BETTER = "higher_is_better"
    LOWER_IS_BETTER = "lower_is_better"


class Status(StrEnum):
    """Where a measure stands against its target, worst last."""

    ON_TARGET = "on_target"
    NEAR_TARGET = "near_target"
    OFF_TARGET = "off_target"
    NO_DATA = "no_data"


@dataclass(frozen=True, slots=True)
class Target:
    """A fixed target: the value to reach, which way is better, and a warning band.

    The warning band is in the measure's own unit: with a target of 90 (percent),
    higher is better and a band of 5, 86 is near target and 84.9 is off target.
    """

    value: float
    direction: Direction
    warning_band: float = 0.0

    def __post_init__(self) -> None:
        if not math.isfinite(self.value):
            raise ValueError("target value must be a finite number")
        if not math.isfinite(self.warning_band) or self.warning_band < 0:
            raise ValueError("warning band must be a finite number >= 0")


def evaluate(value: float | None, target: Target) -> Status:
    """Status of ``value`` against ``target``; a missing or non-finite value has no data."""
    if value is None or not math.isfinite(value):
        return Status.NO_DATA
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
