"""Run one source: fetch, keep the raw payloads, load and check a candidate version, publish.

A run publishes a complete new version or leaves the previous one untouched. The version's
files are written to a fresh folder first; checks run on the candidate; only the metadata
transaction that moves the dataset's head makes it visible. Quarantined rows, check results
and the run record are kept whatever the outcome.
"""

from __future__ import annotations

import datetime as dt
import io
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol
from zoneinfo import ZoneInfo

import duckdb
import httpx
from sqlalchemy.orm import Session

from civicstat.connectors import registry
from civicstat.connectors.base import ConnectorContext, ConnectorError, Payload
from civicstat.governance import audit
from civicstat.governance.actors import Actor
from civicstat.metadata import datasets
from civicstat.metadata.db import Database
from civicstat.metadata.models import (
    DataVersion,
    IngestRun,
    QualityResult,
    QuarantinedRow,
    RawFile,
    SourceState,
    utcnow,
)
from civicstat.pipeline import quality
from civicstat.pipeline.locks import Lease, LockLost
from civicstat.spec.boundary import Boundary
from civicstat.spec.models import Source
from civicstat.warehouse import loader
from civicstat.warehouse.bounds import ReadLimits
from civicstat.warehouse.lake import Lake, LandedFile
from civicstat.warehouse.loader import BadRow, Input, LoadError, quote

# Called in the transaction that records a run's outcome (succeeded, unchanged or failed),
# so a caller's own record of it (a push batch's answer) commits with it or not at all.
OnFinish = Callable[[Session, IngestRun], None]

APPENDING = ("append", "incremental")


class Progress(Protocol):
    """Told what a run is doing: its phase (fetching, loading, checking, publishing...)
    and, when the amount of work is known, the share of the phase done (0.0 to 1.0, as it
    grows); ``None`` when it cannot be told. Called from the run's threads."""

    def __call__(self, phase: str, done: float | None = None, /) -> None: ...


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


@dataclass
class _Outcome:
    """What a run learned, written in one transaction whether it publishes or fails."""

    landed: list[LandedFile] = field(default_factory=list)
    bad_rows: list[BadRow] = field(default_factory=list)
    rows_read: int = 0
    rows_bad: int = 0
    checks: list[quality.CheckOutcome] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    on_finish: OnFinish | None = None
    durable: _Flush | None = None

    def flushed(self) -> None:
        """Wait until the raw copies are hashed and on disk: call before using their
        hashes or taking the write lock."""
        if self.durable is not None:
            self.landed = self.durable.wait()


