"""What the public may see of a measure: published measures only, small cells suppressed.

This is the one function public outputs (the portal, the open data API, public reports)
call for numbers. It takes no actor: the public is anonymous. A measure that may not be
published (see ``publication``) answers exactly like one that does not exist.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel

from civicstat.governance.suppression import Cell, dimension_of, suppress
from civicstat.metadata import approvals, observations
from civicstat.services import publication
from civicstat.services.context import Context
from civicstat.services.errors import NotFound


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
        plan = ctx.applied_plan(session)
        measure = plan.measures.get(measure_id) if plan else None
        if plan is None or measure is None:
            raise NotFound.of("measure", measure_id)
        state = publication.state(session, plan, measure)
        if not state.publishable:
            raise NotFound.of("measure", measure_id)
        # Only numbers an approved definition produced (any, when approval is not needed).
        approved = approvals.approved_hashes(session, measure_id) if state.needs_approval else None
        rows = [
            o
            for o in observations.current_observations(session, measure_id)
            if approved is None or o.definition_hash in approved
        ]
    k = plan.suppression.k
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
    return PublicSeries(
        measure=measure.id, title=measure.title, grain=str(measure.grain), k=k, points=points
    )
