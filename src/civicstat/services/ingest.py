"""Ingest a source, then recompute the measures that read its dataset."""

from __future__ import annotations

from dataclasses import dataclass

from civicstat.governance.actors import Actor
from civicstat.governance.permissions import SOURCE_INGEST, Resource, require
from civicstat.pipeline.ingest import IngestResult, run_source
from civicstat.services import measures
from civicstat.services.context import Context
from civicstat.services.errors import NotFound


@dataclass(frozen=True)
class IngestOutcome:
    result: IngestResult
    computed: list[measures.ComputeOutcome]


def ingest(ctx: Context, actor: Actor, source_id: str, *, recompute: bool = True) -> IngestOutcome:
    with ctx.db.session() as session:
        plan = ctx.require_plan(session)
    source = plan.sources.get(source_id)
    if source is None:
        raise NotFound(f"unknown source {source_id!r} (known: {', '.join(sorted(plan.sources))})")
    require(
        actor, SOURCE_INGEST, Resource("source", source.id, source.owner, source.classification)
    )
    result = run_source(ctx.db, ctx.lake, ctx.root, source, actor)
    computed = (
        measures.compute(ctx, actor, measures.for_dataset(plan, source.dataset_id))
        if recompute
        else []
    )
    return IngestOutcome(result, computed)


def source_ids(ctx: Context) -> list[str]:
    with ctx.db.session() as session:
        plan = ctx.require_plan(session)
    return sorted(plan.sources)
