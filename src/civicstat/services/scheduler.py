"""Run each source on its cron ``schedule``, inside ``civicstat serve`` or ``civicstat worker``;
and once a day, export the audit log's head (``services.audit.export_head``).

Any number of processes may run a scheduler on one workspace. Every job takes the source's
lock first (``pipeline.locks``): one process runs the source, the others skip quietly, and
a process that finds a run already done for this scheduled time does not run it again.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import func, select

from civicstat.governance.actors import Actor, Role
from civicstat.metadata import revisions
from civicstat.metadata.models import IngestRun, utcnow
from civicstat.pipeline.locks import SourceBusy, recover_abandoned, source_lock
from civicstat.pipeline.runner import IngestError
from civicstat.plan import AppliedPlan
from civicstat.services import audit as audit_service
from civicstat.services import ingest as ingest_service
from civicstat.services.context import Context
from civicstat.spec.models import Source

__all__ = [
    "AUDIT_HEAD_JOB",
    "INTERVAL_ENV",
    "Scheduler",
    "due",
    "interval_override",
    "scheduler_actor",
    "should_catch_up",
]

log = logging.getLogger(__name__)

# Test-only: fire every N seconds instead of each source's cron, so tests need not wait
# for whole minutes. Never set it in production.
INTERVAL_ENV = "CIVICSTAT_SCHEDULER_SECONDS"
CRON_JITTER_SECONDS = 10  # scheduled pulls start up to this many seconds late
MISFIRE_GRACE_SECONDS = 600
_PLAN_POLL_JOB = "plan-poll"
AUDIT_HEAD_JOB = "audit-head"


def interval_override(environ: Mapping[str, str] = os.environ) -> float | None:
    """The test-only interval from ``CIVICSTAT_SCHEDULER_SECONDS``, if set."""
    raw = environ.get(INTERVAL_ENV, "").strip()
    if not raw:
        return None
    seconds = float(raw)
    if seconds <= 0:
        raise ValueError(f"{INTERVAL_ENV} must be a positive number of seconds, not {raw!r}")
    return seconds


def scheduler_actor() -> Actor:
    """Who scheduled runs are by: named after this process, so a run says which one ran it."""
    return Actor("operator", f"scheduler:{socket.gethostname()}:{os.getpid()}", Role.ADMIN)


def due(schedule: str, timezone: str, last_started: dt.datetime | None, now: dt.datetime) -> bool:
    """Whether a time the cron ``schedule`` names fell after ``last_started``, up to ``now``."""
    if last_started is None:
        return True
    trigger = CronTrigger.from_crontab(schedule, timezone=timezone)
    # Strictly after the last start: a run that began exactly at a fire time served it.
    fire = trigger.get_next_fire_time(None, last_started + dt.timedelta(microseconds=1))
    return fire is not None and fire <= now


def should_catch_up(
    source: Source, timezone: str, last_started: dt.datetime | None, now: dt.datetime
) -> bool:
    """The missed-run policy, applied when a scheduler starts after downtime.

    ``run_once``: run now if a scheduled time passed since the source last ran (however
    many were missed, one run catches up). ``skip``: wait for the next scheduled time. A
    source that never ran has missed nothing: it waits for its first scheduled time.
    """
    if source.schedule is None or source.missed_runs == "skip" or last_started is None:
        return False
    return due(source.schedule, timezone, last_started, now)


@dataclass(frozen=True)
class _JobSpec:
    """What a source's job was built from, to tell whether a new plan changes it."""

    schedule: str
    timezone: str


