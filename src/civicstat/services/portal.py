"""What the transparency portal's pages show: the city's goals with their published
objectives, and a published measure with its method in plain words, freshness and the
breakdown of its latest period, every number through ``services.public``.

A goal is public plan text; an objective appears only when its measure may be published.
A measure that may not be published, like a dataset that is not public, answers exactly
like one that does not exist; so does everything when the portal is switched off.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pydantic import BaseModel
from sqlalchemy.orm import Session

from civicstat.domain.targets import Status
from civicstat.metadata import observations
from civicstat.plan import AppliedPlan
from civicstat.services import open_data, publication
from civicstat.services._plain_words import what_counts
from civicstat.services.context import Context
from civicstat.services.errors import NotFound
from civicstat.services.freshness import Freshness, freshness_of, source_freshness
from civicstat.services.measures.lineage import ObjectiveRef, method_of, objectives_of
from civicstat.services.measures.series import Point, Series
from civicstat.services.public import PublicPoint, measure_series, public_series
from civicstat.spec.models import Goal, Measure, Objective

TREND_PERIODS = 12  # periods a sparkline shows


class PublicObjective(BaseModel):
    id: str
    title: str
    department: str
    department_title: str
    measure: str
    measure_title: str
    unit: str
    direction: str
    warning_band: float
    latest: Point | None  # its value None when withheld
    target: float | None  # for the latest period
    status: Status
    trend: list[Point]  # the last TREND_PERIODS periods


class PublicGoal(BaseModel):
    id: str
    title: str
    description: str | None
    objectives: list[PublicObjective]  # published ones only


class PortalPlan(BaseModel):
    portal_title: str
    title: str  # the plan's
    period_start: dt.date
    period_end: dt.date
    revision: int
    k: int  # the suppression threshold
    goals: list[PublicGoal]


class DatasetRef(BaseModel):
    id: str
    title: str
    public: bool  # has a page in the catalog


class PortalMeasure(BaseModel):
    id: str
    title: str
    description: str | None
    unit: str
    grain: str
    method: str
    counts: list[str]  # what counts and what does not, in plain words
    datasets: list[DatasetRef]
    objectives: list[ObjectiveRef]
    series: Series
    breakdown: list[PublicPoint]  # each slice of the latest period with slices
    k: int
    computed_at: dt.datetime | None  # the newest number (UTC)
    last_success: dt.datetime | None  # the oldest latest pull of the data under it (UTC)
    stale: bool


def portal_title(plan: AppliedPlan) -> str:
    return plan.settings.portal.title or f"{plan.settings.title} Open Data"


class PortalSite(BaseModel):
    """What every portal page's frame says: its name, the suppression threshold, and the
    site's public address (``portal.url``, no trailing slash) when the workspace sets one,
    for absolute links instead of the address a request came to."""

    title: str
    k: int
    url: str | None
    embed_origins: list[str] = []  # sites whose pages may frame the measure cards


def site(ctx: Context) -> PortalSite:
    """The portal's frame; NotFound when it is switched off."""
    with ctx.db.session() as session:
        plan = _portal_plan(ctx, session)
    portal = plan.settings.portal
    return PortalSite(
        title=portal_title(plan),
        k=plan.suppression.k,
        url=portal.url.rstrip("/") if portal.url else None,
        embed_origins=list(portal.embed_origins),
    )


def portal_plan(ctx: Context) -> PortalPlan:
    """The plan with each goal's published objectives."""
    with ctx.db.session() as session:
        plan = _portal_plan(ctx, session)
        published = _publishable(session, plan)
        goals = [_goal(session, plan, g, published) for g in plan.goals]
    return PortalPlan(
        portal_title=portal_title(plan),
        title=plan.title,
        period_start=plan.period.start,
        period_end=plan.period.end,
        revision=plan.revision_id,
        k=plan.suppression.k,
        goals=goals,
    )


def portal_goal(ctx: Context, goal_id: str) -> PublicGoal:
    """One goal with its published objectives; NotFound for a goal not in the plan."""
    with ctx.db.session() as session:
        plan = _portal_plan(ctx, session)
        goal = next((g for g in plan.goals if g.id == goal_id), None)
        if goal is None:
            raise NotFound.of("goal", goal_id)
        published = _publishable(session, plan)
        return _goal(session, plan, goal, published)


