"""Compute measures into observations."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from civicstat.domain.periods import period_of
from civicstat.governance import audit
from civicstat.governance.actors import Actor
from civicstat.governance.permissions import MEASURE_COMPUTE, Resource, require
from civicstat.metadata import datasets, observations
from civicstat.metrics import compute as engine
from civicstat.services.context import AppliedPlan, Context
from civicstat.services.errors import NotFound
from civicstat.spec.models import Measure
from civicstat.spec.workspace import definition_hash


@dataclass(frozen=True)
class ComputeOutcome:
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
    """Recompute the named measures (all when None) from their datasets' current versions.

    ``since`` maps a measure to the earliest time new rows carry: only the periods from the
    one containing it are recomputed (None: no new row can change that measure).
    """
    with ctx.db.session() as session:
        plan = ctx.require_plan(session)
    chosen = _choose(plan, measure_ids)
    for measure in chosen:
        require(actor, MEASURE_COMPUTE, Resource("measure", measure.id, _owner(plan, measure)))
    outcomes = []
    for measure in chosen:
        if since is not None and since.get(measure.id) is None:
            continue
        start = since[measure.id] if since is not None else None
        outcomes.append(_compute_one(ctx, actor, measure, start))
    return outcomes


def for_dataset(plan: AppliedPlan, dataset_id: str) -> list[str]:
    return [m.id for m in plan.measures.values() if m.dataset == dataset_id]


def _choose(plan: AppliedPlan, measure_ids: list[str] | None) -> list[Measure]:
    if measure_ids is None:
        return list(plan.measures.values())
    unknown = [m for m in measure_ids if m not in plan.measures]
    if unknown:
        raise NotFound(f"unknown measure(s): {', '.join(unknown)}")
    return [plan.measures[m] for m in measure_ids]


def _owner(plan: AppliedPlan, measure: Measure) -> str | None:
    source = plan.source_for_dataset(measure.dataset)
    return source.owner if source else None


def _compute_one(
    ctx: Context, actor: Actor, measure: Measure, since: dt.date | None
) -> ComputeOutcome:
    definition = definition_hash(measure)
    with ctx.db.session() as session:
        version = datasets.current(session, measure.dataset)
        # A partial refresh is only right when the other periods come from this definition.
        if since is not None and observations.current_definition(session, measure.id) != definition:
            since = None
    if version is None:
        return ComputeOutcome(measure.id, 0, None, False)
    first = period_of(_as_date(since), measure.grain).start if since is not None else None
    with ctx.warehouse.session() as table:
        rows = table(version.dataset_id, version.version, version.files)
        result = ctx.warehouse.execute(engine.expression(measure, rows, first))
    computed = list(engine.observations(measure, result))
    with ctx.db.write() as session:
        changed = observations.replace_current(
            session,
            measure_id=measure.id,
            grain=measure.grain,
            definition_hash=definition,
            data_version_id=version.id,
            rows=computed,
            from_period=first,
        )
        if changed:
            audit.record(
                session,
                actor,
                "measure:compute",
                "measure",
                measure.id,
                data_version=version.label,
                observations=len(computed),
            )
    return ComputeOutcome(measure.id, len(computed), version.label, changed)


def _as_date(value: dt.date) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value