class Scheduler:
    """The sources' schedules of one workspace, run on a background thread pool."""

    def __init__(
        self,
        ctx: Context,
        *,
        every_seconds: float | None = None,
        poll_seconds: float = 30.0,
        max_workers: int = 4,
        actor: Actor | None = None,
    ) -> None:
        self.ctx = ctx
        self.every_seconds = every_seconds
        self.poll_seconds = poll_seconds
        self.actor = actor or scheduler_actor()
        self._max_workers = max_workers
        self._scheduler = self._build("UTC")
        self._jobs: dict[str, _JobSpec] = {}
        self._revision_id: int | None = None
        self._reload_lock = threading.Lock()

    def _build(self, timezone: str) -> BackgroundScheduler:
        return BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(self._max_workers)},
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": MISFIRE_GRACE_SECONDS,
            },
            timezone=timezone,
        )

    @property
    def scheduled(self) -> dict[str, str]:
        """Source id → its cron schedule, as the jobs stand now."""
        return {source_id: spec.schedule for source_id, spec in self._jobs.items()}

    def next_runs(self) -> dict[str, dt.datetime | None]:
        """Source id → when its job fires next (None while paused or not started)."""
        jobs = {source_id: self._scheduler.get_job(_job_id(source_id)) for source_id in self._jobs}
        return {
            source_id: getattr(job, "next_run_time", None) if job is not None else None
            for source_id, job in jobs.items()
        }

    @property
    def revision_id(self) -> int | None:
        """The plan revision the jobs were built from."""
        return self._revision_id

    def start(self, *, now: dt.datetime | None = None) -> None:
        """Build the jobs from the applied plan, catch up missed runs, and start."""
        recover_abandoned(self.ctx.db)
        with self.ctx.db.session() as session:
            current = self.ctx.applied_plan(session)
        if current is not None:
            self._scheduler = self._build(current.settings.timezone)
        plan = self.reload()
        if plan is not None:
            self._catch_up(plan, now or utcnow())
        self._scheduler.add_job(
            self.reload,
            IntervalTrigger(seconds=self.poll_seconds),
            id=_PLAN_POLL_JOB,
            name="reload the plan when a new revision is applied",
        )
        self._scheduler.add_job(
            self.export_audit_head,
            CronTrigger(
                hour=0, minute=0, timezone=self._scheduler.timezone, jitter=CRON_JITTER_SECONDS
            ),
            id=AUDIT_HEAD_JOB,
            name="export the audit log's head (daily, at midnight)",
        )
        self._scheduler.start()
        log.info("scheduler %s started: %d scheduled source(s)", self.actor, len(self._jobs))

    def shutdown(self, *, wait: bool = True) -> None:
        """Stop firing jobs; with ``wait``, let running ingests finish first."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=wait)

    def reload(self) -> AppliedPlan | None:
        """Rebuild the jobs if a newer plan revision was applied; return that plan, if so."""
        with self._reload_lock:
            with self.ctx.db.session() as session:
                latest = revisions.latest(session)
                if latest is None or latest.id == self._revision_id:
                    return None
                plan = self.ctx.applied_plan(session)
            if plan is None:
                return None
            self._apply(plan)
            return plan

    def _apply(self, plan: AppliedPlan) -> None:
        timezone = plan.settings.timezone
        wanted = {
            s.id: _JobSpec(s.schedule, timezone)
            for s in plan.sources.values()
            if s.schedule is not None
        }
        for source_id in set(self._jobs) - set(wanted):
            self._scheduler.remove_job(_job_id(source_id))
            del self._jobs[source_id]
        for source_id, spec in wanted.items():
            if self._jobs.get(source_id) == spec:
                continue  # unchanged: keep its next fire time
            self._scheduler.add_job(
                self.run_source,
                self._trigger(spec),
                args=[source_id],
                id=_job_id(source_id),
                name=f"ingest {source_id} ({spec.schedule})",
                replace_existing=True,
            )
            self._jobs[source_id] = spec
        if self._revision_id is not None:
            log.info(
                "plan revision %d applied: %d scheduled source(s)", plan.revision_id, len(wanted)
            )
        self._revision_id = plan.revision_id

    def _trigger(self, spec: _JobSpec) -> BaseTrigger:
        # Jitter spreads workers' fire times: without it, workers started together fire in
        # a fixed order and the first always takes the lock, so one worker does all runs.
        if self.every_seconds is not None:
            return IntervalTrigger(
                seconds=self.every_seconds, timezone=spec.timezone, jitter=self.every_seconds / 2
            )
        trigger = CronTrigger.from_crontab(spec.schedule, timezone=spec.timezone)
        trigger.jitter = CRON_JITTER_SECONDS
        return trigger

    def _catch_up(self, plan: AppliedPlan, now: dt.datetime) -> None:
        last = self._last_started()
        for source in plan.sources.values():
            if should_catch_up(source, plan.settings.timezone, last.get(source.id), now):
                log.info("source %s missed a scheduled run: running it once now", source.id)
                self._scheduler.add_job(
                    self.run_source,
                    args=[source.id],
                    id=f"catch-up:{source.id}",
                    name=f"catch up {source.id}",
                    replace_existing=True,
                )

    def _last_started(self, source_id: str | None = None) -> dict[str, dt.datetime]:
        query = select(IngestRun.source_id, func.max(IngestRun.started_at)).group_by(
            IngestRun.source_id
        )
        if source_id is not None:
            query = query.where(IngestRun.source_id == source_id)
        with self.ctx.db.session() as session:
            return dict(session.execute(query).all())

    def export_audit_head(self) -> None:
        """The daily job: the audit log's head to the log and the heads file. Never raises:
        a failure is logged, and tomorrow's export tries again."""
        try:
            audit_service.export_head(self.ctx, self.actor)
        except Exception:
            log.exception("the daily export of the audit log's head failed")

    def run_source(self, source_id: str) -> int | None:
        """One job: ingest the source under its lock; return the run id, or None if skipped.

        Never raises: a failure is logged and recorded in the run, and the scheduler goes on.
        """
        try:
            with source_lock(self.ctx.db, source_id) as lease:
                spec = self._jobs.get(source_id)
                if spec is not None and self.every_seconds is None:
                    last = self._last_started(source_id).get(source_id)
                    if not due(spec.schedule, spec.timezone, last, utcnow()):
                        log.info("source %s already ran for this scheduled time", source_id)
                        return None
                recover_abandoned(self.ctx.db, held=lease)
                outcome = ingest_service.ingest(self.ctx, self.actor, source_id, trigger="schedule")
        except SourceBusy as busy:
            log.info("source %s skipped: held by %s", source_id, busy.holder)
            return None
        except IngestError as error:
            # Not the error's text: it may quote the data, and a log is read by others than
            # those who may read it. The run keeps it (`civicstat runs`, /runs).
            log.warning("scheduled run %d of %s failed: see the run", error.run_id, source_id)
            return error.run_id
        except Exception:
            log.exception("scheduled ingest of %s failed", source_id)
            return None
        result = outcome.result
        log.info("scheduled run %d of %s: %s", result.run_id, source_id, result.status)
        return result.run_id


def _job_id(source_id: str) -> str:
    return f"source:{source_id}"
