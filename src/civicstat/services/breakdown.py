"""A measure broken down by slice (district, request type, …): each slice's latest value,
its change from the previous period, its status against the objective's target and its
recent trend, sortable by any of them."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import select

from civicstat.domain import signals
from civicstat.domain.periods import Grain, period_of
from civicstat.domain.targets import Status, evaluate_for, target_for
from civicstat.governance.actors import Actor
from civicstat.governance.permissions import MEASURE_READ, Resource, require
from civicstat.metadata.models import Observation
from civicstat.metrics import kinds
from civicstat.plan import AppliedPlan
from civicstat.services import series
from civicstat.services.context import Context
from civicstat.services.errors import NotFound
from civicstat.services.overview import TREND_PERIODS, TrendPoint
from civicstat.services.series import Change
from civicstat.spec.models import Measure

SortKey = Literal["slice", "value", "change", "n", "status"]
SORT_KEYS: tuple[SortKey, ...] = ("slice", "value", "change", "n", "status")
_SEVERITY = {s: i for i, s in enumerate(Status)}


class SliceRow(BaseModel):
    key: str  # e.g. district=Harbor
    dimension: str  # district
    label: str  # Harbor
    value: float | None  # in the breakdown's period
    n: int
    previous: float | None
    change: Change | None
    status: Status
    trend: list[TrendPoint]


class Breakdown(BaseModel):
    measure: str
    title: str
    unit: str
    period: str | None  # the latest period of the measure's total
    partial: bool
    dimensions: list[str]
    total: SliceRow | None
    rows: list[SliceRow]
    sort: SortKey
    descending: bool


def readable_measure(plan: AppliedPlan, actor: Actor, measure_id: str) -> Measure:
    """The measure, once the actor may read it (``measure:read``)."""
    measure = plan.measures.get(measure_id)
    if measure is None:
        raise NotFound.of("measure", measure_id)
    owner = plan.owner(measure)
    require(actor, MEASURE_READ, Resource("measure", measure_id, owner))
    return measure


def breakdown(
    ctx: Context,
    actor: Actor,
    measure_id: str,
    *,
    sort: SortKey = "slice",
    descending: bool = False,
) -> Breakdown:
    with ctx.db.session() as session:
        plan = ctx.require_plan(session)
        measure = readable_measure(plan, actor, measure_id)
        rows = session.execute(
            select(
                Observation.slice_key, Observation.period_start, Observation.value, Observation.n
            )
            .where(Observation.measure_id == measure_id, Observation.superseded_at.is_(None))
            .order_by(Observation.slice_key, Observation.period_start)
        ).all()
        stale = any(f.stale for f in series.freshness_of(session, plan, measure))
    fiscal = plan.settings.fiscal_year_start_month
    grain = Grain(measure.grain)
    today = dt.datetime.now(zoneinfo.ZoneInfo(plan.settings.timezone)).date()
    schedule = series.objective_target(plan, measure_id)
    by_slice: dict[str, list[tuple[dt.date, float | None, int]]] = {}
    for key, start, value, n in rows:
        by_slice.setdefault(key, []).append((start, value, n))
    starts = [start for start, _, _ in by_slice.get("", [])] or [
        start for found in by_slice.values() for start, _, _ in found
    ]
    latest = period_of(max(starts), grain, fiscal) if starts else None

    def row(key: str) -> SliceRow:
        found = by_slice.get(key, [])
        values = {start: (value, n) for start, value, n in found}
        value, n = values.get(latest.start, (None, 0)) if latest else (None, 0)
        previous = values.get(latest.previous().start, (None, 0))[0] if latest else None
        change = signals.change(value, previous)
        status = (
            evaluate_for(value, schedule, latest, stale=stale)
            if schedule is not None and latest is not None
            else Status.NO_DATA
        )
        trend = []
        for start, v, _ in found[-TREND_PERIODS:]:
            period = period_of(start, grain, fiscal)
            goal = target_for(schedule, period) if schedule is not None else None
            trend.append(
                TrendPoint(
                    period=period.label,
                    start=start,
                    value=v,
                    target=goal.value if goal else None,
                    partial=period.is_partial(today),
                )
            )
        dimension, _, label = key.partition("=")
        return SliceRow(
            key=key,
            dimension=dimension,
            label=label or "All",
            value=value,
            n=n,
            previous=previous,
            change=Change(absolute=change.absolute, relative=change.relative) if change else None,
            status=status,
            trend=trend,
        )

    slices = [row(key) for key in by_slice if key]
    return Breakdown(
        measure=measure.id,
        title=measure.title,
        unit=kinds.get(measure.kind).unit(plan.effective(measure)),
        period=latest.label if latest else None,
        partial=latest.is_partial(today) if latest else False,
        dimensions=sorted({r.dimension for r in slices}),
        total=row("") if "" in by_slice else None,
        rows=_sorted(slices, sort, descending),
        sort=sort,
        descending=descending,
    )


def _sorted(rows: list[SliceRow], sort: SortKey, descending: bool) -> list[SliceRow]:
    """Rows in the order asked; rows without a value stay last either way."""
    if sort == "slice":
        return sorted(rows, key=lambda r: (r.dimension, r.label.casefold()), reverse=descending)
    if sort == "status":
        return sorted(rows, key=lambda r: (_SEVERITY[r.status], r.label), reverse=descending)

    def number(r: SliceRow) -> float | None:
        if sort == "value":
            return r.value
        if sort == "change":
            return r.change.absolute if r.change else None
        return float(r.n)

    known = [r for r in rows if number(r) is not None]
    unknown = [r for r in rows if number(r) is None]
    known.sort(key=lambda r: (number(r) or 0.0, r.label), reverse=descending)
    return known + sorted(unknown, key=lambda r: r.label)
