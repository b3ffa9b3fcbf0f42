"""An ingest killed mid-load (SIGKILL) leaves a table folder and a raw copy that nothing
refers to; the sweep removes them, at the start of the source's next ingest or with
``civicstat lake sweep``, and never touches a committed version's files or those of an
ingest running in another process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from sqlalchemy import select

from civicstat.governance.actors import Actor
from civicstat.metadata import data_versions
from civicstat.metadata.models import AuditEvent, DataVersion, RawFile
from civicstat.services import ingest as ingest_service
from civicstat.services import lake as lake_service
from civicstat.services import workspace as workspace_service
from civicstat.services.context import Context
from civicstat.settings import Settings
from civicstat.spec.example import write_example

pytestmark = pytest.mark.slow

SOURCE = "service_requests"
ROWS = 600_000
CLI = [sys.executable, "-m", "civicstat.cli"]
HEADER = "request_id,request_type,district,created_at,due_at,closed_at,department\n"


def write_requests(path: Path, rows: int) -> None:
    """``rows`` service requests in the example's columns (enough to take a few seconds)."""
    kinds = ["pothole", "missed-trash", "streetlight", "graffiti"]
    with path.open("w", encoding="utf-8") as handle:
        handle.write(HEADER)
        for i in range(rows):
            day = 1 + i % 28
            handle.write(
                f"SR-{i:07d},{kinds[i % 4]},D{i % 5},2024-02-{day:02d} 08:00:00,"
                f"2024-03-{day:02d} 08:00:00,,public-works\n"
            )


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIVICSTAT_")}
    return env | extra


NO_GRACE = environment(CIVICSTAT_SWEEP_GRACE_MINUTES="0")


def civicstat(*args: str, env: dict[str, str] = NO_GRACE) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, check=False)


@pytest.fixture
def root(tmp_path: Path, admin: Actor) -> Path:
    """The example workspace with a large request file, applied and ingested once."""
    workspace = tmp_path / "ws"
    write_example(workspace)
    write_requests(workspace / "data" / f"{SOURCE}.csv", ROWS)
    ctx = Context(Settings(workspace=workspace))
    ctx.migrate()
    workspace_service.apply(ctx, admin)
    ctx.close()
    first = civicstat("ingest", SOURCE, "-w", str(workspace), "--no-recompute")
    assert first.returncode == 0, first.stderr
    # The next run reads a different file, so it publishes a new version.
    write_requests(workspace / "data" / f"{SOURCE}.csv", ROWS - 1)
    return workspace


def lake_files(root: Path) -> set[str]:
    lake = root / "lake"
    return {p.relative_to(lake).as_posix() for p in lake.rglob("*") if p.is_file()}


def referenced(root: Path) -> set[str]:
    """Every lake file a data version or a raw file record names."""
    ctx = Context(Settings(workspace=root))
    try:
        with ctx.db.session() as session:
            versions = session.scalars(select(DataVersion.files)).all()
            raw = session.scalars(select(RawFile.lake_path)).all()
    finally:
        ctx.close()
    return {f for files in versions for f in files} | set(raw)


def published_rows(root: Path) -> tuple[int, int]:
    """The head's version and its rows as read from its files (which must all be there)."""
    ctx = Context(Settings(workspace=root))
    try:
        with ctx.db.session() as session:
            head = data_versions.current(session, SOURCE)
        assert head is not None
        paths = [str(ctx.lake.path(f)) for f in head.files]
    finally:
        ctx.close()
    with duckdb.connect() as con:
        row = con.execute("SELECT count(*) FROM read_parquet(?)", [paths]).fetchone()
    assert row is not None
    assert row[0] == head.row_count
    return head.version, int(row[0])


