"""Where the city stands, for leaders: every goal's objectives with their status, what
changed since the last period, what is stale; one goal; one department's scorecard.

Built on :func:`services.plan.read_plan` (which checks ``plan:read``) plus each measure's
recent totals, read in one query, for trends and the change from the previous period.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable

from pydantic import BaseModel
from sqlalchemy.orm import Session

from civicstat.domain import signals
from civicstat.domain.periods import Grain, period_of
from civicstat.domain.targets import Status, evaluate_for, target_for
from civicstat.governance.actors import Actor
from civicstat.governance.disclosure import named
from civicstat.governance.permissions import RUN_READ, Resource, allowed
from civicstat.metadata import observations, source_runs
from civicstat.plan import AppliedPlan
from civicstat.services import plan as plan_service
from civicstat.services.context import Context
from civicstat.services.disclosure import Reader
from civicstat.services.errors import NotFound
from civicstat.services.freshness import source_freshness
from civicstat.services.plan import ObjectiveView, PlanView
from civicstat.services.trends import TREND_PERIODS, Change, TrendPoint
from civicstat.spec.models import Source


class ObjectiveSummary(ObjectiveView):
    """An objective as the plan shows it, with where it came from."""

    goal: str
    goal_title: str
    previous: TrendPoint | None  # the period before the latest
    previous_status: Status | None  # against its target, data freshness aside
    change: Change | None  # latest minus previous
    status_changed: bool  # the latest period's status (freshness aside) differs
    trend: list[TrendPoint]  # oldest first, at most TREND_PERIODS


class GoalSummary(BaseModel):
    id: str
    title: str
    description: str | None
    objectives: list[ObjectiveSummary]
    counts: dict[str, int]  # objectives by status


class Overview(BaseModel):
    title: str
    revision: int
    period_start: dt.date
    period_end: dt.date
    goals: list[GoalSummary]
    counts: dict[str, int]
    changed: list[ObjectiveSummary]  # status differs from the previous period's
    stale: list[ObjectiveSummary]  # a source behind it is past its freshness limit
    no_data: list[ObjectiveSummary]


class SourceStatus(BaseModel):
    id: str
    title: str
    dataset: str
    last_success: dt.datetime | None
    stale_after_hours: float | None
    stale: bool
    last_run_status: str | None  # None: no run yet, or the actor may not see runs


class DepartmentSummary(BaseModel):
    id: str
    title: str
    parent: str | None
    objectives: int
    counts: dict[str, int]


class DepartmentScorecard(BaseModel):
    id: str
    title: str
    parent: DepartmentSummary | None
    children: list[DepartmentSummary]
    objectives: list[ObjectiveSummary]
    counts: dict[str, int]
    sources: list[SourceStatus]  # the data the department owns


def overview(ctx: Context, actor: Actor) -> Overview:
    """Every goal at a glance, and what needs a leader's eye."""
    view, _, summaries = _summaries(ctx, actor)
    goals = [_goal(goal.id, goal.title, goal.description, summaries) for goal in view.goals]
    everything = [o for g in goals for o in g.objectives]
    return Overview(
        title=view.title,
        revision=view.revision,
        period_start=view.period_start,
        period_end=view.period_end,
        goals=goals,
        counts=_counts(everything),
        changed=[o for o in everything if o.status_changed],
        stale=[o for o in everything if o.stale],
        no_data=[o for o in everything if o.latest is None],
    )


def goal(ctx: Context, actor: Actor, goal_id: str) -> GoalSummary:
    view, _, summaries = _summaries(ctx, actor)
    found = next((g for g in view.goals if g.id == goal_id), None)
    if found is None:
        raise NotFound.of("goal", goal_id)
    return _goal(found.id, found.title, found.description, summaries)


def departments(ctx: Context, actor: Actor) -> list[DepartmentSummary]:
    """Every department with how its objectives stand, in the governance file's order."""
    _, applied, summaries = _summaries(ctx, actor)
    return [_department_summary(applied, d, summaries) for d in applied.departments]


