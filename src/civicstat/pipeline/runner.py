"""Run one source: fetch, keep the raw payloads, load and check a candidate version, publish.

A run publishes a complete new version or leaves the previous one untouched. The version's
files are written to a fresh folder first; checks run on the candidate; only the metadata
transaction that moves the dataset's head makes it visible. Quarantined rows, check results
and the run record are kept whatever the outcome.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import httpx

from civicstat.connectors import registry
from civicstat.connectors.base import Connector, ConnectorContext, ConnectorError, Payload
from civicstat.governance.actors import Actor
from civicstat.metadata import data_versions, runs
from civicstat.metadata.db import Database
from civicstat.metadata.models import DataVersion
from civicstat.pipeline import _landing, quality
from civicstat.pipeline._landing import Flush, Progress
from civicstat.pipeline._record import OnFinish, Outcome, finish
from civicstat.pipeline.locks import Lease, LockLost
from civicstat.spec.boundary import Boundary
from civicstat.spec.models import Source
from civicstat.warehouse import candidate, loader
from civicstat.warehouse.bounds import ReadLimits
from civicstat.warehouse.candidate import APPENDING, NextVersion
from civicstat.warehouse.loader import Input, LoadError
from civicstat.warehouse.storage import Lake, LandedFile

__all__ = [
    "APPENDING",
    "IngestError",
    "IngestResult",
    "OnFinish",
    "Progress",
    "RunOptions",
    "run_source",
]

# What fails a run (and is recorded on it) rather than escaping as a crash. QualityError
# and ExpressionError are ValueErrors: a check that cannot run fails the run.
_FAILURES = (ConnectorError, LoadError, KeyError, OSError, ValueError, duckdb.Error)


class IngestError(Exception):
    """A run failed; the previous data version stays published."""

    def __init__(self, run_id: int, message: str) -> None:
        super().__init__(message)
        self.run_id = run_id


@dataclass(frozen=True)
class IngestResult:
    run_id: int
    status: str  # "succeeded" (a new version) or "unchanged" (nothing new to publish)
    version: DataVersion | None  # the dataset's current version after the run
    raw_files: list[LandedFile]
    rows_quarantined: int = 0
    warnings: list[str] = field(default_factory=list)
    # For append and incremental loads: the earliest value of each date/timestamp column
    # among the new rows, so measures recompute only the periods from there on. None: all.
    earliest: dict[str, Any] | None = None


@dataclass(frozen=True)
class RunOptions:
    """How one run goes, beside the source it runs.

    With a ``lease`` (the source's run lock), nothing is published once another process
    has taken the lock over: a run that lost its lock fails instead. ``progress``, when
    given, follows the run; without it nothing is measured. ``boundary`` says which local
    paths the source may read (default: the workspace folder alone). ``limits`` bound what
    a payload may make the load read (the settings of the same names). ``payloads`` are
    loaded instead of fetching (pushes).
    """

    trigger: str = "manual"
    payloads: Iterable[Payload] | None = None
    allow: Sequence[str] = ()
    boundary: Boundary | None = None
    transport: httpx.BaseTransport | None = None
    timezone: str = "UTC"
    lease: Lease | None = None
    progress: Progress | None = None
    on_finish: OnFinish | None = None
    limits: ReadLimits | None = None


def run_source(
    db: Database,
    lake: Lake,
    workspace_root: Path,
    source: Source,
    actor: Actor,
    options: RunOptions | None = None,
) -> IngestResult:
    """Pull ``source`` (or load the given payloads, for pushes) into a new version."""
    run = _Run(db, lake, source, actor, options or RunOptions())
    con = loader.connect(preserve_order=bool(source.load.key))
    try:
        connector = run.connector(workspace_root)
        inputs = run.new_payloads(run.land(connector))
        if not inputs:
            return run.unchanged("no new payload")
        pulled = run.parse(con, connector, inputs)
        if pulled is None:
            return run.unchanged("no new rows")
        nxt = run.build(con, pulled)
        if run.head is not None and nxt.checksum == run.head.checksum:
            return run.unchanged("same rows as the current version")
        run.check(con)
        ready = run.ready(con, pulled.drift, nxt)
    except _FAILURES as error:
        raise run.fail(str(error).strip("'\"") or type(error).__name__) from error
    finally:
        con.close()
    return run.publish(ready)


@dataclass(frozen=True)
class _Parsed:
    """The pulled rows of a run (view ``pulled``) and the Parquet parts that hold them."""

    parts: list[Path]
    drift: list[dict[str, str]]


@dataclass(frozen=True)
class _Ready:
    """A checked candidate and what publishing it records."""

    next: NextVersion
    columns: list[dict[str, str]]
    high_water_mark: str | None
    earliest: dict[str, Any] | None


class _Run:
    """One run under way: its record, what it has learned so far, and its steps."""

    def __init__(
        self, db: Database, lake: Lake, source: Source, actor: Actor, options: RunOptions
    ) -> None:
        self.db, self.lake, self.source, self.actor, self.options = db, lake, source, actor, options
        self.report: Progress = options.progress or _unwatched
        self.outcome = Outcome(on_finish=options.on_finish)
        self.folder_relative: str | None = None
        with db.write() as session:
            self.id = runs.start(session, source.id, source.dataset_id, options.trigger, str(actor))
            self.hwm = runs.high_water_mark(session, source.id)
            self.head = data_versions.current(session, source.dataset_id)

    def connector(self, workspace_root: Path) -> Connector:
        """The source's connector, asking past the high-water mark when it keeps one."""
        source, options = self.source, self.options
        connector_cls = registry.get(source.connector)
        connector_options = connector_cls.Options.model_validate(source.options)
        # The connector asks the source system in its own names: the cursor's source column.
        cursor = source.column(source.load.cursor) if source.load.cursor else None
        cursor_name = cursor.source_names()[0] if cursor else None
        context = ConnectorContext(
            workspace_root, source.id, cursor_name, self.hwm, options.transport,
            tuple(options.allow),
            boundary=options.boundary or Boundary.of(workspace_root, protected=[self.lake.root]),
        )  # fmt: skip
        return connector_cls(connector_options, context)

    def land(self, connector: Connector) -> list[Input]:
        """Fetch (or take the pushed payloads) and keep each payload as-is in the lake."""
        self.report("fetching")
        payloads = connector.fetch() if self.options.payloads is None else self.options.payloads
        landed = self.outcome.landed
        inputs = _landing.land(self.lake, self.source.id, payloads, landed, self.options.progress)
        # Hashing and flushing the raw copies runs while DuckDB parses them; every path
        # below waits for it (outcome.flushed) before anything records the files.
        self.outcome.durable = Flush(self.lake, self.outcome.landed)
        return inputs

    def new_payloads(self, inputs: list[Input]) -> list[Input]:
        """Leave out what the current version already holds, by the payloads' hashes."""
        head, source = self.head, self.source
        if head is None or source.load.key:
            return inputs
        self.outcome.flushed()  # the hashes decide what is new
        hashes = [f.sha256 for f in self.outcome.landed]
        if source.load.mode in APPENDING:
            # A payload already in the current version is not loaded twice.
            seen = set(head.inputs)
            return [i for i, h in zip(inputs, hashes, strict=True) if h not in seen]
        if candidate.same_inputs(source, head, hashes):
            return []  # the same payloads read the same way: nothing to parse or publish
        return inputs

    def parse(
        self, con: duckdb.DuckDBPyConnection, connector: Connector, inputs: list[Input]
    ) -> _Parsed | None:
        """Load the payloads into view ``pulled`` (None: no new rows to append)."""
        source, outcome, progress = self.source, self.outcome, self.options.progress
        self.report("loading", 0.0)
        folder, self.folder_relative = self.lake.new_table_folder(source.dataset_id)
        pulled = loader.pull(
            con, inputs, source.columns, connector.read_options(), folder,
            on_progress=None if progress is None else lambda done: self.report("loading", done),
            local=self.options.timezone, limits=self.options.limits,
        )  # fmt: skip
        outcome.rows_read, outcome.rows_bad = pulled.rows_read, pulled.rows_bad
        outcome.bad_rows = pulled.bad_rows
        outcome.warnings += [
            f"new column {d['source_column']!r} loaded as {d['name']!r}, unclassified "
            "(treated as restricted until a steward classifies it)"
            for d in pulled.drift
        ]
        _check_bad_share(source, pulled)
        if pulled.rows_bad:
            outcome.warnings.append(f"{pulled.rows_bad} row(s) quarantined")
        parts = pulled.parts
        if source.load.mode == "incremental":
            parts = candidate.past_high_water_mark(con, source, self.hwm, parts, folder)
        appends = source.load.mode in APPENDING and not source.load.key
        if appends and candidate.count(con, "pulled") == 0:
            return None
        return _Parsed(parts, pulled.drift)

    def build(self, con: duckdb.DuckDBPyConnection, parsed: _Parsed) -> NextVersion:
        """Settle the next version's files and define view ``candidate``."""
        self.outcome.flushed()
        if self.source.load.key:
            self.report("merging")
        head = self.head
        assert self.folder_relative is not None
        return candidate.build(
            con, self.source, head, [self.lake.path(f) for f in head.files] if head else [],
            parsed.parts, self.folder_relative, [f.sha256 for f in self.outcome.landed],
        )  # fmt: skip

    def check(self, con: duckdb.DuckDBPyConnection) -> None:
        """Run the source's quality checks on the candidate; a failed error check fails."""
        self.report("checking")
        outcome, head = self.outcome, self.head
        outcome.checks = quality.run_checks(
            con,
            "candidate",
            self.source.quality,
            previous_row_count=head.row_count if head else None,
            # Data timestamps are naive local wall-clock times: compare them with local now.
            now=dt.datetime.now(ZoneInfo(self.options.timezone)).replace(tzinfo=None),
        )
        # The run's error and warnings name the checks, never their example values: those
        # stay in the check results, where each reader is shown what their columns allow.
        failed = [c for c in outcome.checks if not c.passed and c.severity == "error"]
        outcome.warnings += [
            f"check {c.check} {c.target}: {_failed(c)}"
            for c in outcome.checks
            if not c.passed and c.severity == "warn"
        ]
        if failed:
            raise LoadError(
                "quality check(s) failed: "
                + "; ".join(f"{c.check} {c.target}: {_failed(c)}" for c in failed)
            )

    def ready(
        self, con: duckdb.DuckDBPyConnection, drift: list[dict[str, str]], nxt: NextVersion
    ) -> _Ready:
        """What publishing records beside the files: columns, high-water mark, earliest."""
        source = self.source
        new_hwm = candidate.new_high_water_mark(con, source) if source.load.cursor else None
        # Appended rows change only their own periods; an upsert may move or replace rows
        # of any period, so keyed loads recompute everything.
        appends_only = source.load.mode in APPENDING and not source.load.key
        earliest = candidate.earliest(con, source) if appends_only else None
        columns = [{"name": c.name, "type": c.type} for c in source.columns] + [
            {
                "name": d["name"],
                "type": d["type"],
                "source_column": d["source_column"],
                "declared": "false",
            }
            for d in drift
        ]
        return _Ready(nxt, columns, new_hwm, earliest)

    def publish(self, ready: _Ready) -> IngestResult:
        """Move the dataset's head to the new version, with the run's record, atomically."""
        self.report("publishing")
        outcome, source, nxt = self.outcome, self.source, ready.next
        outcome.flushed()
        try:
            with self.db.write() as session:
                if self.options.lease is not None:
                    self.options.lease.confirm(session)  # raises LockLost: nothing is published
                version = data_versions.publish(
                    session,
                    dataset_id=source.dataset_id,
                    files=nxt.files,
                    columns=ready.columns,
                    row_count=nxt.row_count,
                    run_id=self.id,
                    checksum=nxt.checksum,
                    inputs=nxt.inputs,
                )
                if ready.high_water_mark is not None:
                    runs.store_high_water_mark(session, source.id, ready.high_water_mark)
                finish(session, self.id, source.id, outcome, self.actor, version=version)
        except LockLost as error:
            self._discard()
            with self.db.write() as session:
                finish(session, self.id, source.id, outcome, self.actor, error=str(error))
            raise IngestError(self.id, str(error)) from error
        return IngestResult(
            self.id, "succeeded", version, outcome.landed, outcome.rows_bad, outcome.warnings,
            ready.earliest,
        )  # fmt: skip

    def unchanged(self, why: str) -> IngestResult:
        """Close the run as unchanged: nothing new to publish, the head stays."""
        self._discard()
        outcome = self.outcome
        outcome.flushed()
        with self.db.write() as session:
            finish(session, self.id, self.source.id, outcome, self.actor, unchanged=why)
        return IngestResult(
            self.id, "unchanged", self.head, outcome.landed, outcome.rows_bad, outcome.warnings, {}
        )

    def fail(self, message: str) -> IngestError:
        """Close the run as failed, keeping what it landed and learned."""
        self._discard()
        if self.outcome.durable is None:  # the fetch failed: what it landed is recorded hashed
            self.outcome.durable = Flush(self.lake, self.outcome.landed)
        self.outcome.flushed()
        with self.db.write() as session:
            finish(session, self.id, self.source.id, self.outcome, self.actor, error=message)
        return IngestError(self.id, message)

    def _discard(self) -> None:
        """Remove the version folder being built, if any: nothing will refer to it."""
        if self.folder_relative is not None:
            self.lake.discard(self.folder_relative)
            self.folder_relative = None


def _failed(check: quality.CheckOutcome) -> str:
    """A failed check in a run's error or warnings: how many rows, no values."""
    n = check.failing_rows
    on = f" on {n} row{'' if n == 1 else 's'}" if n else ""
    return f"failed{on} (see the run's check results)"


def _unwatched(phase: str, done: float | None = None, /) -> None:
    """Progress nobody follows."""


def _check_bad_share(source: Source, pulled: loader.Pulled) -> None:
    if pulled.rows_read and pulled.rows_bad / pulled.rows_read > source.load.max_bad_rows:
        first = pulled.bad_rows[0] if pulled.bad_rows else None
        where = f"; first: {first.file}:{first.line}: {first.reason}" if first else ""
        raise LoadError(
            f"{pulled.rows_bad} of {pulled.rows_read} rows "
            f"({pulled.rows_bad / pulled.rows_read:.1%}) do not fit the declared schema, "
            f"more than the {source.load.max_bad_rows:.0%} allowed{where}"
        )
