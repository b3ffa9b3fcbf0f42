"""What changed since a page was drawn: the newest observation, and the measures computed
after a given one.

Pages poll this (through the ``/events`` stream) to update as data lands. It reads the
metadata store, so it sees observations stored by any process: the web server's scheduler,
a ``civicstat worker``, or a ``civicstat ingest`` run from a shell.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from civicstat.governance.actors import Actor
from civicstat.governance.permissions import MEASURE_READ, PLAN_READ, Resource, allowed, require
from civicstat.metadata.models import Observation
from civicstat.services.context import Context


@dataclass(frozen=True)
class Changes:
    newest: int  # id of the newest observation stored; 0 when there is none
    measures: list[str]  # measures with observations newer than the mark, that the actor may read


def newest(ctx: Context, actor: Actor) -> int:
    """The mark to watch from: the id of the newest observation (0 when none)."""
    require(actor, PLAN_READ, Resource("plan", "plan"))
    with ctx.db.session() as session:
        return session.scalar(select(func.max(Observation.id))) or 0


def changes_since(ctx: Context, actor: Actor, mark: int) -> Changes:
    """Measures given new observations since ``mark`` (one cheap query when there are none)."""
    require(actor, PLAN_READ, Resource("plan", "plan"))
    with ctx.db.session() as session:
        top = session.scalar(select(func.max(Observation.id))) or 0
        if top <= mark:
            return Changes(top, [])
        changed = session.scalars(
            select(Observation.measure_id)
            .where(Observation.id > mark, Observation.id <= top)
            .distinct()
        ).all()
        plan = ctx.applied_plan(session)
    readable = []
    for measure_id in sorted(changed):
        measure = plan.measures.get(measure_id) if plan else None
        if plan is None or measure is None:
            continue
        owner = plan.owner(measure)
        if allowed(actor, MEASURE_READ, Resource("measure", measure_id, owner)):
            readable.append(measure_id)
    return Changes(top, readable)
