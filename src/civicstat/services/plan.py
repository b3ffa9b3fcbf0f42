"""The plan as leaders read it: goals, objectives, targets, latest values and status."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from pydantic import BaseModel
from sqlalchemy.orm import Session

from civicstat.domain.periods import Grain, period_of
from civicstat.domain.targets import Status, evaluate_for, target_for
from civicstat.governance.actors import Actor
from civicstat.governance.permissions import PLAN_READ, Resource, require
from civicstat.metadata import observations
from civicstat.metadata.models import Observation
from civicstat.metrics import kinds
from civicstat.plan import AppliedPlan
from civicstat.services.context import Context
from civicstat.services.errors import NotFound
from civicstat.services.freshness import Freshness, source_freshness
from civicstat.spec.models import Objective


class LatestValue(BaseModel):
    period: str  # label, e.g. 2026-10
    period_start: dt.date
    period_end: dt.date
    value: float | None
    numerator: float | None
    denominator: float | None
    partial: bool  # the period is still running


class ObjectiveView(BaseModel):
    id: str
    title: str
    department: str
    department_title: str
    measure: str
    measure_title: str
    unit: str
    target: float | None  # for the latest period (a schedule or trajectory moves)
    direction: str
    warning_band: float
    latest: LatestValue | None
    status: Status
    stale: bool  # a source behind the measure is past its freshness limit


class GoalView(BaseModel):
    id: str
    title: str
    description: str | None
    objectives: list[ObjectiveView]


class PlanView(BaseModel):
    title: str
    period_start: dt.date
    period_end: dt.date
    revision: int
    goals: list[GoalView]


def get_plan(ctx: Context, actor: Actor) -> PlanView:
    with ctx.db.session() as session:
        view, _ = read_plan(ctx, session, actor)
    return view


def read_plan(ctx: Context, session: Session, actor: Actor) -> tuple[PlanView, AppliedPlan]:
    """The plan as leaders read it and the applied plan behind it, looked up once, for
    those who may read the plan (``plan:read``)."""
    require(actor, PLAN_READ, Resource("plan", "plan"))
    plan = ctx.applied_plan(session)
    if plan is None:
        raise NotFound("no plan has been applied yet")
    latest = observations.latest_totals(session, plan.measures)
    now = dt.datetime.now(dt.UTC)
    by_source = {s.id: source_freshness(session, s, now) for s in plan.sources.values()}
    today = dt.datetime.now(zoneinfo.ZoneInfo(plan.settings.timezone)).date()
    goals = []
    for goal in plan.goals:
        views = [
            _objective(plan, objective, latest.get(objective.measure), by_source, today)
            for objective in goal.objectives
        ]
        goals.append(
            GoalView(id=goal.id, title=goal.title, description=goal.description, objectives=views)
        )
    view = PlanView(
        title=plan.title,
        period_start=plan.period.start,
        period_end=plan.period.end,
        revision=plan.revision_id,
        goals=goals,
    )
    return view, plan


def _objective(
    plan: AppliedPlan,
    objective: Objective,
    obs: Observation | None,
    by_source: dict[str, Freshness],
    today: dt.date,
) -> ObjectiveView:
    """One objective with its measure's latest total, target and status."""
    fiscal = plan.settings.fiscal_year_start_month
    measure = plan.measures[objective.measure]
    value = None
    schedule = objective.target.to_domain()
    # Before any data, the target of the running period.
    period = period_of(today, Grain(measure.grain), fiscal)
    if obs is not None:
        period = period_of(obs.period_start, Grain(obs.grain), fiscal)
        value = LatestValue(
            period=period.label,
            period_start=period.start,
            period_end=period.end,
            value=obs.value,
            numerator=obs.numerator,
            denominator=obs.denominator,
            partial=period.is_partial(today),
        )
    found = target_for(schedule, period)
    stale = any(
        by_source[source.id].stale
        for d in plan.datasets_of(measure)
        if (source := plan.source_for_dataset(d)) is not None
    )
    status = (
        evaluate_for(value.value, schedule, period, stale=stale)
        if value is not None
        else Status.NO_DATA
    )
    department = plan.departments.get(objective.department)
    return ObjectiveView(
        id=objective.id,
        title=objective.title,
        department=objective.department,
        department_title=department.title if department else objective.department,
        measure=measure.id,
        measure_title=measure.title,
        unit=kinds.get(measure.kind).unit(plan.effective(measure)),
        target=found.value if found else None,
        direction=objective.target.direction,
        warning_band=objective.target.warning_band,
        latest=value,
        status=status,
        stale=stale,
    )
