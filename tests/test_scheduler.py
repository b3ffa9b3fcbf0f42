"""The scheduler: cron jobs per source, the missed-run policy, reloads, and many workers.

The policy is decided by pure functions given a frozen ``now``; the jobs run for real
against the example workspace; two ``civicstat worker`` processes share one PostgreSQL
database to show that a source never runs twice at once.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from civicstat.governance.actors import Actor
from civicstat.metadata.models import IngestRun, SourceLock, utcnow
from civicstat.services import ingest as ingest_service
from civicstat.services import workspace as workspace_service
from civicstat.services.context import Context
from civicstat.settings import Settings
from civicstat.spec.example import write_example
from civicstat.spec.models import Source
from civicstat.web.app import create_app
from civicstat.worker.scheduler import (
    Scheduler,
    due,
    from_environment,
    interval_override,
    scheduler_actor,
    should_catch_up,
)

SOURCE = "service_requests"
CHICAGO = "America/Chicago"
DAILY_AT_6 = "0 6 * * *"
CLI = [sys.executable, "-m", "civicstat.cli"]


def chicago(
    year: int, month: int, day: int, hour: int, minute: int, second: int = 0
) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=ZoneInfo(CHICAGO))


def example_source(root: Path, **changes: object) -> Source:
    body = yaml.safe_load((root / "sources" / f"{SOURCE}.yaml").read_text(encoding="utf-8"))
    return Source.model_validate({**body, **changes})


def edit_source(root: Path, **changes: object) -> None:
    path = root / "sources" / f"{SOURCE}.yaml"
    body = yaml.safe_load(path.read_text(encoding="utf-8"))
    body.update(changes)
    body = {k: v for k, v in body.items() if v is not None}
    path.write_text(yaml.safe_dump(body, sort_keys=False), encoding="utf-8")


def runs_of(ctx: Context) -> list[IngestRun]:
    with ctx.db.session() as session:
        return list(session.scalars(select(IngestRun).order_by(IngestRun.id)))


def wait_for(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not true after {timeout} s")
        time.sleep(0.1)


@pytest.fixture
def scheduler(example_ctx: Context) -> Iterator[Callable[..., Scheduler]]:
    made: list[Scheduler] = []

    def make(*, every_seconds: float | None = None, poll_seconds: float = 30) -> Scheduler:
        made.append(Scheduler(example_ctx, every_seconds=every_seconds, poll_seconds=poll_seconds))
        return made[-1]

    yield make
    for one in made:
        one.shutdown()


# --- the missed-run policy, with a frozen clock -----------------------------------------


def test_run_once_catches_up_when_a_scheduled_time_passed_during_downtime(
    example_root: Path,
) -> None:
    source = example_source(example_root, missed_runs="run_once")
    last = chicago(2025, 3, 10, 6, 0, 5)  # Monday's 06:00 run
    now = chicago(2025, 3, 12, 9, 0)  # back on Wednesday after downtime: two runs missed
    assert should_catch_up(source, CHICAGO, last, now)


def test_run_once_does_nothing_when_the_last_run_followed_the_latest_scheduled_time(
    example_root: Path,
) -> None:
    source = example_source(example_root, missed_runs="run_once")
    last = chicago(2025, 3, 12, 6, 0, 5)
    assert not should_catch_up(source, CHICAGO, last, chicago(2025, 3, 12, 9, 0))
    assert not should_catch_up(source, CHICAGO, last, chicago(2025, 3, 13, 5, 59, 59))
    assert should_catch_up(source, CHICAGO, last, chicago(2025, 3, 13, 6, 0))


def test_skip_waits_for_the_next_scheduled_time(example_root: Path) -> None:
    source = example_source(example_root, missed_runs="skip")
    last = chicago(2025, 3, 10, 6, 0, 5)
    assert not should_catch_up(source, CHICAGO, last, chicago(2025, 3, 12, 9, 0))


def test_a_source_that_never_ran_has_missed_nothing(example_root: Path) -> None:
    source = example_source(example_root, missed_runs="run_once")
    assert not should_catch_up(source, CHICAGO, None, chicago(2025, 3, 12, 9, 0))


def test_a_source_without_a_schedule_is_never_caught_up(example_root: Path) -> None:
    source = example_source(example_root, schedule=None)
    last = chicago(2025, 3, 10, 6, 0, 5)
    assert not should_catch_up(source, CHICAGO, last, chicago(2025, 3, 12, 9, 0))


def test_scheduled_times_are_in_the_workspace_time_zone() -> None:
    # 06:00 in Chicago is 12:00 UTC in winter (CST) and 11:00 UTC in summer (CDT).
    winter_last = dt.datetime(2025, 1, 15, 11, 0, tzinfo=dt.UTC)
    assert not due(
        DAILY_AT_6, CHICAGO, winter_last, dt.datetime(2025, 1, 15, 11, 59, tzinfo=dt.UTC)
    )
    assert due(DAILY_AT_6, CHICAGO, winter_last, dt.datetime(2025, 1, 15, 12, 0, tzinfo=dt.UTC))
    summer_last = dt.datetime(2025, 7, 15, 10, 0, tzinfo=dt.UTC)
    assert due(DAILY_AT_6, CHICAGO, summer_last, dt.datetime(2025, 7, 15, 11, 0, tzinfo=dt.UTC))
    assert not due(DAILY_AT_6, "UTC", summer_last, dt.datetime(2025, 7, 15, 11, 0, tzinfo=dt.UTC))


def test_a_run_that_started_at_the_scheduled_time_served_it() -> None:
    fire = chicago(2025, 3, 12, 6, 0)
    assert not due(DAILY_AT_6, CHICAGO, fire, fire + dt.timedelta(hours=3))
    assert due(DAILY_AT_6, CHICAGO, fire - dt.timedelta(seconds=1), fire)
    assert due(DAILY_AT_6, CHICAGO, None, fire)  # never ran: any scheduled time is due


def test_the_test_only_interval_comes_from_the_environment() -> None:
    assert interval_override({}) is None
    assert interval_override({"CIVICSTAT_SCHEDULER_SECONDS": "2"}) == 2.0
    with pytest.raises(ValueError, match="positive"):
        interval_override({"CIVICSTAT_SCHEDULER_SECONDS": "0"})


# --- jobs, in process -------------------------------------------------------------------


def test_each_scheduled_source_gets_a_cron_job_in_the_workspace_time_zone(
    scheduler: Callable[..., Scheduler],
) -> None:
    running = scheduler()
    running.start()
    assert running.scheduled == {SOURCE: DAILY_AT_6}
    next_run = running.next_runs()[SOURCE]
    assert next_run is not None
    local = next_run.astimezone(ZoneInfo(CHICAGO))
    assert (local.hour, local.minute) == (6, 0)
    assert next_run > utcnow()


def test_a_newly_applied_revision_reloads_the_jobs(
    example_ctx: Context, admin: Actor, scheduler: Callable[..., Scheduler]
) -> None:
    running = scheduler(poll_seconds=0.2)
    running.start()
    edit_source(example_ctx.root, schedule="30 7 * * 1-5")
    workspace_service.apply(example_ctx, admin)
    wait_for(lambda: running.scheduled == {SOURCE: "30 7 * * 1-5"})
    edit_source(example_ctx.root, schedule=None)
    workspace_service.apply(example_ctx, admin)
    wait_for(lambda: running.scheduled == {})


def backdate_runs(ctx: Context, days: int) -> None:
    with ctx.db.write() as session:
        session.execute(update(IngestRun).values(started_at=utcnow() - dt.timedelta(days=days)))


def test_on_start_a_missed_run_is_run_once(
    example_ctx: Context, admin: Actor, scheduler: Callable[..., Scheduler]
) -> None:
    ingest_service.ingest(example_ctx, admin, SOURCE, recompute=False)
    backdate_runs(example_ctx, days=3)  # the server was down for three daily runs
    scheduler().start()
    wait_for(
        lambda: len(runs_of(example_ctx)) == 2 and runs_of(example_ctx)[1].finished_at is not None
    )
    time.sleep(0.5)
    first, caught_up = runs_of(example_ctx)
    assert (first.trigger, caught_up.trigger) == ("manual", "schedule")
    assert caught_up.status in ("succeeded", "unchanged")


def test_on_start_a_missed_run_is_skipped_when_the_source_says_skip(
    example_ctx: Context, admin: Actor, scheduler: Callable[..., Scheduler]
) -> None:
    edit_source(example_ctx.root, missed_runs="skip")
    workspace_service.apply(example_ctx, admin)
    ingest_service.ingest(example_ctx, admin, SOURCE, recompute=False)
    backdate_runs(example_ctx, days=3)
    scheduler().start()
    time.sleep(1.5)
    assert [r.trigger for r in runs_of(example_ctx)] == ["manual"]


def test_a_job_records_which_process_ran_it(
    example_ctx: Context, scheduler: Callable[..., Scheduler]
) -> None:
    run_id = scheduler().run_source(SOURCE)
    (run,) = runs_of(example_ctx)
    assert run.id == run_id
    assert (run.trigger, run.status) == ("schedule", "succeeded")
    assert run.started_by == str(scheduler_actor())
    assert run.started_by == f"scheduler:{socket.gethostname()}:{os.getpid()}"


def test_a_job_skips_a_source_another_process_is_running(
    example_ctx: Context, scheduler: Callable[..., Scheduler], caplog: pytest.LogCaptureFixture
) -> None:
    with example_ctx.db.write() as session:
        session.add(
            SourceLock(
                source_id=SOURCE,
                holder="worker-2.example.org:77:abcd",
                expires_at=utcnow() + dt.timedelta(minutes=1),
            )
        )
    with caplog.at_level(logging.INFO, logger="civicstat"):
        assert scheduler().run_source(SOURCE) is None
    assert runs_of(example_ctx) == []
    assert "held by worker-2.example.org:77:abcd" in caplog.text


def test_a_job_does_not_repeat_a_run_already_done_for_this_scheduled_time(
    example_ctx: Context, admin: Actor, scheduler: Callable[..., Scheduler]
) -> None:
    ingest_service.ingest(example_ctx, admin, SOURCE, recompute=False)
    running = scheduler()
    running.start()  # builds the cron job; a run already followed the last 06:00
    assert running.run_source(SOURCE) is None
    assert len(runs_of(example_ctx)) == 1


def test_a_failing_run_is_logged_and_the_scheduler_goes_on(
    example_ctx: Context, scheduler: Callable[..., Scheduler], caplog: pytest.LogCaptureFixture
) -> None:
    data = example_ctx.root / "data" / "service_requests.csv"
    good = data.read_bytes()
    data.write_text("not,the,declared,columns\n1,2,3,4\n", encoding="utf-8")
    running = scheduler()
    with caplog.at_level(logging.INFO, logger="civicstat"):
        failed_id = running.run_source(SOURCE)
    assert failed_id is not None
    data.write_bytes(good)
    assert running.run_source(SOURCE) not in (None, failed_id)
    assert [r.status for r in runs_of(example_ctx)] == ["failed", "succeeded"]
    assert f"scheduled run {failed_id} of {SOURCE} failed" in caplog.text


def test_an_interval_scheduler_keeps_running_jobs(
    example_ctx: Context, scheduler: Callable[..., Scheduler]
) -> None:
    running = scheduler(every_seconds=0.5)
    running.start()
    wait_for(lambda: len([r for r in runs_of(example_ctx) if r.finished_at]) >= 2)
    running.shutdown()
    runs = runs_of(example_ctx)
    assert {r.trigger for r in runs} == {"schedule"}
    assert {r.status for r in runs} <= {"succeeded", "unchanged"}


# --- the web app ------------------------------------------------------------------------


def test_an_app_given_a_context_never_starts_a_scheduler(example_ctx: Context) -> None:
    settings = Settings(workspace=example_ctx.root)
    with TestClient(create_app(settings, example_ctx)) as client:
        assert client.app.state.scheduler is None  # type: ignore[attr-defined]


@pytest.mark.parametrize("wanted", [True, False])
def test_an_app_that_opens_its_workspace_runs_the_scheduler_it_is_given(
    example_ctx: Context, database_url: str, wanted: bool
) -> None:
    settings = Settings(workspace=example_ctx.root, database_url=database_url)
    app = create_app(settings, background=from_environment if wanted else None)
    with TestClient(app) as client:
        background = client.app.state.scheduler  # type: ignore[attr-defined]
        if wanted:
            assert isinstance(background, Scheduler)
            assert background.scheduled == {SOURCE: DAILY_AT_6}
        else:
            assert background is None


# --- two workers, one PostgreSQL database -----------------------------------------------


def enlarge(data: Path, copies: int) -> int:
    """Make each run take a while: the example's rows, ``copies`` times, with new ids."""
    with data.open(newline="", encoding="utf-8") as handle:
        header, *rows = list(csv.reader(handle))
    with data.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for copy in range(copies):
            writer.writerows([f"{row[0]}-{copy}", *row[1:]] for row in rows)
    return copies * len(rows)


