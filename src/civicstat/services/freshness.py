"""How fresh the data behind a measure is: when each source last pulled successfully, and
whether that is past the source's limit (a stale source marks its measures' status)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel
from sqlalchemy.orm import Session

from civicstat.metadata import source_runs
from civicstat.plan import AppliedPlan
from civicstat.spec.models import Measure, Source


class Freshness(BaseModel):
    source: str
    last_success: dt.datetime | None  # UTC
    stale_after_hours: float | None
    stale: bool


def freshness_of(session: Session, plan: AppliedPlan, measure: Measure) -> list[Freshness]:
    """How fresh each source behind a measure is (a composite measure has several)."""
    now = dt.datetime.now(dt.UTC)
    sources = [plan.source_for_dataset(d) for d in sorted(plan.datasets_of(measure))]
    return [source_freshness(session, s, now) for s in sources if s is not None]


def source_freshness(session: Session, source: Source, now: dt.datetime) -> Freshness:
    """When the source last pulled successfully, and whether that is past its limit."""
    last = source_runs.last_success(session, source.id)
    limit = source.stale_after_hours
    stale = (
        limit is not None
        and last is not None
        and _utc(now) - _utc(last) > dt.timedelta(hours=limit)
    )
    return Freshness(source=source.id, last_success=last, stale_after_hours=limit, stale=stale)


def _utc(moment: dt.datetime) -> dt.datetime:
    """Naive UTC: SQLite gives stored times back without their zone."""
    return moment.astimezone(dt.UTC).replace(tzinfo=None) if moment.tzinfo else moment
