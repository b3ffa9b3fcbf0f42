"""Ingest runs: what was pulled, when, how it went, and what the quality checks found."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from civicstat.governance.actors import Actor
from civicstat.governance.permissions import RUN_READ, Resource, allowed, require
from civicstat.metadata.models import IngestRun, QualityResult
from civicstat.services.context import Context
from civicstat.services.errors import InvalidInput

MAX_LIMIT = 500


@dataclass(frozen=True)
class RunWithChecks:
    run: IngestRun
    checks: list[QualityResult]  # in the order they ran

    @property
    def failed_checks(self) -> int:
        return sum(not c.passed for c in self.checks)


def recent(ctx: Context, actor: Actor, limit: int = 20) -> Sequence[IngestRun]:
    """The newest runs of the sources the actor may see runs of."""
    _check_limit(limit)
    with ctx.db.session() as session:
        plan = ctx.applied_plan(session)
        runs = session.scalars(select(IngestRun).order_by(IngestRun.id.desc()).limit(limit)).all()
    owners = {s.id: s.owner for s in plan.sources.values()} if plan else {}
    return [
        r
        for r in runs
        if allowed(actor, RUN_READ, Resource("source", r.source_id, owners.get(r.source_id)))
    ]


def recent_with_checks(
    ctx: Context, actor: Actor, limit: int = 50, source_id: str | None = None
) -> list[RunWithChecks]:
    """The newest runs the actor may see (of one source, if named), each with the results
    of its quality checks. Someone whose role may see no runs at all is refused."""
    require(actor, RUN_READ, Resource("source", source_id or "*"))
    _check_limit(limit)
    with ctx.db.session() as session:
        plan = ctx.applied_plan(session)
        query = select(IngestRun).order_by(IngestRun.id.desc()).limit(limit)
        if source_id:
            query = query.where(IngestRun.source_id == source_id)
        owners = {s.id: s.owner for s in plan.sources.values()} if plan else {}
        runs = [
            r
            for r in session.scalars(query)
            if allowed(actor, RUN_READ, Resource("source", r.source_id, owners.get(r.source_id)))
        ]
        checks: dict[int, list[QualityResult]] = {r.id: [] for r in runs}
        if runs:
            found = session.scalars(
                select(QualityResult)
                .where(QualityResult.run_id.in_(list(checks)))
                .order_by(QualityResult.id)
            )
            for result in found:
                checks[result.run_id].append(result)
    return [RunWithChecks(r, checks[r.id]) for r in runs]


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"a limit is between 1 and {MAX_LIMIT}")