def run_source(
    db: Database,
    lake: Lake,
    workspace_root: Path,
    source: Source,
    actor: Actor,
    *,
    trigger: str = "manual",
    payloads: Iterable[Payload] | None = None,
    allow: Sequence[str] = (),
    boundary: Boundary | None = None,
    transport: httpx.BaseTransport | None = None,
    timezone: str = "UTC",
    lease: Lease | None = None,
    progress: Progress | None = None,
    on_finish: OnFinish | None = None,
    limits: ReadLimits | None = None,
) -> IngestResult:
    """Pull ``source`` (or load the given ``payloads``, for pushes) into a new version.

    With a ``lease`` (the source's run lock), nothing is published once another process
    has taken the lock over: a run that lost its lock fails instead. ``progress``, when
    given, follows the run; without it nothing is measured. ``boundary`` says which local
    paths the source may read (default: the workspace folder alone). ``limits`` bound what
    a payload may make the load read (the settings of the same names).
    """
    report: Progress = progress or _unwatched
    with db.write() as session:
        run = IngestRun(
            source_id=source.id,
            dataset_id=source.dataset_id,
            status="running",
            trigger=trigger,
            started_by=str(actor),
        )
        session.add(run)
        session.flush()
        run_id = run.id
        state = session.get(SourceState, source.id)
        head = datasets.current(session, source.dataset_id)
    hwm = state.high_water_mark if state else None

    outcome = _Outcome(on_finish=on_finish)
    folder_relative: str | None = None
    con = loader.connect(preserve_order=bool(source.load.key))
    try:
        connector_cls = registry.get(source.connector)
        options = connector_cls.Options.model_validate(source.options)
        # The connector asks the source system in its own names: the cursor's source column.
        cursor = source.column(source.load.cursor) if source.load.cursor else None
        cursor_name = cursor.source_names()[0] if cursor else None
        context = ConnectorContext(
            workspace_root, source.id, cursor_name, hwm, transport, tuple(allow),
            boundary=boundary or Boundary.of(workspace_root, protected=[lake.root]),
        )  # fmt: skip
        connector = connector_cls(options, context)
        report("fetching")
        when = dt.datetime.now(dt.UTC)
        inputs: list[Input] = []
        for payload in connector.fetch() if payloads is None else payloads:
            if payload.local_path is not None:
                size = payload.local_path.stat().st_size
                landed = lake.land_file(
                    source.id, payload.name, payload.content_type, payload.local_path,
                    when=when, on_bytes=_byte_meter(progress, "fetching", size),
                )  # fmt: skip
            else:
                with payload.open() as stream:
                    meter = _byte_meter(progress, "fetching", _size_of(stream))
                    landed = lake.land(
                        source.id, payload.name, payload.content_type, stream, when=when,
                        durable=False, on_bytes=meter,
                    )  # fmt: skip
            outcome.landed.append(landed)
            inputs.append(Input(landed.path, payload.name, payload.format, payload.read_options))
        # Hashing and flushing the raw copies runs while DuckDB parses them; every path below
        # waits for it (outcome.flushed) before anything records the files.
        outcome.durable = _Flush(lake, outcome.landed)
        if head is not None and not source.load.key:
            outcome.flushed()  # the hashes decide what is new
            hashes = [f.sha256 for f in outcome.landed]
            if source.load.mode in APPENDING:
                # A payload already in the current version is not loaded twice.
                seen = set(head.inputs)
                inputs = [i for i, h in zip(inputs, hashes, strict=True) if h not in seen]
            elif head.checksum == loader.input_checksum(
                head.row_count, hashes, _definition(source)
            ):
                # The same payloads read the same way: nothing to parse, nothing to publish.
                inputs = []
        if not inputs:
            return _unchanged(db, run_id, source, head, outcome, actor, "no new payload")
        report("loading", 0.0)
        folder, folder_relative = lake.new_table_folder(source.dataset_id)
        pulled = loader.pull(
            con, inputs, source.columns, connector.read_options(), folder,
            on_progress=None if progress is None else lambda done: report("loading", done),
            local=timezone, limits=limits,
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
            parts = _past_high_water_mark(con, source, hwm, parts, folder)
        if source.load.mode in APPENDING and not source.load.key and _count(con, "pulled") == 0:
            lake.discard(folder_relative)
            return _unchanged(db, run_id, source, head, outcome, actor, "no new rows")
        outcome.flushed()
        if source.load.key:
            report("merging")
        nxt = _build_version(con, lake, source, head, parts, folder_relative, outcome)
        if head is not None and nxt.checksum == head.checksum:
            lake.discard(folder_relative)
            return _unchanged(
                db, run_id, source, head, outcome, actor, "same rows as the current version"
            )
        report("checking")
        outcome.checks = quality.run_checks(
            con,
            "candidate",
            source.quality,
            previous_row_count=head.row_count if head else None,
            # Data timestamps are naive local wall-clock times: compare them with local now.
            now=dt.datetime.now(ZoneInfo(timezone)).replace(tzinfo=None),
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
        new_hwm = _new_high_water_mark(con, source) if source.load.cursor else None
        # Appended rows change only their own periods; an upsert may move or replace rows
        # of any period, so keyed loads recompute everything.
        appends_only = source.load.mode in APPENDING and not source.load.key
        earliest = _earliest(con, source) if appends_only else None
        columns = [{"name": c.name, "type": c.type} for c in source.columns] + [
            {
                "name": d["name"],
                "type": d["type"],
                "source_column": d["source_column"],
                "declared": "false",
            }
            for d in pulled.drift
        ]
    except (ConnectorError, LoadError, KeyError, OSError, ValueError, duckdb.Error) as error:
        # QualityError and ExpressionError are ValueErrors: a check that cannot run fails the run.
        if folder_relative is not None:
            lake.discard(folder_relative)
        message = str(error).strip("'\"") or type(error).__name__
        if outcome.durable is None:  # the fetch failed: what it landed is recorded hashed
            outcome.durable = _Flush(lake, outcome.landed)
        outcome.flushed()
        with db.write() as session:
            _finish(session, run_id, source, outcome, actor, error=message)
        raise IngestError(run_id, message) from error
    finally:
        con.close()

    report("publishing")
    outcome.flushed()
    try:
        with db.write() as session:
            if lease is not None:
                lease.confirm(session)  # raises LockLost: nothing is published
            version = datasets.publish(
                session,
                dataset_id=source.dataset_id,
                files=nxt.files,
                columns=columns,
                row_count=nxt.row_count,
                run_id=run_id,
                checksum=nxt.checksum,
                inputs=nxt.inputs,
            )
            if new_hwm is not None:
                _store_high_water_mark(session, source.id, new_hwm)
            _finish(session, run_id, source, outcome, actor, version=version)
    except LockLost as error:
        lake.discard(folder_relative)
        with db.write() as session:
            _finish(session, run_id, source, outcome, actor, error=str(error))
        raise IngestError(run_id, str(error)) from error
    return IngestResult(
        run_id, "succeeded", version, outcome.landed, outcome.rows_bad, outcome.warnings, earliest
    )


def _failed(check: quality.CheckOutcome) -> str:
    """A failed check in a run's error or warnings: how many rows, no values."""
    n = check.failing_rows
    on = f" on {n} row{'' if n == 1 else 's'}" if n else ""
    return f"failed{on} (see the run's check results)"


def _unwatched(phase: str, done: float | None = None, /) -> None:
    """Progress nobody follows."""


def _byte_meter(
    progress: Progress | None, phase: str, total: int | None
) -> Callable[[int], None] | None:
    """Bytes copied so far as a share of ``total``; nothing when it is not known."""
    if progress is None:
        return None
    if not total:
        progress(phase)
        return None
    progress(phase, 0.0)
    return lambda copied: progress(phase, min(copied / total, 1.0))


def _size_of(stream: IO[bytes]) -> int | None:
    """A payload stream's size when it can be told without reading it: a local or remote
    file (fsspec knows the object's size), an in-memory body."""
    size = getattr(stream, "size", None)  # fsspec files
    if isinstance(size, int):
        return size
    try:
        if stream.seekable():
            here = stream.tell()
            end = stream.seek(0, io.SEEK_END)
            stream.seek(here)
            return end - here
    except (OSError, ValueError):
        pass
    return None


@dataclass(frozen=True)
class _NextVersion:
    """The version a run is about to publish."""

    files: list[str]
    checksum: str
    inputs: list[str]  # SHA-256 of every payload in it
    row_count: int


def _build_version(
    con: duckdb.DuckDBPyConnection,
    lake: Lake,
    source: Source,
    head: DataVersion | None,
    parts: list[Path],
    folder_relative: str,
    outcome: _Outcome,
) -> _NextVersion:
    """Settle the new version's files and define view ``candidate`` (the whole of it).

    Replace and append keep the pulled parts as they are (append adds them to the current
    version's files); a key rewrites the dataset as one merged file.
    """
    data = _columns(con, "pulled")
    selected = ", ".join(map(quote, data))
    new_inputs = [f.sha256 for f in outcome.landed]
    new_rows = _count(con, "pulled")
    previous = [str(lake.path(f)) for f in head.files] if head else []
    if previous:
        con.execute(
            f"CREATE TEMP VIEW current AS SELECT * FROM read_parquet([{_paths(previous)}], "
            "union_by_name = true)"
        )
    relative = [f"{folder_relative}/{p.name}" for p in parts]
    if source.load.key:
        # Upsert: within the pull the last row for a key wins, and it replaces the current
        # row with that key. The whole dataset is rewritten as one file.
        keys = ", ".join(quote(k) for k in source.load.key)
        con.execute(
            f"CREATE TEMP VIEW newest AS SELECT {selected} FROM (SELECT *, row_number() OVER "
            f"(PARTITION BY {keys} ORDER BY filename DESC, file_row_number DESC) AS _n "
            f"FROM read_parquet([{_paths(map(str, parts))}], union_by_name = true, "
            "filename = true, file_row_number = true)) WHERE _n = 1"
        )
        kept = (
            f"SELECT * FROM current WHERE ({keys}) NOT IN (SELECT ({keys}) FROM newest) "
            "UNION ALL BY NAME "
            if previous
            else ""
        )
        con.execute(f"CREATE TEMP VIEW candidate AS {kept}SELECT * FROM newest")
        merged = parts[0].with_name("merged.parquet")
        loader.write_parquet(con, "SELECT * FROM candidate", merged)
        con.execute("DROP VIEW newest")
        merged_file = _paths([str(merged)])
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW candidate AS SELECT * FROM read_parquet({merged_file})"
        )
        for part in parts:
            part.unlink()
        return _NextVersion(
            [f"{folder_relative}/{merged.name}"],
            loader.checksum(con, "candidate", _columns(con, "candidate")),
            new_inputs,
            _count(con, "candidate"),
        )
    if source.load.mode in APPENDING and head is not None:
        # The new parts join the current version's files, which stay as they are.
        con.execute(
            "CREATE TEMP VIEW candidate AS SELECT * FROM current "
            "UNION ALL BY NAME SELECT * FROM pulled"
        )
        inputs, rows = [*head.inputs, *new_inputs], head.row_count + new_rows
        checksum = loader.input_checksum(rows, inputs, _definition(source))
        return _NextVersion([*head.files, *relative], checksum, inputs, rows)
    con.execute("CREATE TEMP VIEW candidate AS SELECT * FROM pulled")
    checksum = loader.input_checksum(new_rows, new_inputs, _definition(source))
    return _NextVersion(relative, checksum, new_inputs, new_rows)


def _definition(source: Source) -> dict[str, Any]:
    """What decides how payloads become rows: the declared columns, options and load."""
    return source.model_dump(mode="json", include={"columns", "options", "load", "connector"})


def _paths(paths: Iterable[str]) -> str:
    """Escaped path literals for read_parquet (a view cannot hold prepared parameters)."""
    return ", ".join(loader.literal(p) for p in paths)


def _check_bad_share(source: Source, pulled: loader.Pulled) -> None:
    if pulled.rows_read and pulled.rows_bad / pulled.rows_read > source.load.max_bad_rows:
        first = pulled.bad_rows[0] if pulled.bad_rows else None
        where = f"; first: {first.file}:{first.line}: {first.reason}" if first else ""
        raise LoadError(
            f"{pulled.rows_bad} of {pulled.rows_read} rows "
            f"({pulled.rows_bad / pulled.rows_read:.1%}) do not fit the declared schema, "
            f"more than the {source.load.max_bad_rows:.0%} allowed{where}"
        )


def _past_high_water_mark(
    con: duckdb.DuckDBPyConnection, source: Source, hwm: str | None, parts: list[Path], folder: Path
) -> list[Path]:
    """Keep only rows past the mark, whatever the connector sent: a source that ignores
    the cursor parameter must not load old rows twice. Returns the parts to publish."""
    cursor = source.load.cursor
    if hwm is None or cursor is None:
        return parts
    kind = next(c.type for c in source.columns if c.name == cursor)
    newer = f"{quote(cursor)} > CAST({loader.literal(hwm)} AS {loader.DUCKDB_TYPES[kind]})"
    if _count(con, f"pulled WHERE NOT coalesce({newer}, false)") == 0:
        return parts
    kept = folder / "new.parquet"
    loader.write_parquet(con, f"SELECT * FROM pulled WHERE {newer}", kept)
    columns = ", ".join(map(quote, _columns(con, "pulled")))
    kept_file = _paths([str(kept)])
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW pulled AS SELECT {columns} FROM read_parquet({kept_file})"
    )
    for part in parts:
        part.unlink()
    return [kept]


