"""SIGKILL an ingest at random moments: the published data never breaks.

Each time, the dataset's head is the previous good version or a complete new one, every
published version's files hold exactly its recorded rows, and the metadata store opens.
Afterwards a normal ingest succeeds and the killed runs are marked abandoned.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import random
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from sqlalchemy import select

from civicstat.governance.actors import Actor
from civicstat.metadata import data_versions
from civicstat.metadata.db import Database
from civicstat.metadata.models import DataVersion, IngestRun, RawFile
from civicstat.pipeline.locks import ABANDONED_ERROR
from civicstat.services import workspace as workspace_service
from civicstat.services.context import Context
from civicstat.settings import Settings
from civicstat.spec.example import write_example

pytestmark = pytest.mark.slow

SOURCE = "service_requests"
ROWS = 200_000
KILLS = 20
SEED = 20_261_125
CLI = [sys.executable, "-m", "civicstat.cli"]
HEADER = [
    "request_id",
    "request_type",
    "district",
    "created_at",
    "due_at",
    "closed_at",
    "department",
]


def write_requests(path: Path, rows: int) -> None:
    """``rows`` service requests in the example's columns, the same every time."""
    start = dt.datetime(2024, 1, 1)
    kinds = ["pothole", "missed-trash", "streetlight", "graffiti"]
    districts = ["north", "south", "east", "west", "downtown"]
    stamp = "%Y-%m-%d %H:%M:%S"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for i in range(rows):
            created = start + dt.timedelta(minutes=3 * i)
            closed = created + dt.timedelta(hours=5 * (i % 11))
            writer.writerow(
                [
                    f"SR-{i:07d}",
                    kinds[i % 4],
                    districts[i % 5],
                    created.strftime(stamp),
                    (created + dt.timedelta(days=3)).strftime(stamp),
                    closed.strftime(stamp) if i % 7 else "",
                    "public-works",
                ]
            )


@dataclass(frozen=True)
class Head:
    version_id: int
    version: int
    row_count: int


def published_state(url: str, lake: Path) -> Head:
    """Open the metadata store afresh and check every published version against its files."""
    db = Database(url)
    try:
        with db.session() as session:
            head = data_versions.current(session, SOURCE)
            versions = session.scalars(
                select(DataVersion).where(DataVersion.dataset_id == SOURCE)
            ).all()
        assert head is not None
        assert head.version == max(v.version for v in versions)  # no version left unpublished
        assert sorted(v.version for v in versions) == list(range(1, len(versions) + 1))
        with duckdb.connect() as con:
            for version in versions:
                paths = [str(lake / f) for f in version.files]
                assert paths
                assert all(Path(p).is_file() for p in paths), f"{version.label}: file missing"
                row = con.execute("SELECT count(*) FROM read_parquet(?)", [paths]).fetchone()
                assert row is not None
                assert row[0] == version.row_count, f"{version.label}: rows differ"
        return Head(head.id, head.version, head.row_count)
    finally:
        db.dispose()


def last_run(db: Database) -> IngestRun | None:
    with db.session() as session:
        return session.scalar(select(IngestRun).order_by(IngestRun.id.desc()).limit(1))


def wait_for_run_after(db: Database, run_id: int, process: subprocess.Popen[bytes]) -> None:
    """Until the new process has recorded its run (or exited): its start-up is not the test."""
    deadline = time.monotonic() + 60
    while (run := last_run(db)) is None or run.id <= run_id:
        if process.poll() is not None or time.monotonic() > deadline:
            return
        time.sleep(0.01)