def start_ingest(root: Path) -> tuple[subprocess.Popen[bytes], set[str]]:
    """Start an ingest in another process and stop it (SIGSTOP) as soon as it is writing a
    Parquet part into a fresh table folder, having landed its raw copy; return it, stopped mid-load,
    with the files it has made so far. Stopping it, rather than sleeping a while, catches
    it mid-load however fast the machine is; SIGCONT lets it go on."""
    before = lake_files(root)
    tables = root / "lake" / "tables" / SOURCE
    folders = set(tables.iterdir())
    process = subprocess.Popen(
        [*CLI, "ingest", SOURCE, "-w", str(root), "--no-recompute"],
        env=NO_GRACE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not [p for f in set(tables.iterdir()) - folders for p in f.glob("part-*.parquet")]:
        assert process.poll() is None, "the ingest ended before it began to load"
        assert time.monotonic() < deadline
        time.sleep(0.001)
    process.send_signal(signal.SIGSTOP)
    assert process.poll() is None, "the ingest ended before it could be caught loading"
    made = lake_files(root) - before
    made |= {p.relative_to(root / "lake").as_posix() for p in set(tables.iterdir()) - folders}
    return process, made


def kill_mid_load(root: Path) -> set[str]:
    """SIGKILL an ingest while it loads; return what it left in the lake."""
    process, _ = start_ingest(root)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL
    left = lake_files(root) - referenced(root)
    assert any(f.startswith(f"raw/{SOURCE}/") for f in left)
    assert any(f.startswith(f"tables/{SOURCE}/") for f in left)
    return left


def test_lake_sweep_removes_what_a_killed_ingest_left_and_nothing_else(root: Path) -> None:
    kept = lake_files(root)
    left = kill_mid_load(root)

    too_young = civicstat("lake", "sweep", "-w", str(root), env=environment())
    listed = civicstat("lake", "sweep", "--dry-run", "-w", str(root))
    assert lake_files(root) - kept == left  # neither removed anything
    swept = civicstat("lake", "sweep", "-w", str(root))

    assert too_young.returncode == 0, too_young.stderr
    assert "0 leftover(s) removed" in too_young.stdout
    assert listed.returncode == 0, listed.stderr
    assert "would be removed" in listed.stdout
    folders = {f.rsplit("/", 1)[0] for f in left if f.startswith("tables/")}
    for path in folders | {f for f in left if f.startswith("raw/")}:
        assert path in listed.stdout
        assert path in swept.stdout
    assert swept.returncode == 0, swept.stderr
    assert lake_files(root) == kept == referenced(root)
    assert published_rows(root) == (1, ROWS)
    again = civicstat("ingest", SOURCE, "-w", str(root), "--no-recompute")
    assert again.returncode == 0, again.stderr
    assert published_rows(root) == (2, ROWS - 1)


def test_an_ingest_first_sweeps_what_a_killed_run_of_its_source_left(root: Path) -> None:
    left = kill_mid_load(root)

    ingest = civicstat("ingest", SOURCE, "-w", str(root), "--no-recompute")

    assert ingest.returncode == 0, ingest.stderr
    assert not left & lake_files(root)
    assert lake_files(root) == referenced(root)
    assert published_rows(root) == (2, ROWS - 1)
    ctx = Context(Settings(workspace=root))
    try:
        with ctx.db.session() as session:
            sweeps = session.scalars(
                select(AuditEvent).where(AuditEvent.action == "lake:sweep")
            ).all()
    finally:
        ctx.close()
    raw = {f for f in left if f.startswith("raw/")}
    folders = {f.rsplit("/", 1)[0] for f in left - raw}
    assert [(e.actor, e.object_id, e.detail["files"]) for e in sweeps] == [
        ("system:lake sweep", SOURCE, len(raw) + len(folders))
    ]


def test_a_sweep_passes_over_a_source_being_ingested_in_another_process(
    root: Path, admin: Actor
) -> None:
    process, loading = start_ingest(root)
    ctx = Context(Settings(workspace=root, sweep_grace_minutes=0))
    try:
        result = lake_service.sweep(ctx, admin)
        still_running = process.poll() is None
    finally:
        ctx.close()

    process.send_signal(signal.SIGCONT)
    assert still_running, "the ingest finished before the sweep: the test proved nothing"
    assert result.busy == [SOURCE]
    assert result.removed == []
    assert all((root / "lake" / f).exists() for f in loading)
    assert process.wait(timeout=300) == 0
    assert published_rows(root) == (2, ROWS - 1)
    assert lake_files(root) == referenced(root)


def test_a_sweep_keeps_every_version_and_document_and_young_leftovers(
    example_ctx: Context, admin: Actor, tmp_path: Path
) -> None:
    """On each metadata store: only what no record names, once older than the grace period."""
    ingest_service.ingest(example_ctx, admin, SOURCE, recompute=False)
    pdf = tmp_path / "dictionary.pdf"
    pdf.write_bytes(b"%PDF-1.4\n%%EOF\n")
    lake_service.add_document(example_ctx, admin, SOURCE, pdf)
    root = example_ctx.settings.workspace
    stray = example_ctx.lake.root / "tables" / "retired_dataset" / "0f" / "part-0000.parquet"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"PAR1")
    kept = lake_files(root) - {"tables/retired_dataset/0f/part-0000.parquet"}

    young = lake_service.sweep(example_ctx, admin)  # the default grace period: an hour
    assert young.removed == []
    assert stray.exists()
    no_grace = Context(
        Settings(workspace=root, database_url=example_ctx.db.url, sweep_grace_minutes=0)
    )
    try:
        result = lake_service.sweep(no_grace, admin)
    finally:
        no_grace.close()

    assert [(r.kind, r.relative) for r in result.removed] == [
        ("table", "tables/retired_dataset/0f")
    ]
    assert lake_files(root) == kept
    assert not (example_ctx.lake.root / "tables" / "retired_dataset").exists()
