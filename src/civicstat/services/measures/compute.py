"""Compute measures into observations: permission, the refresh engine, audit.

The engine (``metrics.refresh``) queries every measure built from rows first, then stores
them and the composite measures built from them in one transaction, in which each stored
change is audited: a refresh lands whole, with its audit events, or not at all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from civicstat.governance import audit
from civicstat.governance.actors import Actor
from civicstat.governance.permissions import MEASURE_COMPUTE, Resource, require
from civicstat.metrics import refresh
from civicstat.plan import AppliedPlan
from civicstat.services.context import Context
from civicstat.services.errors import NotFound
from civicstat.spec.models import Measure


@dataclass(frozen=True)
class ComputeOutcome:
    """What computing one measure did, as the CLI and an ingest report it."""

    measure_id: str
    observations: int
    data_version: str | None  # e.g. "calls_911@3"; None when the dataset has no data yet
    changed: bool


def compute(
    ctx: Context,
    actor: Actor,
    measure_ids: list[str] | None = None,
    *,
    since: Mapping[str, dt.date | None] | None = None,
) -> list[ComputeOutcome]:
    """Recompute the named measures (all when None) from their datasets' current versions,
    and every measure built from them.

    ``since`` maps a measure to the earliest time new rows carry: only the periods from the
    one containing it are recomputed (None: no new row can change that measure); see
    ``metrics.refresh.refresh_from``.
    """
    with ctx.db.session() as session:
        plan = ctx.require_plan(session)
    chosen = plan.in_order(_choose(plan, measure_ids))
    for measure in chosen:
        require(actor, MEASURE_COMPUTE, Resource("measure", measure.id, plan.owner(measure)))
    queried = refresh.query_rows(ctx.db, ctx.warehouse, plan, chosen, since)
    outcomes: list[ComputeOutcome] = []
    with ctx.db.write() as session:
        for stored in refresh.store(session, queried):
            if stored.changed:
                audit.record(
                    session,
                    actor,
                    audit.Event.MEASURE_COMPUTE,
                    "measure",
                    stored.measure_id,
                    data_version=stored.data_version,
                    observations=stored.observations,
                )
            outcomes.append(
                ComputeOutcome(
                    stored.measure_id, stored.observations, stored.data_version, stored.changed
                )
            )
    return outcomes


def _choose(plan: AppliedPlan, measure_ids: list[str] | None) -> list[Measure]:
    if measure_ids is None:
        return list(plan.measures.values())
    unknown = [m for m in measure_ids if m not in plan.measures]
    if unknown:
        raise NotFound(f"unknown measure(s): {', '.join(unknown)}")
    return [plan.measures[m] for m in measure_ids]