def test_an_ingest_killed_at_random_moments_never_breaks_what_is_published(
    tmp_path: Path, admin: Actor
) -> None:
    root = tmp_path / "ws"
    write_example(root)
    data = root / "data" / "service_requests.csv"
    # Two inputs that differ, so every run that completes publishes a new version, and
    # its row count says which input it holds.
    variants = {ROWS: tmp_path / "full.csv", ROWS - 1: tmp_path / "short.csv"}
    for rows, path in variants.items():
        write_requests(path, rows)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIVICSTAT_")}
    ctx = Context(Settings(workspace=root))
    ctx.migrate()
    workspace_service.apply(ctx, admin)
    url, lake = ctx.db.url, ctx.lake.root
    ctx.close()
    ingest = [*CLI, "ingest", SOURCE, "-w", str(root), "--no-recompute"]

    shutil.copyfile(variants[ROWS], data)
    first = subprocess.run(ingest, env=env, capture_output=True, text=True, check=False)
    assert first.returncode == 0, first.stderr
    head = published_state(url, lake)
    assert (head.version, head.row_count) == (1, ROWS)
    watch = Database(url)
    run = last_run(watch)
    assert run is not None
    assert run.finished_at is not None
    # The run itself, from its record to its end; a little longer, so some kills come late.
    typical = (run.finished_at - run.started_at).total_seconds() * 1.2

    rng = random.Random(SEED)
    delays = [rng.uniform(0, typical) for _ in range(KILLS)]
    print(f"seed {SEED}; typical run {typical:.2f} s; delays {[round(d, 3) for d in delays]}")
    killed_runs: list[int] = []
    for attempt, delay in enumerate(delays, 1):
        rows = ROWS - 1 if head.row_count == ROWS else ROWS
        shutil.copyfile(variants[rows], data.with_suffix(".tmp"))
        data.with_suffix(".tmp").replace(data)
        previous = last_run(watch)
        previous_id = previous.id if previous else 0
        process = subprocess.Popen(
            ingest, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for_run_after(watch, previous_id, process)
        try:
            completed = process.wait(timeout=delay) == 0
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            completed = False
        print(
            f"kill {attempt}: {delay:.3f} s into the run: {'too late' if completed else 'killed'}"
        )

        before, head = head, published_state(url, lake)
        if completed or head != before:
            assert (head.version, head.row_count) == (before.version + 1, rows)
        run = last_run(watch)
        assert run is not None
        assert run.id == previous_id + 1
        if not completed:
            killed_runs.append(run.id)
    watch.dispose()

    final = subprocess.run(
        [*CLI, "ingest", "-w", str(root)], env=env, capture_output=True, text=True, check=False
    )
    assert final.returncode == 0, final.stderr
    listed = subprocess.run(
        [*CLI, "runs", "-w", str(root), "--limit", "100"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    head = published_state(url, lake)

    db = Database(url)
    with db.session() as session:
        runs = {r.id: r for r in session.scalars(select(IngestRun))}
    db.dispose()
    assert runs[max(runs)].status == "succeeded"
    assert "running" not in {r.status for r in runs.values()}
    assert "failed" not in {r.status for r in runs.values()}
    abandoned = [i for i in killed_runs if runs[i].status == "abandoned"]
    # A kill between the run's last commit and the process's exit leaves a finished run.
    assert {runs[i].status for i in killed_runs} <= {"abandoned", "succeeded"}
    assert all(runs[i].error == ABANDONED_ERROR for i in abandoned)
    print(f"{len(abandoned)} kills hit a running ingest")
    assert abandoned, "no kill hit a running ingest: the test proved nothing"
    assert listed.stdout.count(" abandoned ") == len(abandoned)

    # What the killed runs left in the lake (raw copies, table folders, landing temporaries)
    # goes with a sweep; every file a version or a raw file record names stays.
    swept = subprocess.run(
        [*CLI, "lake", "sweep", "-w", str(root)],
        env=env | {"CIVICSTAT_SWEEP_GRACE_MINUTES": "0"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert swept.returncode == 0, swept.stderr
    db = Database(url)
    with db.session() as session:
        named = {f for v in session.scalars(select(DataVersion)) for f in v.files}
        named |= set(session.scalars(select(RawFile.lake_path)))
    db.dispose()
    on_disk = {p.relative_to(lake).as_posix() for p in lake.rglob("*") if p.is_file()}
    assert on_disk == named
    assert published_state(url, lake) == head
