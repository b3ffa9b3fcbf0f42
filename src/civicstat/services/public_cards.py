"""A published measure in brief, for embeds, badges and stories: its latest value, status
against the plan's target, a recent trend and how fresh the data is.

Every number comes from :func:`services.public.public_series` (publishable measures only,
small cells suppressed); a suppressed value is withheld and so is its status, which would
hint at it. A measure that may not be published, or a portal switched off, answers
``NotFound`` exactly like a measure that does not exist.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from pydantic import BaseModel

from civicstat.domain.periods import Grain, Period, period_of
from civicstat.domain.targets import Direction, Status, TargetSchedule, evaluate_for, target_for
from civicstat.metrics import kinds
from civicstat.plan import AppliedPlan
from civicstat.services.context import Context
from civicstat.services.errors import NotFound
from civicstat.services.freshness import freshness_of
from civicstat.services.public import PublicPoint, public_series
from civicstat.services.trends import TREND_PERIODS
from civicstat.spec.models import Measure

__all__ = ["CardPoint", "PublicCard", "card"]


class CardPoint(BaseModel):
    period: str  # its label, e.g. 2025-06
    start: dt.date
    value: float | None  # None when suppressed or not computed
    target: float | None
    suppressed: bool
    partial: bool  # the period is still running


class PublicCard(BaseModel):
    measure: str
    title: str
    description: str | None
    unit: str
    grain: str
    latest: CardPoint | None  # the newest period's total
    status: Status  # of the latest value against its target; no_data when withheld
    direction: Direction | None  # from the plan's objective, when one measures it
    warning_band: float  # of that objective's target (0 without one)
    trend: list[CardPoint]  # oldest first, at most TREND_PERIODS
    as_of: dt.datetime | None  # when the data behind it was last pulled (UTC)
    stale: bool
    k: int  # the suppression threshold applied


def card(ctx: Context, measure_id: str) -> PublicCard:
    """The card of a measure anyone may see; ``NotFound`` for any other."""
    with ctx.db.session() as session:
        plan = ctx.applied_plan(session)
        if plan is None or not plan.settings.portal.enabled:
            raise NotFound.of("measure", measure_id)
    series = public_series(ctx, measure_id)  # NotFound unless publishable
    measure = plan.measures[measure_id]
    with ctx.db.session() as session:
        fresh = freshness_of(session, plan, measure)
    successes = [f.last_success for f in fresh]
    as_of = None if None in successes or not successes else min(s for s in successes if s)
    stale = any(f.stale for f in fresh)
    schedule, direction, band = _target(plan, measure)
    today = dt.datetime.now(zoneinfo.ZoneInfo(plan.settings.timezone)).date()
    fiscal = plan.settings.fiscal_year_start_month
    totals = [p for p in series.points if p.slice == ""]
    trend = [
        _point(p, period_of(p.period_start, Grain(measure.grain), fiscal), schedule, today)
        for p in totals[-TREND_PERIODS:]
    ]
    latest = trend[-1] if trend else None
    status = Status.NO_DATA
    if latest is not None and schedule is not None and latest.value is not None:
        period = period_of(latest.start, Grain(measure.grain), fiscal)
        status = evaluate_for(latest.value, schedule, period, stale=stale)
    return PublicCard(
        measure=measure.id,
        title=measure.title,
        description=measure.description,
        unit=kinds.get(measure.kind).unit(plan.effective(measure)),
        grain=str(measure.grain),
        latest=latest,
        status=status,
        direction=direction,
        warning_band=band,
        trend=trend,
        as_of=as_of,
        stale=stale,
        k=series.k,
    )


def _target(
    plan: AppliedPlan, measure: Measure
) -> tuple[TargetSchedule | None, Direction | None, float]:
    """The target of the first objective the measure is the KPI of, if any."""
    for _, objective in plan.objectives():
        if objective.measure == measure.id:
            target = objective.target
            return target.to_domain(), target.direction, target.warning_band
    return None, None, 0.0


def _point(
    point: PublicPoint, period: Period, schedule: TargetSchedule | None, today: dt.date
) -> CardPoint:
    found = target_for(schedule, period) if schedule is not None else None
    return CardPoint(
        period=period.label,
        start=period.start,
        value=point.value,
        target=found.value if found else None,
        suppressed=point.suppressed,
        partial=period.is_partial(today),
    )