def department(ctx: Context, actor: Actor, department_id: str) -> DepartmentScorecard:
    """Everything a department owns: its objectives with their trends, and its data."""
    _, applied, summaries = _summaries(ctx, actor)
    found = applied.departments.get(department_id)
    if found is None:
        raise NotFound.of("department", department_id)
    owned = [o for o in summaries.values() if o.department == department_id]
    reader = Reader(applied, actor)
    with ctx.db.session() as session:
        sources = [
            _source_status(session, actor, reader, s)
            for s in applied.sources.values()
            if s.owner == department_id and named(actor, s)
        ]
    children = [d for d in applied.departments.values() if d.parent == department_id]
    return DepartmentScorecard(
        id=found.id,
        title=found.title,
        parent=_department_summary(applied, found.parent, summaries) if found.parent else None,
        children=[_department_summary(applied, c.id, summaries) for c in children],
        objectives=owned,
        counts=_counts(owned),
        sources=sources,
    )


# --- building blocks --------------------------------------------------------------------


def _summaries(
    ctx: Context, actor: Actor
) -> tuple[PlanView, AppliedPlan, dict[str, ObjectiveSummary]]:
    with ctx.db.session() as session:
        view, applied = plan_service.read_plan(ctx, session, actor)  # checks plan:read
        measure_ids = {o.measure for g in view.goals for o in g.objectives}
        rows = observations.recent_totals(session, measure_ids)
    today = dt.datetime.now(zoneinfo.ZoneInfo(applied.settings.timezone)).date()
    fiscal = applied.settings.fiscal_year_start_month
    targets = {o.id: o.target.to_domain() for _, o in applied.objectives()}
    out: dict[str, ObjectiveSummary] = {}
    for g in view.goals:
        for o in g.objectives:
            grain = Grain(applied.measures[o.measure].grain)
            schedule = targets[o.id]
            trend = []
            for start, value in rows.get(o.measure, [])[-TREND_PERIODS:]:
                period = period_of(start, grain, fiscal)
                found = target_for(schedule, period)
                trend.append(
                    TrendPoint(
                        period=period.label,
                        start=period.start,
                        value=value,
                        target=found.value if found else None,
                        partial=period.is_partial(today),
                    )
                )
            previous = previous_status = change = None
            status_changed = False
            if o.latest is not None:
                latest_period = period_of(o.latest.period_start, grain, fiscal)
                before = latest_period.previous()
                previous = next((t for t in trend if t.start == before.start), None)
                if previous is not None:
                    found_change = signals.change(o.latest.value, previous.value)
                    if found_change is not None:
                        change = Change(
                            absolute=found_change.absolute, relative=found_change.relative
                        )
                    previous_status = evaluate_for(previous.value, schedule, before)
                    now_status = evaluate_for(o.latest.value, schedule, latest_period)
                    status_changed = Status.NO_DATA not in (previous_status, now_status) and (
                        previous_status != now_status
                    )
            out[o.id] = ObjectiveSummary(
                **o.model_dump(),
                goal=g.id,
                goal_title=g.title,
                previous=previous,
                previous_status=previous_status,
                change=change,
                status_changed=status_changed,
                trend=trend,
            )
    return view, applied, out


def _goal(
    goal_id: str, title: str, description: str | None, summaries: dict[str, ObjectiveSummary]
) -> GoalSummary:
    objectives = [o for o in summaries.values() if o.goal == goal_id]
    return GoalSummary(
        id=goal_id,
        title=title,
        description=description,
        objectives=objectives,
        counts=_counts(objectives),
    )


def _department_summary(
    applied: AppliedPlan, department_id: str, summaries: dict[str, ObjectiveSummary]
) -> DepartmentSummary:
    found = applied.departments[department_id]
    owned = [o for o in summaries.values() if o.department == department_id]
    return DepartmentSummary(
        id=found.id,
        title=found.title,
        parent=found.parent,
        objectives=len(owned),
        counts=_counts(owned),
    )


def _counts(objectives: Iterable[ObjectiveSummary]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for o in objectives:
        counts[o.status] = counts.get(o.status, 0) + 1
    return counts


def _source_status(session: Session, actor: Actor, reader: Reader, source: Source) -> SourceStatus:
    fresh = source_freshness(session, source, dt.datetime.now(dt.UTC))
    last_status = None
    # The last run only where /runs lists it: runs of a dataset one may read.
    if allowed(actor, RUN_READ, Resource("source", source.id, source.owner)) and reader.visible(
        source.dataset_id
    ):
        last_status = source_runs.last_status(session, source.id)
    return SourceStatus(
        id=source.id,
        title=source.title,
        dataset=source.dataset_id,
        last_success=fresh.last_success,
        stale_after_hours=fresh.stale_after_hours,
        stale=fresh.stale,
        last_run_status=last_status,
    )
