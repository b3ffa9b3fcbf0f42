"""The source lock: one run per source at a time, across threads, processes and machines.

Every test runs on both metadata stores (``database_url``): the lock is one row whose
INSERT or conditional takeover is atomic on SQLite and on PostgreSQL alike.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier

import pytest
from sqlalchemy import insert, select

from civicstat.metadata.db import Database
from civicstat.metadata.models import IngestRun, SourceLock, utcnow
from civicstat.pipeline.locks import (
    ABANDONED_ERROR,
    LockLost,
    SourceBusy,
    holder_is_dead,
    recover_abandoned,
    source_lock,
)

SOURCE = "calls_911"
ELSEWHERE = "another-host:4242:feedbeef"  # a holder on another machine: never presumed dead


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    database.migrate()
    yield database
    database.dispose()


def put_lock(db: Database, holder: str, expires_in: float) -> None:
    """A lock row as another process would have left it."""
    now = utcnow()
    with db.write() as session:
        session.execute(
            insert(SourceLock).values(
                source_id=SOURCE,
                holder=holder,
                acquired_at=now,
                expires_at=now + dt.timedelta(seconds=expires_in),
            )
        )


def lock_row(db: Database) -> SourceLock | None:
    with db.session() as session:
        return session.get(SourceLock, SOURCE)


def holder_now(db: Database) -> str | None:
    row = lock_row(db)
    return None if row is None else row.holder


def expiry_now(db: Database) -> dt.datetime:
    row = lock_row(db)
    assert row is not None
    return row.expires_at


def add_running_run(db: Database, source_id: str = SOURCE) -> int:
    with db.write() as session:
        run = IngestRun(source_id=source_id, dataset_id=source_id, status="running")
        session.add(run)
        session.flush()
        return run.id


def status_of(db: Database, run_id: int) -> tuple[str, str | None]:
    with db.session() as session:
        run = session.get_one(IngestRun, run_id)
        return run.status, run.error


def dead_pid() -> int:
    """The pid of a process of ours that has exited and been reaped."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


# --- one winner -------------------------------------------------------------------------


