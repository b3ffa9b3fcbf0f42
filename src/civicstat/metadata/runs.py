"""Run records: a source's ingest runs, what each kept (raw files, quarantined rows, check
results), and the high-water mark a source remembers between runs.

The pipeline writes them, the services read them; both go through here so that a run row
is opened and closed the same way whoever starts it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import ColumnElement, false, func, or_, select
from sqlalchemy.orm import Session

from civicstat.metadata.models import (
    IngestRun,
    QualityResult,
    QuarantinedRow,
    RawFile,
    SourceState,
    utcnow,
)


class KeptFile(Protocol):
    """A payload landed as-is in the lake (the warehouse's ``LandedFile``)."""

    @property
    def relative(self) -> str: ...
    @property
    def original_name(self) -> str: ...
    @property
    def sha256(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def content_type(self) -> str: ...


class BadRowRecord(Protocol):
    """A row that could not be loaded (the loader's ``BadRow``)."""

    @property
    def file(self) -> str: ...
    @property
    def line(self) -> int | None: ...
    @property
    def column(self) -> str | None: ...
    @property
    def reason(self) -> str: ...
    @property
    def raw(self) -> str | None: ...


class CheckRecord(Protocol):
    """One quality check's outcome (the pipeline's ``CheckOutcome``)."""

    @property
    def check(self) -> str: ...
    @property
    def target(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def passed(self) -> bool: ...
    @property
    def failing_rows(self) -> int: ...
    @property
    def detail(self) -> str: ...


@dataclass(frozen=True)
class Ending:
    """How a run ended, as its row records it."""

    status: str  # succeeded, unchanged or failed
    error: str | None
    warnings: list[str]
    rows_read: int
    rows_quarantined: int
    version_id: int | None = None  # the version it published, if any


def start(session: Session, source_id: str, dataset_id: str, trigger: str, started_by: str) -> int:
    """Open a run row (status ``running``); returns its id."""
    run = IngestRun(
        source_id=source_id,
        dataset_id=dataset_id,
        status="running",
        trigger=trigger,
        started_by=started_by,
    )
    session.add(run)
    session.flush()
    return run.id


def finish(
    session: Session,
    run_id: int,
    source_id: str,
    ending: Ending,
    *,
    files: Sequence[KeptFile] = (),
    bad_rows: Iterable[BadRowRecord] = (),
    checks: Iterable[CheckRecord] = (),
) -> IngestRun:
    """Close the run row with its outcome, and keep what it landed, quarantined and checked."""
    run = session.get_one(IngestRun, run_id)
    run.status = ending.status
    run.finished_at = utcnow()
    run.error = ending.error
    run.bytes_read = sum(f.size for f in files)
    run.rows_read = ending.rows_read
    run.rows_quarantined = ending.rows_quarantined
    run.warnings = ending.warnings
    if ending.version_id is not None:
        run.rows_loaded = ending.rows_read - ending.rows_quarantined
        run.data_version_id = ending.version_id
    session.add_all(
        RawFile(
            run_id=run_id,
            source_id=source_id,
            lake_path=f.relative,
            original_name=f.original_name,
            sha256=f.sha256,
            size=f.size,
            content_type=f.content_type,
        )
        for f in files
    )
    session.add_all(
        QuarantinedRow(
            run_id=run_id,
            source_id=source_id,
            file=b.file,
            line=b.line,
            column=b.column,
            reason=b.reason,
            raw=b.raw,
        )
        for b in bad_rows
    )
    session.add_all(
        QualityResult(
            run_id=run_id,
            source_id=source_id,
            check=c.check,
            target=c.target,
            severity=c.severity,
            passed=c.passed,
            failing_rows=c.failing_rows,
            detail=c.detail,
        )
        for c in checks
    )
    return run


def newest(
    session: Session,
    limit: int,
    *,
    datasets: Sequence[str],
    known: Sequence[str] | None = None,
    source_id: str | None = None,
) -> list[IngestRun]:
    """The newest runs of ``datasets`` (of one source, if named), newest first. With
    ``known``, runs of datasets outside it (retired ones) are included too: chosen in the
    query, so that runs the caller would drop do not take the places of the newest kept."""
    condition: ColumnElement[bool] = (
        IngestRun.dataset_id.in_(sorted(datasets)) if datasets else false()
    )
    if known is not None:
        condition = or_(condition, IngestRun.dataset_id.not_in(sorted(known)))
    query = select(IngestRun).where(condition).order_by(IngestRun.id.desc()).limit(limit)
    if source_id:
        query = query.where(IngestRun.source_id == source_id)
    return list(session.scalars(query))


def get(session: Session, run_id: int) -> IngestRun | None:
    return session.get(IngestRun, run_id)


def last_success(session: Session, source_id: str) -> dt.datetime | None:
    """When a run of the source last ended well (a new version, or nothing new to pull)."""
    return session.scalar(
        select(IngestRun.finished_at)
        .where(
            IngestRun.source_id == source_id,
            IngestRun.status.in_(("succeeded", "unchanged")),
            IngestRun.finished_at.is_not(None),
        )
        .order_by(IngestRun.finished_at.desc())
        .limit(1)
    )


def last_status(session: Session, source_id: str) -> str | None:
    """The status of the source's newest run, if it ran."""
    return session.scalar(
        select(IngestRun.status)
        .where(IngestRun.source_id == source_id)
        .order_by(IngestRun.id.desc())
        .limit(1)
    )


def last_started(session: Session, source_id: str | None = None) -> dict[str, dt.datetime]:
    """When each source's newest run started (of one source, if named)."""
    query = select(IngestRun.source_id, func.max(IngestRun.started_at)).group_by(
        IngestRun.source_id
    )
    if source_id is not None:
        query = query.where(IngestRun.source_id == source_id)
    return dict(session.execute(query).all())


def checks_of(session: Session, run_ids: Iterable[int]) -> dict[int, list[QualityResult]]:
    """Each run's check results, in the order they ran."""
    checks: dict[int, list[QualityResult]] = {run_id: [] for run_id in run_ids}
    if checks:
        found = session.scalars(
            select(QualityResult)
            .where(QualityResult.run_id.in_(list(checks)))
            .order_by(QualityResult.id)
        )
        for result in found:
            checks[result.run_id].append(result)
    return checks


def high_water_mark(session: Session, source_id: str) -> str | None:
    """The largest cursor value a source has published, if it keeps one."""
    state = session.get(SourceState, source_id)
    return state.high_water_mark if state else None


def store_high_water_mark(session: Session, source_id: str, mark: str) -> None:
    state = session.get(SourceState, source_id)
    if state is None:
        session.add(SourceState(source_id=source_id, high_water_mark=mark))
    else:
        state.high_water_mark = mark
        state.updated_at = utcnow()
