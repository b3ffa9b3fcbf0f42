"""A measure broken down by slice (district, request type, …): each slice's latest value,
its change from the previous period, its status against the objective's target and its
recent trend, sortable by any of them."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel

from civicstat.domain import signals
from civicstat.domain.periods import Grain, Period, period_of
from civicstat.domain.targets import Status, TargetSchedule, evaluate_for, target_for
from civicstat.governance.actors import Actor
from civicstat.metadata import observations
from civicstat.metrics import kinds
from civicstat.services.context import Context
from civicstat.services.measures._read import Reading, reading
from civicstat.services.measures.series import objective_target
from civicstat.services.trends import TREND_PERIODS, Change, TrendPoint

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


def breakdown(
    ctx: Context,
    actor: Actor,
    measure_id: str,
    *,
    sort: SortKey = "slice",
    descending: bool = False,
) -> Breakdown:
    with reading(ctx, actor, measure_id) as read:
        return breakdown_of(read, sort=sort, descending=descending)


@dataclass(frozen=True)
class _Frame:
    """What every slice row of one breakdown is measured against."""

    grain: Grain
    fiscal: int
    today: dt.date
    schedule: TargetSchedule | None
    stale: bool
    latest: Period | None


def breakdown_of(read: Reading, *, sort: SortKey = "slice", descending: bool = False) -> Breakdown:
    """The breakdown of a measure being read (see :func:`breakdown`)."""
    plan, measure = read.plan, read.measure
    cells = observations.current_cells(read.session, measure.id)
    stale = read.stale
    fiscal = plan.settings.fiscal_year_start_month
    grain = Grain(measure.grain)
    by_slice: dict[str, list[tuple[dt.date, float | None, int]]] = {}
    for key, start, value, n in cells:
        by_slice.setdefault(key, []).append((start, value, n))
    starts = [start for start, _, _ in by_slice.get("", [])] or [
        start for found in by_slice.values() for start, _, _ in found
    ]
    frame = _Frame(
        grain=grain,
        fiscal=fiscal,
        today=dt.datetime.now(zoneinfo.ZoneInfo(plan.settings.timezone)).date(),
        schedule=objective_target(plan, measure.id),
        stale=stale,
        latest=period_of(max(starts), grain, fiscal) if starts else None,
    )
    slices = [_row(frame, key, found) for key, found in by_slice.items() if key]
    latest = frame.latest
    return Breakdown(
        measure=measure.id,
        title=measure.title,
        unit=kinds.get(measure.kind).unit(plan.effective(measure)),
        period=latest.label if latest else None,
        partial=latest.is_partial(frame.today) if latest else False,
        dimensions=sorted({r.dimension for r in slices}),
        total=_row(frame, "", by_slice[""]) if "" in by_slice else None,
        rows=_sorted(slices, sort, descending),
        sort=sort,
        descending=descending,
    )


def _row(frame: _Frame, key: str, found: list[tuple[dt.date, float | None, int]]) -> SliceRow:
    """One slice's latest value, change, status and trend."""
    latest, schedule = frame.latest, frame.schedule
    values = {start: (value, n) for start, value, n in found}
    value, n = values.get(latest.start, (None, 0)) if latest else (None, 0)
    previous = values.get(latest.previous().start, (None, 0))[0] if latest else None
    change = signals.change(value, previous)
    status = (
        evaluate_for(value, schedule, latest, stale=frame.stale)
        if schedule is not None and latest is not None
        else Status.NO_DATA
    )
    trend = []
    for start, v, _ in found[-TREND_PERIODS:]:
        period = period_of(start, frame.grain, frame.fiscal)
        goal = target_for(schedule, period) if schedule is not None else None
        trend.append(
            TrendPoint(
                period=period.label,
                start=start,
                value=v,
                target=goal.value if goal else None,
                partial=period.is_partial(frame.today),
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
