"""A measure's series as people read it: values with targets and status, what changed,
whether a change is a signal or noise, where the period will land, and what was reported.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable, Sequence

from pydantic import BaseModel

from civicstat.domain import signals
from civicstat.domain.periods import Grain, Period, period_of
from civicstat.domain.targets import Status, TargetSchedule, evaluate_for, target_for
from civicstat.governance.actors import Actor
from civicstat.metadata import observations
from civicstat.metadata.models import Observation
from civicstat.metrics import kinds
from civicstat.plan import AppliedPlan
from civicstat.services.context import Context
from civicstat.services.errors import NotFound
from civicstat.services.freshness import Freshness
from civicstat.services.measures._read import Reading, reading
from civicstat.services.trends import Change
from civicstat.spec.models import Measure

_SAME = 1e-12  # relative difference below which a restated value counts as unchanged


class Point(BaseModel):
    period: str  # label, e.g. 2026-10 or FY2026-Q1
    start: dt.date
    end: dt.date
    value: float | None
    numerator: float | None
    denominator: float | None
    n: int | None  # None where a public series withholds a small cell
    partial: bool  # the period is still running: its value may yet change
    target: float | None
    status: Status
    as_reported: float | None  # the value first published once the period had ended
    restated: bool  # the current value differs from what was reported


class Signal(BaseModel):
    period: str
    rule: str  # beyond_limits or run_of_8


class Control(BaseModel):
    """XmR (individuals and moving range) limits over the complete periods."""

    centre: float
    upper: float
    lower: float
    average_moving_range: float
    signals: list[Signal]


class Series(BaseModel):
    measure: str
    title: str
    kind: str
    unit: str
    grain: str
    slice: str
    slices: list[str]
    points: list[Point]
    status: Status  # of the latest period
    change_from_previous: Change | None
    change_from_year_ago: Change | None
    control: Control | None
    projection: float | None  # the running period's value at the current pace
    freshness: list[Freshness]


class Version(BaseModel):
    """One computation of a period's value, newest last."""

    value: float | None
    numerator: float | None
    denominator: float | None
    n: int
    computed_at: dt.datetime
    superseded_at: dt.datetime | None
    definition_hash: str
    data_version: str


def get_series(
    ctx: Context,
    actor: Actor,
    measure_id: str,
    slice_key: str = "",
    target: TargetSchedule | None = None,
) -> Series:
    """The measure's series for one slice ("" is the total), with ``target`` applied
    (default: that of the first objective measured by it)."""
    with reading(ctx, actor, measure_id) as read:
        return series_of(read, slice_key, target)


def series_of(read: Reading, slice_key: str = "", target: TargetSchedule | None = None) -> Series:
    """The series of a measure being read (see :func:`get_series`)."""
    rows = observations.every_version(read.session, read.measure.id, slice_key)
    slices = observations.current_slices(read.session, read.measure.id)
    if slice_key not in slices and slice_key:
        raise NotFound(f"measure {read.measure.id!r} has no slice {slice_key!r}")
    return series_from(read, slice_key, rows, slices, target)


def series_from(
    read: Reading,
    slice_key: str,
    rows: Sequence[Observation],
    slices: list[str],
    target: TargetSchedule | None = None,
) -> Series:
    """The series of one slice from its observations, every version (see
    :func:`series_of`); ``slices`` are the measure's slices to list."""
    plan, measure = read.plan, read.measure
    freshness = read.freshness
    schedule = target if target is not None else objective_target(plan, measure.id)
    tz = zoneinfo.ZoneInfo(plan.settings.timezone)
    today = dt.datetime.now(tz).date()
    stale = any(f.stale for f in freshness)
    fiscal = plan.settings.fiscal_year_start_month
    points = _points(rows, measure.grain, fiscal, today, schedule, stale)
    empty = Series(
        measure=measure.id,
        title=measure.title,
        kind=measure.kind,
        unit=_unit(plan, measure),
        grain=measure.grain,
        slice=slice_key,
        slices=slices,
        points=[],
        status=Status.NO_DATA,
        change_from_previous=None,
        change_from_year_ago=None,
        control=None,
        projection=None,
        freshness=freshness,
    )
    return with_points(plan, measure, empty, points)


def with_points(plan: AppliedPlan, measure: Measure, series: Series, points: list[Point]) -> Series:
    """``series`` with ``points``, and everything worked out from their values (status,
    changes, control limits, projection) worked out from them: a public series that
    withholds small cells derives nothing from a value it does not show."""
    fiscal = plan.settings.fiscal_year_start_month
    today = dt.datetime.now(zoneinfo.ZoneInfo(plan.settings.timezone)).date()
    complete = [p for p in points if not p.partial and p.value is not None]
    latest = points[-1] if points else None
    last_period = period_of(latest.start, Grain(measure.grain), fiscal) if latest else None
    return series.model_copy(
        update={
            "points": points,
            "status": latest.status if latest else Status.NO_DATA,
            "change_from_previous": _change(points, last_period, Period.previous),
            "change_from_year_ago": _change(points, last_period, Period.year_ago),
            "control": _control(complete),
            "projection": _projection(plan, measure, latest, today),
        }
    )


