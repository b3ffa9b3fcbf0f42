"""plan.yaml: the plan period, goals and objectives with their targets."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import (
    Field,
    model_validator,
)

from civicstat.domain.targets import Direction, PeriodTargets, TargetSchedule
from civicstat.domain.targets import Target as DomainTarget
from civicstat.domain.targets import Trajectory as DomainTrajectory
from civicstat.spec.models._base import Slug, SpecModel


class TrajectoryPoint(SpecModel):
    date: dt.date
    value: float = Field(allow_inf_nan=False)


class Trajectory(SpecModel):
    """A target moving in a straight line from a baseline to a goal by a date."""

    baseline: TrajectoryPoint
    goal: TrajectoryPoint

    @model_validator(mode="after")
    def _goal_after_baseline(self) -> Trajectory:
        if self.goal.date <= self.baseline.date:
            raise ValueError("the goal's date must be after the baseline's")
        return self


class Target(SpecModel):
    """What counts as on target: exactly one of a fixed ``value``, ``by_period`` values or
    a ``trajectory``; which way is better; and a warning band in the measure's unit."""

    value: float | None = Field(None, allow_inf_nan=False)
    by_period: dict[str, Annotated[float, Field(allow_inf_nan=False)]] | None = Field(
        None, description="Target per period label, e.g. {2025-Q1: 85, 2025-Q2: 88}"
    )
    trajectory: Trajectory | None = None
    direction: Direction
    warning_band: float = Field(0.0, ge=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _one_kind(self) -> Target:
        given = [f for f in ("value", "by_period", "trajectory") if getattr(self, f) is not None]
        if len(given) != 1:
            raise ValueError(
                "a target has exactly one of 'value', 'by_period' or 'trajectory'"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self

    def to_domain(self) -> TargetSchedule:
        if self.value is not None:
            return DomainTarget(self.value, self.direction, self.warning_band)
        if self.by_period is not None:
            return PeriodTargets(self.by_period, self.direction, self.warning_band)
        assert self.trajectory is not None
        line = self.trajectory
        return DomainTrajectory(
            line.baseline.date,
            line.baseline.value,
            line.goal.date,
            line.goal.value,
            self.direction,
            self.warning_band,
        )


class Objective(SpecModel):
    """A key performance objective (KPO): a department's commitment, measured by a KPI."""

    id: Slug
    title: str
    description: str | None = None
    department: Slug
    measure: Slug
    target: Target


class Goal(SpecModel):
    id: Slug
    title: str
    description: str | None = None
    objectives: list[Objective] = Field(default_factory=list)


class PlanPeriod(SpecModel):
    start: dt.date
    end: dt.date


class PlanFile(SpecModel):
    title: str
    period: PlanPeriod
    goals: list[Goal] = Field(min_length=1)