def _new_high_water_mark(con: duckdb.DuckDBPyConnection, source: Source) -> str | None:
    cursor = source.load.cursor
    assert cursor is not None
    row = con.execute(f"SELECT CAST(max({quote(cursor)}) AS VARCHAR) FROM candidate").fetchone()
    return None if row is None or row[0] is None else str(row[0])


def _store_high_water_mark(session: Session, source_id: str, mark: str) -> None:
    state = session.get(SourceState, source_id)
    if state is None:
        session.add(SourceState(source_id=source_id, high_water_mark=mark))
    else:
        state.high_water_mark = mark
        state.updated_at = utcnow()


def _earliest(con: duckdb.DuckDBPyConnection, source: Source) -> dict[str, Any]:
    times = [c.name for c in source.columns if c.type in ("date", "timestamp")]
    if not times:
        return {}
    row = con.execute(
        f"SELECT {', '.join(f'min({quote(t)})' for t in times)} FROM pulled"
    ).fetchone()
    return dict(zip(times, row or [], strict=True))


def _unchanged(
    db: Database,
    run_id: int,
    source: Source,
    head: DataVersion | None,
    outcome: _Outcome,
    actor: Actor,
    why: str,
) -> IngestResult:
    outcome.flushed()
    with db.write() as session:
        _finish(session, run_id, source, outcome, actor, unchanged=why)
    return IngestResult(
        run_id, "unchanged", head, outcome.landed, outcome.rows_bad, outcome.warnings, {}
    )


