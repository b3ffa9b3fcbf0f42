"""The one guard for reading a measure, and one read of it: the plan looked up once,
``measure:read`` checked once, the sources' freshness worked out at most once — however
many parts of an answer (series, breakdown, lineage) are built from it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property

from sqlalchemy.orm import Session

from civicstat.governance.actors import Actor
from civicstat.governance.permissions import MEASURE_READ, Resource, allowed, require
from civicstat.plan import AppliedPlan
from civicstat.services.context import Context
from civicstat.services.errors import NotFound
from civicstat.services.freshness import Freshness, freshness_of
from civicstat.spec.models import Measure


def _resource(plan: AppliedPlan, measure: Measure) -> Resource:
    return Resource("measure", measure.id, plan.owner(measure))


def readable_measure(plan: AppliedPlan, actor: Actor, measure_id: str) -> Measure:
    """The measure, once the actor may read it (``measure:read``); one it may not read
    answers like one that does not exist."""
    measure = plan.measures.get(measure_id)
    if measure is None:
        raise NotFound.of("measure", measure_id)
    require(actor, MEASURE_READ, _resource(plan, measure))
    return measure


def may_read(plan: AppliedPlan, actor: Actor, measure_id: str) -> bool:
    """Whether the actor may read the measure (for filtering lists, without raising)."""
    measure = plan.measures.get(measure_id)
    return measure is not None and allowed(actor, MEASURE_READ, _resource(plan, measure))


@dataclass
class Reading:
    """A measure being read for one request, inside one metadata session."""

    session: Session
    plan: AppliedPlan
    actor: Actor
    measure: Measure

    @cached_property
    def freshness(self) -> list[Freshness]:
        """Each source behind the measure, looked up on first use only."""
        return freshness_of(self.session, self.plan, self.measure)

    @property
    def stale(self) -> bool:
        return any(f.stale for f in self.freshness)


@contextmanager
def reading(ctx: Context, actor: Actor, measure_id: str) -> Iterator[Reading]:
    """Open a session, read the plan and check ``measure:read``, once."""
    with ctx.db.session() as session:
        plan = ctx.require_plan(session)
        measure = readable_measure(plan, actor, measure_id)
        yield Reading(session, plan, actor, measure)