def portal_measure(ctx: Context, measure_id: str) -> PortalMeasure:
    """A published measure's page; NotFound exactly as for a missing one otherwise."""
    with ctx.db.session() as session:
        plan = _portal_plan(ctx, session, measure_id)
        # NotFound, as for a missing measure, when it may not be published.
        series = measure_series(session, plan, measure_id)
        measure = plan.measures[measure_id]
        fresh = freshness_of(session, plan, measure)
        computed_at, _ = observations.current_extent(session, measure.id)
    cells = public_series(ctx, measure_id)
    sliced = [p for p in cells.points if p.slice]
    latest = max((p.period_start for p in sliced), default=None)
    datasets = sorted(plan.datasets_of(measure))
    sources = [plan.source_for_dataset(d) for d in datasets]
    public = all(s is not None and open_data.is_public(s) for s in sources)
    successes = [f.last_success for f in fresh]
    row = plan.effective(measure)
    return PortalMeasure(
        id=measure.id,
        title=measure.title,
        description=measure.description,
        unit=series.unit,
        grain=str(measure.grain),
        method=method_of(measure),
        counts=what_counts(plan, row, measure, show_conditions=public),
        datasets=[_dataset_ref(plan, d) for d in datasets],
        objectives=objectives_of(plan, measure_id),
        series=series,
        breakdown=[p for p in sliced if p.period_start == latest],
        k=cells.k,
        computed_at=_utc(computed_at),
        last_success=_oldest(successes),
        stale=any(f.stale for f in fresh),
    )


def _portal_plan(ctx: Context, session: Session, measure_id: str | None = None) -> AppliedPlan:
    """The applied plan, while the portal is on: NotFound otherwise (for a measure page,
    the measure's own NotFound)."""
    plan = ctx.applied_plan(session)
    if plan is None or not plan.settings.portal.enabled:
        if measure_id is not None:
            raise NotFound.of("measure", measure_id)
        raise NotFound("no such page")
    return plan


@dataclass(frozen=True)
class _Published:
    """What the plan's pages work out once: each publishable measure's state, each
    source's freshness."""

    states: dict[str, publication.Publication]
    fresh: dict[str, Freshness]

    def __contains__(self, measure_id: object) -> bool:
        return measure_id in self.states

    def freshness(self, plan: AppliedPlan, measure: Measure) -> list[Freshness]:
        sources = [plan.source_for_dataset(d) for d in sorted(plan.datasets_of(measure))]
        return [self.fresh[s.id] for s in sources if s is not None]


def _publishable(session: Session, plan: AppliedPlan) -> _Published:
    states = {m.id: publication.state(session, plan, m) for m in plan.measures.values()}
    now = dt.datetime.now(dt.UTC)
    return _Published(
        states={m: s for m, s in states.items() if s.publishable},
        fresh={s.id: source_freshness(session, s, now) for s in plan.sources.values()},
    )


def _goal(session: Session, plan: AppliedPlan, goal: Goal, published: _Published) -> PublicGoal:
    objectives = [
        _objective(session, plan, o, published) for o in goal.objectives if o.measure in published
    ]
    return PublicGoal(
        id=goal.id, title=goal.title, description=goal.description, objectives=objectives
    )


def _objective(
    session: Session, plan: AppliedPlan, objective: Objective, published: _Published
) -> PublicObjective:
    measure = plan.measures[objective.measure]
    series = measure_series(
        session,
        plan,
        measure.id,
        objective.target.to_domain(),
        known=published.states[measure.id],
        freshness=published.freshness(plan, measure),
    )
    latest = series.points[-1] if series.points else None
    department = plan.departments.get(objective.department)
    return PublicObjective(
        id=objective.id,
        title=objective.title,
        department=objective.department,
        department_title=department.title if department else objective.department,
        measure=measure.id,
        measure_title=measure.title,
        unit=series.unit,
        direction=objective.target.direction,
        warning_band=objective.target.warning_band,
        latest=latest,
        target=latest.target if latest else None,
        status=series.status,
        trend=series.points[-TREND_PERIODS:],
    )


def _dataset_ref(plan: AppliedPlan, dataset_id: str) -> DatasetRef:
    source = plan.source_for_dataset(dataset_id)
    if source is None:
        return DatasetRef(id=dataset_id, title=dataset_id, public=False)
    return DatasetRef(id=dataset_id, title=source.title, public=open_data.is_public(source))


def _oldest(moments: list[dt.datetime | None]) -> dt.datetime | None:
    """The oldest of the sources' last pulls; None when any never pulled."""
    known = [m for m in moments if m is not None]
    return min(known) if known and len(known) == len(moments) else None


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=dt.UTC)