def test_of_threads_racing_for_a_source_exactly_one_wins(db: Database) -> None:
    contenders = 8
    start = threading.Barrier(contenders)
    all_tried = threading.Barrier(contenders)
    won: list[str] = []
    busy: list[str] = []

    def contend() -> None:
        start.wait()
        try:
            with source_lock(db, SOURCE) as lease:
                won.append(lease.holder)
                all_tried.wait(timeout=60)  # hold until every other thread has tried
        except SourceBusy as error:
            busy.append(error.holder)
            all_tried.wait(timeout=60)

    threads = [threading.Thread(target=contend) for _ in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(won) == 1
    assert busy == [won[0]] * (contenders - 1)
    assert lock_row(db) is None  # released when the winner's block ended


def _contend_in_process(
    url: str, start: Barrier, tried: Barrier, results: Queue[tuple[str, str]]
) -> None:
    db = Database(url)
    start.wait()
    try:
        with source_lock(db, SOURCE) as lease:
            results.put(("won", lease.holder))
            tried.wait(timeout=60)
    except SourceBusy as error:
        results.put(("busy", error.holder))
        tried.wait(timeout=60)
    finally:
        db.dispose()


def test_of_processes_racing_for_a_source_exactly_one_wins(db: Database) -> None:
    spawn = multiprocessing.get_context("spawn")
    contenders = 3
    start, tried = spawn.Barrier(contenders), spawn.Barrier(contenders)
    results: Queue[tuple[str, str]] = spawn.Queue()
    processes = [
        spawn.Process(target=_contend_in_process, args=(db.url, start, tried, results))
        for _ in range(contenders)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    winners = [holder for kind, holder in outcomes if kind == "won"]
    assert len(winners) == 1
    assert sorted(outcomes) == sorted([("won", winners[0])] + [("busy", winners[0])] * 2)
    host, pid, _ = winners[0].split(":")
    assert host == socket.gethostname()
    assert int(pid) in {p.pid for p in processes}


def test_a_live_lock_held_elsewhere_makes_the_source_busy(db: Database) -> None:
    put_lock(db, ELSEWHERE, expires_in=60)
    with pytest.raises(SourceBusy) as busy, source_lock(db, SOURCE):
        pass
    assert busy.value.holder == ELSEWHERE
    assert str(busy.value) == f"source {SOURCE!r} is being ingested by {ELSEWHERE}"
    assert holder_now(db) == ELSEWHERE


# --- stale locks ------------------------------------------------------------------------


def test_an_expired_lease_is_taken_over(db: Database) -> None:
    put_lock(db, ELSEWHERE, expires_in=-1)
    with source_lock(db, SOURCE) as lease:
        assert holder_now(db) == lease.holder != ELSEWHERE
        assert expiry_now(db) > utcnow()
    assert lock_row(db) is None


def test_a_lock_left_by_a_dead_process_on_this_host_is_taken_over_at_once(db: Database) -> None:
    dead = f"{socket.gethostname()}:{dead_pid()}:0badcafe"
    assert holder_is_dead(dead)
    put_lock(db, dead, expires_in=60)
    with source_lock(db, SOURCE) as lease:
        assert lease.holder != dead


def test_only_a_dead_process_on_this_very_host_counts_as_dead() -> None:
    here = socket.gethostname()
    assert not holder_is_dead(f"{here}:1:cafe")  # init runs
    assert not holder_is_dead(ELSEWHERE)
    assert not holder_is_dead(f"another-host:{dead_pid()}:cafe")
    assert not holder_is_dead("garbage")


# --- holding and releasing --------------------------------------------------------------


def test_renewal_keeps_a_long_runs_lock(db: Database) -> None:
    lease_seconds = 0.6
    with source_lock(db, SOURCE, lease_seconds=lease_seconds) as lease:
        deadline = time.monotonic() + 4 * lease_seconds
        while time.monotonic() < deadline:
            time.sleep(lease_seconds / 2)
            with pytest.raises(SourceBusy), source_lock(db, SOURCE, holder=ELSEWHERE):
                pass
        assert holder_now(db) == lease.holder
        assert expiry_now(db) > utcnow()
        assert not lease.lost


def test_the_lock_is_released_when_the_run_raises(db: Database) -> None:
    def failing_run() -> None:
        with source_lock(db, SOURCE):
            assert holder_now(db) is not None
            raise RuntimeError("the run failed")

    with pytest.raises(RuntimeError):
        failing_run()
    assert lock_row(db) is None
    with source_lock(db, SOURCE, holder=ELSEWHERE) as lease:
        assert lease.holder == ELSEWHERE


def test_a_thread_that_holds_a_source_may_take_it_again(db: Database) -> None:
    with source_lock(db, SOURCE) as outer:
        with source_lock(db, SOURCE) as inner:
            assert inner is outer
        assert holder_now(db) == outer.holder  # the inner block kept it
    assert lock_row(db) is None


def test_a_run_whose_lease_was_taken_over_cannot_confirm_it(db: Database) -> None:
    with source_lock(db, SOURCE, lease_seconds=60) as lease:
        with db.write() as session:
            lease.confirm(session)
        with db.write() as session:  # another process took the lock after our lease ran out
            session.get_one(SourceLock, SOURCE).holder = ELSEWHERE
        with pytest.raises(LockLost), db.write() as session:
            lease.confirm(session)
        assert lease.lost
    assert holder_now(db) == ELSEWHERE  # releasing never deletes theirs


# --- abandoned runs ---------------------------------------------------------------------


def test_a_running_run_without_a_live_lock_is_marked_abandoned(db: Database) -> None:
    orphan = add_running_run(db, "no_lock_at_all")
    expired = add_running_run(db, SOURCE)
    put_lock(db, ELSEWHERE, expires_in=-5)
    assert recover_abandoned(db) == 2
    assert status_of(db, orphan) == ("abandoned", ABANDONED_ERROR)
    assert status_of(db, expired) == ("abandoned", ABANDONED_ERROR)
    assert recover_abandoned(db) == 0


def test_a_run_whose_lock_is_alive_is_left_running(db: Database) -> None:
    put_lock(db, ELSEWHERE, expires_in=60)
    alive = add_running_run(db)
    assert recover_abandoned(db) == 0
    assert status_of(db, alive) == ("running", None)


def test_a_run_of_a_dead_process_on_this_host_is_abandoned_before_its_lease_ends(
    db: Database,
) -> None:
    put_lock(db, f"{socket.gethostname()}:{dead_pid()}:0badcafe", expires_in=60)
    killed = add_running_run(db)
    assert recover_abandoned(db) == 1
    assert status_of(db, killed)[0] == "abandoned"


def test_whoever_takes_the_lock_abandons_the_runs_it_found_running(db: Database) -> None:
    earlier = add_running_run(db)  # its process died; its lease has expired
    put_lock(db, ELSEWHERE, expires_in=-1)
    other_source = add_running_run(db, "other")
    put_other = utcnow() + dt.timedelta(seconds=60)
    with db.write() as session:
        session.add(SourceLock(source_id="other", holder=ELSEWHERE, expires_at=put_other))
    with source_lock(db, SOURCE) as lease:
        assert recover_abandoned(db, held=lease) == 1
    assert status_of(db, earlier)[0] == "abandoned"
    assert status_of(db, other_source)[0] == "running"
    with db.session() as session:
        statuses = set(session.scalars(select(IngestRun.status)))
    assert statuses == {"abandoned", "running"}
