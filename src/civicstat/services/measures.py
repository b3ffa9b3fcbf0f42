"""Compute measures into observations.

Measures are computed in dependency order: a ratio, derived or cumulative measure after
the measures it is built from, and whenever one of them is recomputed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from civicstat.domain.calendars import BusinessCalendar
from civicstat.domain.periods import period_of
from civicstat.governance import audit
from civicstat.governance.actors import Actor
from civicstat.governance.permissions import MEASURE_COMPUTE, Resource, require
from civicstat.metadata import datasets, observations
from civicstat.metadata.models import DataVersion
from civicstat.metadata.observations import ObservationRow
from civicstat.metrics import composite, kinds
from civicstat.metrics import compute as engine
from civicstat.services import populations
from civicstat.services.context import AppliedPlan, Context
from civicstat.services.errors import NotFound
from civicstat.spec.models import Measure, Window
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
    """Recompute the named measures (all when None) from their datasets' current versions,
    and every measure built from them.

    ``since`` maps a measure to the earliest time new rows carry: only the periods from the
    one containing it are recomputed (None: no new row can change that measure).
    """
    with ctx.db.session() as session:
        plan = ctx.require_plan(session)
    chosen = order(plan, _choose(plan, measure_ids))
    for measure in chosen:
        require(actor, MEASURE_COMPUTE, Resource("measure", measure.id, owner(plan, measure)))
    env = environment(plan)
    outcomes: dict[str, ComputeOutcome] = {}
    for measure in chosen:
        kind = kinds.get(measure.kind)
        if isinstance(kind, kinds.CompositeKind) and not isinstance(kind, kinds.Cumulative):
            inputs = kind.depends_on(measure)
            if since is not None and not any(outcomes.get(i, _SAME).changed for i in inputs):
                continue
            outcomes[measure.id] = _compute_composite(ctx, actor, plan, measure)
            continue
        row_measure = effective(plan, measure)
        if since is not None and since.get(row_measure.id) is None:
            continue
        start = since[row_measure.id] if since is not None else None
        outcomes[measure.id] = _compute_rows(ctx, actor, plan, measure, env, start)
    return list(outcomes.values())


_SAME = ComputeOutcome("", 0, None, False)


def for_dataset(plan: AppliedPlan, dataset_id: str) -> list[str]:
    """Measures computed from a dataset's rows (directly, or to date through cumulative)."""
    return [m.id for m in plan.measures.values() if effective(plan, m).dataset == dataset_id]


def refresh_from(
    plan: AppliedPlan, measure_ids: list[str], earliest: Mapping[str, object]
) -> dict[str, dt.date | None]:
    """For each measure, the earliest new value of the column placing its rows in time."""
    out: dict[str, dt.date | None] = {}
    for measure_id in measure_ids:
        row_measure = effective(plan, plan.measures[measure_id])
        column = engine.row_kind(row_measure).time_column(row_measure)
        value = earliest.get(column)
        out[measure_id] = value if isinstance(value, dt.date) else None
    return out


def environment(plan: AppliedPlan) -> kinds.Env:
    holidays = plan.settings.holidays
    calendar = BusinessCalendar(
        holidays.country if holidays else None, holidays.subdivision if holidays else None
    )
    return kinds.Env(fiscal_start_month=plan.settings.fiscal_year_start_month, calendar=calendar)


def effective(plan: AppliedPlan, measure: Measure) -> Measure:
    """The row measure that computes ``measure``: a cumulative one is the measure it
    accumulates, over a window from the start of each (fiscal) year."""
    if measure.kind != "cumulative":
        return measure
    assert measure.of is not None
    base = effective(plan, plan.measures[measure.of])
    window = Window(to_date=measure.reset or "year")
    return base.model_copy(
        update={"id": measure.id, "grain": measure.grain, "window": window, "unit": base.unit}
    )


def datasets_of(plan: AppliedPlan, measure: Measure) -> set[str]:
    """The datasets a measure is computed from, through the measures it is built from."""
    row = effective(plan, measure)
    if row.dataset is not None:
        return {row.dataset}
    out: set[str] = set()
    for dep in kinds.get(measure.kind).depends_on(measure):
        out |= datasets_of(plan, plan.measures[dep])
    return out