class _Flush:
    """Hashes and flushes landed payloads on a background thread; ``wait`` joins it and
    returns the files with their hashes."""

    def __init__(self, lake: Lake, files: list[LandedFile]) -> None:
        self._files = list(files)
        self._error: OSError | None = None
        self._thread = threading.Thread(target=self._run, args=(lake,), daemon=True)
        self._thread.start()

    def _run(self, lake: Lake) -> None:
        try:
            self._files = lake.settle(self._files)
        except OSError as error:
            self._error = error

    def wait(self) -> list[LandedFile]:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._files


def _finish(
    session: Session,
    run_id: int,
    source: Source,
    outcome: _Outcome,
    actor: Actor,
    *,
    version: DataVersion | None = None,
    error: str | None = None,
    unchanged: str | None = None,
) -> None:
    """Close the run record with everything it learned, and audit the outcome, in one go."""
    outcome.flushed()  # raw files are on disk before the records name them
    run = session.get_one(IngestRun, run_id)
    run.status = "failed" if error else "unchanged" if unchanged else "succeeded"
    run.finished_at = utcnow()
    run.error = error
    run.bytes_read = sum(f.size for f in outcome.landed)
    run.rows_read = outcome.rows_read
    run.rows_quarantined = outcome.rows_bad
    run.warnings = outcome.warnings + ([f"unchanged: {unchanged}"] if unchanged else [])
    if version is not None:
        run.rows_loaded = outcome.rows_read - outcome.rows_bad
        run.data_version_id = version.id
    session.add_all(
        RawFile(
            run_id=run_id,
            source_id=source.id,
            lake_path=f.relative,
            original_name=f.original_name,
            sha256=f.sha256,
            size=f.size,
            content_type=f.content_type,
        )
        for f in outcome.landed
    )
    session.add_all(
        QuarantinedRow(
            run_id=run_id,
            source_id=source.id,
            file=b.file,
            line=b.line,
            column=b.column,
            reason=b.reason,
            raw=b.raw,
        )
        for b in outcome.bad_rows
    )
    session.add_all(
        QualityResult(
            run_id=run_id,
            source_id=source.id,
            check=c.check,
            target=c.target,
            severity=c.severity,
            passed=c.passed,
            failing_rows=c.failing_rows,
            detail=c.detail,
        )
        for c in outcome.checks
    )
    # The error stays on the run, where each reader is shown what they may read: the
    # audit log, kept forever and read by others, never holds text that may quote data.
    detail: dict[str, Any] = {"status": run.status, "rows_quarantined": outcome.rows_bad}
    if version is not None:
        detail |= {"version": version.version, "rows": version.row_count}
    outcome_name = "failed" if error else "ok"
    audit.record(
        session, actor, "source:ingest", "source", source.id, outcome_name, run_id=run_id, **detail
    )
    if outcome.on_finish is not None:
        outcome.on_finish(session, run)


def _columns(con: duckdb.DuckDBPyConnection, relation: str) -> list[str]:
    return [row[0] for row in con.execute(f"DESCRIBE {relation}").fetchall()]


def _count(con: duckdb.DuckDBPyConnection, relation: str) -> int:
    row = con.execute(f"SELECT count(*) FROM {relation}").fetchone()
    return int(row[0]) if row else 0