def history(
    ctx: Context, actor: Actor, measure_id: str, period_start: dt.date, slice_key: str = ""
) -> list[Version]:
    """Every value computed for one period and slice: what was reported, and each
    restatement with the definition and data version that produced it."""
    with reading(ctx, actor, measure_id) as read:
        found = observations.period_history(read.session, measure_id, slice_key, period_start)
    return [
        Version(
            value=o.value,
            numerator=o.numerator,
            denominator=o.denominator,
            n=o.n,
            computed_at=o.computed_at,
            superseded_at=o.superseded_at,
            definition_hash=o.definition_hash,
            data_version=f"{v.dataset_id}@{v.version}",
        )
        for o, v in found
    ]


def objective_target(plan: AppliedPlan, measure_id: str) -> TargetSchedule | None:
    """The target of the first objective the measure serves, if any."""
    for _, objective in plan.objectives():
        if objective.measure == measure_id:
            return objective.target.to_domain()
    return None


def _unit(plan: AppliedPlan, measure: Measure) -> str:
    return kinds.get(measure.kind).unit(plan.effective(measure))


def _points(
    rows: Sequence[Observation],
    grain: str,
    fiscal_start_month: int,
    today: dt.date,
    schedule: TargetSchedule | None,
    stale: bool,
) -> list[Point]:
    by_period: dict[dt.date, list[Observation]] = {}
    for row in rows:
        by_period.setdefault(row.period_start, []).append(row)
    points = []
    for start, versions in sorted(by_period.items()):
        current = next((v for v in versions if v.superseded_at is None), None)
        if current is None:
            continue  # the period is no longer computed (e.g. the data behind it is gone)
        period = period_of(start, Grain(grain), fiscal_start_month)
        reported = _as_reported(versions, period)
        goal = target_for(schedule, period) if schedule is not None else None
        status = (
            evaluate_for(current.value, schedule, period, stale=stale)
            if schedule is not None
            else Status.NO_DATA
        )
        points.append(
            Point(
                period=period.label,
                start=period.start,
                end=period.end,
                value=current.value,
                numerator=current.numerator,
                denominator=current.denominator,
                n=current.n,
                partial=period.is_partial(today),
                target=goal.value if goal is not None else None,
                status=status,
                as_reported=reported,
                restated=differs(reported, current.value),
            )
        )
    return points


def _as_reported(versions: Sequence[Observation], period: Period) -> float | None:
    return reported_version(versions, period).value


def reported_version(versions: Sequence[Observation], period: Period) -> Observation:
    """The version first reported: the first computed once the period had ended; the first
    ever if none was."""
    after = [v for v in versions if v.computed_at.date() >= period.end]
    return (after or list(versions))[0]


def differs(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return (a is None) != (b is None)
    return abs(a - b) > _SAME * max(abs(a), abs(b), 1.0)


def _change(
    points: list[Point], latest: Period | None, step: Callable[[Period], Period]
) -> Change | None:
    """Change of the latest value from the period ``step`` leads to (previous, a year ago)."""
    if latest is None:
        return None
    by_start = {p.start: p for p in points}
    now, then = by_start.get(latest.start), by_start.get(step(latest).start)
    if now is None or then is None:
        return None
    found = signals.change(now.value, then.value)
    return Change(absolute=found.absolute, relative=found.relative) if found else None


def _control(points: list[Point]) -> Control | None:
    values = [p.value for p in points if p.value is not None]
    if len(values) < 2:
        return None
    chart = signals.xmr(values)
    return Control(
        centre=chart.centre,
        upper=chart.upper,
        lower=chart.lower,
        average_moving_range=chart.average_moving_range,
        signals=[Signal(period=points[s.index].period, rule=s.rule) for s in chart.signals],
    )


def _projection(
    plan: AppliedPlan, measure: Measure, latest: Point | None, today: dt.date
) -> float | None:
    """Where the running period (or, to date, the running year) will land at this pace."""
    if latest is None or not latest.partial or latest.value is None:
        return None
    row = plan.effective(measure)
    kind = kinds.get(row.kind)
    fiscal = plan.settings.fiscal_year_start_month
    period = period_of(latest.start, Grain(row.grain), fiscal)
    if row.window is not None and row.window.to_date is not None:
        period = period_of(latest.start, Grain(row.window.to_date), fiscal)
    elapsed, total = signals.elapsed_fraction(period, today)
    if elapsed <= 0:
        return None
    return signals.project(latest.value, elapsed=elapsed, total=total, additive=kind.additive)