def order(plan: AppliedPlan, chosen: list[Measure]) -> list[Measure]:
    """``chosen`` and every measure built from them, inputs before the measures using them."""
    dependents: dict[str, list[str]] = {}
    for m in plan.measures.values():
        for dep in kinds.get(m.kind).depends_on(m):
            dependents.setdefault(dep, []).append(m.id)
    wanted: set[str] = set()
    stack = [m.id for m in chosen]
    while stack:
        current = stack.pop()
        if current not in wanted:
            wanted.add(current)
            stack.extend(dependents.get(current, []))
    done: list[Measure] = []
    seen: set[str] = set()

    def visit(measure_id: str) -> None:
        if measure_id in seen:
            return
        seen.add(measure_id)  # validate rejects cycles, so marking first is safe
        measure = plan.measures[measure_id]
        for dep in kinds.get(measure.kind).depends_on(measure):
            if dep in wanted:
                visit(dep)
        done.append(measure)

    for measure_id in sorted(wanted):
        visit(measure_id)
    return done


def full_definition_hash(plan: AppliedPlan, measure: Measure) -> str:
    """The definition hash of a measure and, for composite ones, of everything under it."""
    parts = [definition_hash(measure)]
    parts += [full_definition_hash(plan, plan.measures[d]) for d in _depends(measure)]
    if len(parts) == 1:
        return parts[0]
    return hashlib.sha256("+".join(parts).encode()).hexdigest()


def owner(plan: AppliedPlan, measure: Measure) -> str | None:
    dataset = effective(plan, measure).dataset
    source = plan.source_for_dataset(dataset) if dataset else None
    return source.owner if source else None


def _depends(measure: Measure) -> list[str]:
    return kinds.get(measure.kind).depends_on(measure)


def _choose(plan: AppliedPlan, measure_ids: list[str] | None) -> list[Measure]:
    if measure_ids is None:
        return list(plan.measures.values())
    unknown = [m for m in measure_ids if m not in plan.measures]
    if unknown:
        raise NotFound(f"unknown measure(s): {', '.join(unknown)}")
    return [plan.measures[m] for m in measure_ids]


def _compute_rows(
    ctx: Context,
    actor: Actor,
    plan: AppliedPlan,
    measure: Measure,
    env: kinds.Env,
    since: dt.date | None,
) -> ComputeOutcome:
    row_measure = effective(plan, measure)
    definition = full_definition_hash(plan, measure)
    assert row_measure.dataset is not None
    with ctx.db.session() as session:
        version = datasets.current(session, row_measure.dataset)
        # A partial refresh is only right when the other periods come from this definition.
        if since is not None and observations.current_definition(session, measure.id) != definition:
            since = None
    if version is None:
        return ComputeOutcome(measure.id, 0, None, False)
    first = None
    if since is not None:
        first = period_of(_as_date(since), row_measure.grain, env.fiscal_start_month).start
    denominators = populations.denominators(ctx, row_measure)
    with ctx.warehouse.session() as table:
        rows = table(version.dataset_id, version.version, version.files)
        result = ctx.warehouse.execute(engine.expression(row_measure, rows, env, first))
    computed = list(engine.observations(row_measure, result, env, denominators))
    changed = _store(ctx, actor, measure, definition, version.id, computed, first, version.label)
    return ComputeOutcome(measure.id, len(computed), version.label, changed)


def _compute_composite(
    ctx: Context, actor: Actor, plan: AppliedPlan, measure: Measure
) -> ComputeOutcome:
    inputs = _depends(measure)
    with ctx.db.session() as session:
        series = {m: observations.current_rows(session, m) for m in inputs}
        versions = {m: observations.current_data_version(session, m) for m in inputs}
        if any(v is None for v in versions.values()):
            return ComputeOutcome(measure.id, 0, None, False)
        newest = session.get(DataVersion, max(v for v in versions.values() if v is not None))
        assert newest is not None
        label = newest.label
    if measure.kind == "ratio":
        assert measure.numerator is not None
        assert measure.denominator is not None
        computed = composite.ratio(measure, series[measure.numerator], series[measure.denominator])
    else:
        computed = composite.derived(measure, {n: series[m] for n, m in measure.inputs.items()})
    definition = full_definition_hash(plan, measure)
    changed = _store(ctx, actor, measure, definition, newest.id, computed, None, label)
    return ComputeOutcome(measure.id, len(computed), label, changed)


def _store(
    ctx: Context,
    actor: Actor,
    measure: Measure,
    definition: str,
    version_id: int,
    computed: list[ObservationRow],
    first: dt.date | None,
    label: str,
) -> bool:
    with ctx.db.write() as session:
        changed = observations.replace_current(
            session,
            measure_id=measure.id,
            grain=measure.grain,
            definition_hash=definition,
            data_version_id=version_id,
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
                data_version=label,
                observations=len(computed),
            )
    return changed


def _as_date(value: dt.date) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value
