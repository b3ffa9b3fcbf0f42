"""Ingest a source, then recompute the measures that read its dataset."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import httpx

from civicstat.connectors.base import Payload
from civicstat.governance.actors import Actor, system
from civicstat.governance.permissions import SOURCE_INGEST, SOURCE_PUSH, Resource, require
from civicstat.metrics import refresh
from civicstat.pipeline.locks import recover_abandoned, source_lock
from civicstat.pipeline.runner import IngestResult, OnFinish, Progress, RunOptions, run_source
from civicstat.services import lake, measures
from civicstat.services.context import Context
from civicstat.services.errors import NotFound
from civicstat.warehouse.bounds import ReadLimits


@dataclass(frozen=True)
class IngestOutcome:
    result: IngestResult
    computed: list[measures.ComputeOutcome]


def ingest(
    ctx: Context,
    actor: Actor,
    source_id: str,
    *,
    recompute: bool = True,
    trigger: str = "manual",
    payloads: Iterable[Payload] | None = None,
    transport: httpx.BaseTransport | None = None,
    progress: Progress | None = None,
    on_finish: OnFinish | None = None,
) -> IngestOutcome:
    """Run a source (or load pushed ``payloads``) and recompute the measures it feeds,
    only for the periods that new rows can change.

    At most one run per source runs at a time, across processes (``SourceBusy``); runs of
    processes that died are marked abandoned first, and the lake files they left are
    swept (once older than the grace period). ``progress`` follows the run for a
    caller that shows it (see :class:`~civicstat.pipeline.runner.Progress`).
    """
    with ctx.db.session() as session:
        plan = ctx.require_plan(session)
    source = plan.sources.get(source_id)
    if source is None:
        raise NotFound(f"unknown source {source_id!r} (known: {', '.join(sorted(plan.sources))})")
    action = SOURCE_PUSH if trigger == "push" else SOURCE_INGEST
    require(actor, action, Resource("source", source.id, source.owner, source.classification))
    with source_lock(ctx.db, source.id) as lease:
        recover_abandoned(ctx.db, held=lease)
        # What a killed run of this source left in the lake: no run of it is in progress now.
        lake.sweep_source(ctx, source.id, source.dataset_id)
        options = RunOptions(
            trigger=trigger, payloads=payloads, transport=transport,
            allow=plan.settings.network.allow, boundary=ctx.boundary,
            timezone=plan.settings.timezone, lease=lease, progress=progress,
            on_finish=on_finish, limits=read_limits(ctx),
        )  # fmt: skip
        result = run_source(ctx.db, ctx.lake, ctx.root, source, actor, options)
        computed: list[measures.ComputeOutcome] = []
        if recompute and result.status == "succeeded":
            if progress is not None:
                progress("recomputing")
            ids = plan.for_dataset(source.dataset_id)
            since = None
            if result.earliest is not None:
                since = refresh.refresh_from(plan, ids, result.earliest)
            # Recomputing is the platform's own derived work, whoever brought the data (a
            # push token may only push); the run itself is audited under the actor.
            computed = measures.compute(ctx, system("recompute"), ids, since=since)
    return IngestOutcome(result, computed)


def read_limits(ctx: Context) -> ReadLimits:
    """What one payload may make a load read, from the settings."""
    return ReadLimits(ctx.settings.max_line_bytes, ctx.settings.max_decompressed_bytes)


def source_ids(ctx: Context) -> list[str]:
    with ctx.db.session() as session:
        plan = ctx.require_plan(session)
    return sorted(plan.sources)