@pytest.mark.slow
@pytest.mark.postgres
def test_two_workers_never_run_a_source_at_the_same_time(
    tmp_path: Path, postgres_url: str, admin: Actor
) -> None:
    root = tmp_path / "ws"
    write_example(root)
    enlarge(root / "data" / "service_requests.csv", copies=100)
    ctx = Context(Settings(workspace=root, database_url=postgres_url))
    ctx.migrate()
    workspace_service.apply(ctx, admin)
    env = {**os.environ, "CIVICSTAT_DATABASE_URL": postgres_url, "CIVICSTAT_SCHEDULER_SECONDS": "1"}
    logs = [tmp_path / f"worker-{n}.log" for n in (1, 2)]
    workers = []
    for log in logs:
        with log.open("w") as stderr:
            workers.append(
                subprocess.Popen(
                    [*CLI, "worker", "-w", str(root)],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=stderr,
                )
            )
    pids = {str(w.pid) for w in workers}

    def runners() -> set[str]:
        return {r.started_by.rsplit(":", 1)[-1] for r in runs_of(ctx) if r.finished_at}

    try:
        deadline = time.monotonic() + 60
        while not (runners() >= pids and len(runs_of(ctx)) >= 6):
            if time.monotonic() > deadline or any(w.poll() is not None for w in workers):
                break
            time.sleep(0.5)
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        codes = [w.wait(timeout=60) for w in workers]
    output = "\n".join(log.read_text(encoding="utf-8") for log in logs)
    runs = runs_of(ctx)
    ctx.close()

    assert codes == [0, 0], output
    assert {r.started_by.rsplit(":", 1)[-1] for r in runs} == pids, output
    assert {r.trigger for r in runs} == {"schedule"}
    assert all(r.status in ("succeeded", "unchanged") for r in runs), [r.error for r in runs]
    spans = sorted((r.started_at, r.finished_at) for r in runs)
    for (_, finished), (next_started, _) in itertools.pairwise(spans):
        assert finished is not None
        assert finished <= next_started, f"runs overlapped: {spans}"
    assert "skipped: held by" in output, output  # the workers did contend for the source
