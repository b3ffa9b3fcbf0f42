"""What changed since a page was drawn: the newest observation, and the measures computed
after a given one.

Pages poll this (through the ``/events`` stream) to update as data lands. It reads the
metadata store, so it sees observations stored by any process: the web server's scheduler,
a ``civicstat worker``, or a ``civicstat ingest`` run from a shell.
"""

from __future__ import annotations

from dataclasses import dataclass

from civicstat.governance.actors import Actor
from civicstat.governance.permissions import PLAN_READ, Resource, require
from civicstat.metadata import observations
from civicstat.services.context import Context
from civicstat.services.measures._read import may_read


@dataclass(frozen=True)
class Changes:
    newest: int  # id of the newest observation stored; 0 when there is none
    measures: list[str]  # measures with observations newer than the mark, that the actor may read


def newest(ctx: Context, actor: Actor) -> int:
    """The mark to watch from: the id of the newest observation (0 when none)."""
    require(actor, PLAN_READ, Resource("plan", "plan"))
    with ctx.db.session() as session:
        return observations.newest_id(session)


def changes_since(ctx: Context, actor: Actor, mark: int) -> Changes:
    """Measures given new observations since ``mark`` (one cheap query when there are none)."""
    require(actor, PLAN_READ, Resource("plan", "plan"))
    with ctx.db.session() as session:
        top = observations.newest_id(session)
        if top <= mark:
            return Changes(top, [])
        changed = observations.measures_stored_between(session, mark, top)
        plan = ctx.applied_plan(session)
    if plan is None:
        return Changes(top, [])
    return Changes(top, [m for m in sorted(changed) if may_read(plan, actor, m)])
