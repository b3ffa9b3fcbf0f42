"""Ingest runs: what was pulled, when, how it went, and what the quality checks found.

A run's error and warnings and its checks' example values come from the data, so each
reader gets them as the rows API would give them (``services.disclosure``): the runs of a
dataset they may not read are not listed at all, and values of columns or rows they do
not read in clear are withheld.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from civicstat.governance.actors import Actor
from civicstat.governance.permissions import RUN_READ, Resource, allowed, require
from civicstat.metadata import runs
from civicstat.metadata.models import IngestRun, QualityResult
from civicstat.pipeline import locks
from civicstat.pipeline.quality import quoted_columns
from civicstat.plan import AppliedPlan
from civicstat.services.context import Context
from civicstat.services.disclosure import Reader, Said, require_unmask, withheld
from civicstat.services.errors import InvalidInput

MAX_LIMIT = 500


@dataclass(frozen=True)
class CheckView:
    """One quality check's result; ``detail`` quotes failing values only if they may be read."""

    check: str
    target: str
    severity: str
    passed: bool
    failing_rows: int
    detail: Said


@dataclass(frozen=True)
class RunView:
    """One run as a reader sees it, with its checks in the order they ran."""

    id: int
    source_id: str
    dataset_id: str
    status: str
    trigger: str
    started_by: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    error: Said | None
    warnings: list[Said]
    checks: list[CheckView]

    @property
    def failed_checks(self) -> int:
        return sum(not c.passed for c in self.checks)


def recent(
    ctx: Context,
    actor: Actor,
    limit: int = 50,
    source_id: str | None = None,
    *,
    unmask: bool = False,
) -> list[RunView]:
    """The newest runs the actor may see (of one source, if named), each with its quality
    checks. A run of a dataset the actor may not read is left out, so a source they may
    not see lists no runs, like a source that does not exist. ``unmask`` shows personal
    data in clear where the actor holds ``dataset:unmask`` (audited). Someone whose role
    may see no runs at all is refused."""
    require(actor, RUN_READ, Resource("source", source_id or "*"))
    _check_limit(limit)
    with ctx.db.session() as session:
        plan = ctx.applied_plan(session)
        if unmask:
            require_unmask(ctx, plan, actor)
        reader = Reader(plan, actor, unmask=unmask)
        # Runs of hidden datasets are left out in the query, so that they do not take the
        # places of the newest visible ones.
        known = sorted({s.dataset_id for s in plan.sources.values()} if plan else set())
        found = runs.newest(
            session, limit, datasets=[d for d in known if reader.visible(d)],
            known=known if reader.sees_retired() else None, source_id=source_id,
        )  # fmt: skip
        shown = [r for r in found if _may_see(actor, plan, r)]
        checks = runs.checks_of(session, [r.id for r in shown])
        views = [_view(reader, r, checks[r.id]) for r in shown]
    reader.record(ctx, via="runs")
    return views


def recover_abandoned(ctx: Context) -> int:
    """Mark runs whose process died as abandoned, so listings show them as such rather
    than running; returns how many. Housekeeping anyone listing runs may do."""
    return locks.recover_abandoned(ctx.db)


def _may_see(actor: Actor, plan: AppliedPlan | None, run: IngestRun) -> bool:
    source = plan.sources.get(run.source_id) if plan else None
    owner = source.owner if source else None
    return allowed(actor, RUN_READ, Resource("source", run.source_id, owner))


def _view(reader: Reader, run: IngestRun, checks: list[QualityResult]) -> RunView:
    dataset = run.dataset_id
    # Warnings and errors are free text: any column may be quoted in them.
    warnings = [str(w) for w in run.warnings or []]
    if warnings and not (found := reader.of(dataset)).shown:
        shown_warnings = [withheld(f"{len(warnings)} warning(s)", found)]
    else:
        shown_warnings = [Said(w) for w in warnings]
    return RunView(
        id=run.id,
        source_id=run.source_id,
        dataset_id=dataset,
        status=run.status,
        trigger=run.trigger,
        started_by=run.started_by,
        started_at=run.started_at,
        finished_at=run.finished_at,
        rows_read=run.rows_read or 0,
        rows_loaded=run.rows_loaded or 0,
        rows_quarantined=run.rows_quarantined or 0,
        error=reader.text(dataset, run.error, what="the error message") if run.error else None,
        warnings=shown_warnings,
        checks=[_check(reader, dataset, c) for c in checks],
    )


def _check(reader: Reader, dataset: str, result: QualityResult) -> CheckView:
    columns = quoted_columns(result.check, result.target, result.passed)
    return CheckView(
        check=result.check,
        target=result.target,
        severity=result.severity,
        passed=result.passed,
        failing_rows=result.failing_rows,
        detail=reader.text(dataset, result.detail, columns, what="the example values"),
    )


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"a limit is between 1 and {MAX_LIMIT}")
