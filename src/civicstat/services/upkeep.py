"""Looking after a workspace's runs between requests: runs whose process died are marked
abandoned, and sources are ingested on their schedule (the worker's use cases), so that
listings and schedulers see runs for what they are."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from civicstat.metadata import revisions, runs
from civicstat.pipeline import locks
from civicstat.plan import AppliedPlan
from civicstat.services import ingest
from civicstat.services.context import Context
from civicstat.services.operators import Actor

__all__ = ["applied_plan", "last_started", "newer_plan", "recover_abandoned", "run_scheduled"]


def recover_abandoned(ctx: Context) -> int:
    """Mark ``running`` runs whose process died as ``abandoned``; return how many."""
    return locks.recover_abandoned(ctx.db)


def applied_plan(ctx: Context) -> AppliedPlan | None:
    """The plan as applied now, if one was."""
    with ctx.db.session() as session:
        return ctx.applied_plan(session)


def newer_plan(ctx: Context, than: int | None) -> AppliedPlan | None:
    """The applied plan if its revision is not ``than`` (the one a caller already has)."""
    with ctx.db.session() as session:
        latest = revisions.latest(session)
        if latest is None or latest.id == than:
            return None
        return ctx.applied_plan(session)


def last_started(ctx: Context, source_id: str | None = None) -> dict[str, dt.datetime]:
    """Source id → when its newest run started (only ``source_id``'s, if given)."""
    with ctx.db.session() as session:
        return runs.last_started(session, source_id)


def run_scheduled(
    ctx: Context,
    actor: Actor,
    source_id: str,
    is_due: Callable[[dt.datetime | None], bool] | None = None,
) -> ingest.IngestOutcome | None:
    """Ingest a source for its schedule under the source's lock (``SourceBusy`` at once if
    another process holds it); None, without a run, when ``is_due``, told when the source
    last started, says this scheduled time was already served."""
    with locks.source_lock(ctx.db, source_id) as lease:
        if is_due is not None and not is_due(last_started(ctx, source_id).get(source_id)):
            return None
        locks.recover_abandoned(ctx.db, held=lease)
        return ingest.ingest(ctx, actor, source_id, trigger="schedule")
