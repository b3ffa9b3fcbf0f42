"""What a run learned, and the one transaction that records it: the run row with its raw
files, quarantined rows and check results, and the audit event of its outcome."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from civicstat.governance import audit
from civicstat.governance.actors import Actor
from civicstat.metadata import runs
from civicstat.metadata.models import DataVersion, IngestRun
from civicstat.pipeline import quality
from civicstat.pipeline._landing import Flush
from civicstat.warehouse.loader import BadRow
from civicstat.warehouse.storage import LandedFile

# Called in the transaction that records a run's outcome (succeeded, unchanged or failed),
# so a caller's own record of it (a push batch's answer) commits with it or not at all.
OnFinish = Callable[[Session, IngestRun], None]


@dataclass
class Outcome:
    """What a run learned, written in one transaction whether it publishes or fails."""

    landed: list[LandedFile] = field(default_factory=list)
    bad_rows: list[BadRow] = field(default_factory=list)
    rows_read: int = 0
    rows_bad: int = 0
    checks: list[quality.CheckOutcome] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    on_finish: OnFinish | None = None
    durable: Flush | None = None

    def flushed(self) -> None:
        """Wait until the raw copies are hashed and on disk: call before using their
        hashes or taking the write lock."""
        if self.durable is not None:
            self.landed = self.durable.wait()


def finish(
    session: Session,
    run_id: int,
    source_id: str,
    outcome: Outcome,
    actor: Actor,
    *,
    version: DataVersion | None = None,
    error: str | None = None,
    unchanged: str | None = None,
) -> None:
    """Close the run record with everything it learned, and audit the outcome, in one go."""
    outcome.flushed()  # raw files are on disk before the records name them
    ending = runs.Ending(
        status="failed" if error else "unchanged" if unchanged else "succeeded",
        error=error,
        warnings=outcome.warnings + ([f"unchanged: {unchanged}"] if unchanged else []),
        rows_read=outcome.rows_read,
        rows_quarantined=outcome.rows_bad,
        version_id=version.id if version is not None else None,
    )
    run = runs.finish(
        session, run_id, source_id, ending,
        files=outcome.landed, bad_rows=outcome.bad_rows, checks=outcome.checks,
    )  # fmt: skip
    # The error stays on the run, where each reader is shown what they may read: the
    # audit log, kept forever and read by others, never holds text that may quote data.
    detail: dict[str, Any] = {"status": run.status, "rows_quarantined": outcome.rows_bad}
    if version is not None:
        detail |= {"version": version.version, "rows": version.row_count}
    outcome_name = "failed" if error else "ok"
    audit.record(
        session, actor, "source:ingest", "source", source_id, outcome_name, run_id=run_id, **detail
    )
    if outcome.on_finish is not None:
        outcome.on_finish(session, run)
