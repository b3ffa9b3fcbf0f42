"""What the public may see of a measure: published measures only, small cells suppressed.

This is the one function public outputs (the portal, the open data API, public reports)
call for numbers. It takes no actor: the public is anonymous. A measure that may not be
published (see ``publication``) answers exactly like one that does not exist.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel
from sqlalchemy.orm import Session

from civicstat.domain.periods import Grain, period_of
from civicstat.domain.targets import Status, TargetSchedule
from civicstat.governance.actors import PUBLIC
from civicstat.governance.suppression import Cell, dimension_of, suppress
from civicstat.metadata import approvals, observations
from civicstat.metadata.models import Observation
from civicstat.plan import AppliedPlan
from civicstat.services import publication
from civicstat.services.context import Context
from civicstat.services.errors import NotFound
from civicstat.services.freshness import Freshness
from civicstat.services.measures._read import Reading
from civicstat.services.measures.series import (
    Series,
    reported_version,
    series_from,
    with_points,
)
from civicstat.spec.models import Measure


class PublicPoint(BaseModel):
    period_start: dt.date
    period_end: dt.date
    slice: str  # "" for the total, else "dimension=value"
    value: float | None
    numerator: float | None
    denominator: float | None
    n: int | None
    suppressed: bool  # value, numerator, denominator and n withheld: a small cell, or one
    # hidden so that a small cell cannot be worked out from the total


class PublicSeries(BaseModel):
    measure: str
    title: str
    grain: str
    k: int  # the suppression threshold applied
    points: list[PublicPoint]


def public_series(ctx: Context, measure_id: str) -> PublicSeries:
    """Every period and slice of a published measure, with small-cell suppression."""
    with ctx.db.session() as session:
        plan, measure, approved = _published(session, ctx.applied_plan(session), measure_id)
        rows = _current(session, measure.id, approved)
    k = plan.suppression.k
    return PublicSeries(
        measure=measure.id,
        title=measure.title,
        grain=str(measure.grain),
        k=k,
        points=_suppressed(rows, k),
    )


def public_measure(ctx: Context, measure_id: str, target: TargetSchedule | None = None) -> Series:
    """A published measure's total as the staff app's ``Series``, with what suppression
    hides withheld (value, numerator, denominator and n None, status no data, no "as first
    reported") and the status, changes, control limits and projection worked out from the
    values shown only, so that nothing hidden can be read back from them. Only numbers an
    approved definition computed appear. NotFound, exactly as for a missing measure, when
    it may not be published. ``target`` defaults to that of its first objective."""
    with ctx.db.session() as session:
        return measure_series(session, ctx.applied_plan(session), measure_id, target)


def measure_series(
    session: Session,
    plan: AppliedPlan | None,
    measure_id: str,
    target: TargetSchedule | None = None,
    *,
    known: publication.Publication | None = None,
    freshness: list[Freshness] | None = None,
) -> Series:
    """:func:`public_measure` in an open session, for a page showing many measures: pass
    the measure's publication state (``known``) and its sources' freshness when they have
    been worked out already."""
    plan, measure, approved = _published(session, plan, measure_id, known)
    versions = [
        v
        for v in observations.every_version(session, measure.id, "")
        if approved is None or v.definition_hash in approved
    ]
    read = Reading(session, plan, PUBLIC, measure)
    if freshness is not None:
        read.__dict__["freshness"] = freshness  # Reading.freshness, already looked up
    staff = series_from(read, "", versions, [], target)
    k = plan.suppression.k
    # A total is suppressed on its own count only (see governance.suppression): the totals
    # are read without the slices.
    current = [v for v in versions if v.superseded_at is None]
    shown = {p.period_start: p for p in _suppressed(current, k)}
    by_period: dict[dt.date, list[Observation]] = {}
    for v in versions:
        by_period.setdefault(v.period_start, []).append(v)
    fiscal = plan.settings.fiscal_year_start_month
    points = []
    for point in staff.points:
        public = shown.get(point.start)
        if public is None:
            continue
        if public.suppressed:
            points.append(point.model_copy(update=_WITHHELD))
            continue
        period = period_of(point.start, Grain(measure.grain), fiscal)
        if reported_version(by_period[point.start], period).n < k:
            # What was first reported was a small cell: it is not repeated.
            point = point.model_copy(update={"as_reported": None, "restated": False})
        points.append(point)
    return with_points(plan, measure, staff, points)


_WITHHELD = {
    "value": None,
    "numerator": None,
    "denominator": None,
    "n": None,
    "status": Status.NO_DATA,
    "as_reported": None,
    "restated": False,
}


def _published(
    session: Session,
    plan: AppliedPlan | None,
    measure_id: str,
    known: publication.Publication | None = None,
) -> tuple[AppliedPlan, Measure, set[str] | None]:
    """The plan, the measure once it may be published, and the definition hashes whose
    numbers may be shown (None: any, when approval is not needed)."""
    measure = plan.measures.get(measure_id) if plan else None
    if plan is None or measure is None:
        raise NotFound.of("measure", measure_id)
    state = known if known is not None else publication.state(session, plan, measure)
    if state.measure_id != measure.id or not state.publishable:
        raise NotFound.of("measure", measure_id)
    approved = approvals.approved_hashes(session, measure_id) if state.needs_approval else None
    return plan, measure, approved


def _current(session: Session, measure_id: str, approved: set[str] | None) -> list[Observation]:
    """Current observations computed by a definition whose numbers may be shown."""
    return [
        o
        for o in observations.current_observations(session, measure_id)
        if approved is None or o.definition_hash in approved
    ]


def _suppressed(rows: list[Observation], k: int) -> list[PublicPoint]:
    cells = {o.id: Cell(o.period_start, dimension_of(o.slice_key), o.slice_key, o.n) for o in rows}
    hidden = suppress(cells.values(), k)
    points = []
    for o in rows:
        secret = cells[o.id] in hidden
        points.append(
            PublicPoint(
                period_start=o.period_start,
                period_end=o.period_end,
                slice=o.slice_key,
                value=None if secret else o.value,
                numerator=None if secret else o.numerator,
                denominator=None if secret else o.denominator,
                n=None if secret else o.n,
                suppressed=secret,
            )
        )
    return points
