"""Ingest runs: what was pulled, when, and how it went."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from civicstat.governance.actors import Actor
from civicstat.governance.permissions import RUN_READ, Resource, allowed
from civicstat.metadata.models import IngestRun
from civicstat.services.context import Context


def recent(ctx: Context, actor: Actor, limit: int = 20) -> Sequence[IngestRun]:
    """The newest runs of the sources the actor may see runs of."""
    with ctx.db.session() as session:
        plan = ctx.applied_plan(session)
        runs = session.scalars(select(IngestRun).order_by(IngestRun.id.desc()).limit(limit)).all()
    owners = {s.id: s.owner for s in plan.sources.values()} if plan else {}
    return [
        r
        for r in runs
        if allowed(actor, RUN_READ, Resource("source", r.source_id, owners.get(r.source_id)))
    ]
