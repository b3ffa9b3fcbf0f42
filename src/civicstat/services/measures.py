"""Compute measures into observations.

Measures are computed in dependency order: a ratio, derived or cumulative measure after
the measures it is built from, and whenever one of them is recomputed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from ibis.expr.types import Table
from sqlalchemy.orm import Session

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
from civicstat.plan import AppliedPlan
from civicstat.recent import Recent
from civicstat.services import populations
from civicstat.services.context import Context
from civicstat.services.errors import NotFound
from civicstat.spec.models import Measure


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

    The measures computed from rows are all queried first; then, in one transaction, their
    observations are stored and the composite measures computed from them, so a refresh
    lands whole or not at all and readers never see some measures new and others old.
    """
    with ctx.db.session() as session:
        plan = ctx.require_plan(session)
    chosen = plan.in_order(_choose(plan, measure_ids))
    for measure in chosen:
        require(actor, MEASURE_COMPUTE, Resource("measure", measure.id, plan.owner(measure)))
    env = environment(plan)
    queried: dict[str, _Computed | None] = {}
    for measure in chosen:
        if _composite(measure):
            continue
        row_measure = plan.effective(measure)
        if since is not None and since.get(row_measure.id) is None:
            continue
        start = since[row_measure.id] if since is not None else None
        queried[measure.id] = _compute_rows(ctx, plan, measure, env, start)
    outcomes: dict[str, ComputeOutcome] = {}
    firsts: dict[str, dt.date | None] = {}  # the first period each stored measure changed
    with ctx.db.write() as session:
        for measure in chosen:
            if measure.id in queried:
                computed = queried[measure.id]
                if computed is None:  # the dataset has no data yet
                    outcomes[measure.id] = ComputeOutcome(measure.id, 0, None, False)
                    continue
            elif _composite(measure):
                changed = [i for i in plan.depends_on(measure) if outcomes.get(i, _SAME).changed]
                if since is not None and not changed:
                    continue
                # After a refresh, from the first period any of its inputs changed.
                starts = [firsts[i] for i in changed]
                first = None if since is None or None in starts else min(filter(None, starts))
                computed = _compute_composite(session, plan, measure, first)
                if computed is None:  # an input has no observations yet
                    outcomes[measure.id] = ComputeOutcome(measure.id, 0, None, False)
                    continue
            else:
                continue
            outcomes[measure.id] = _store(session, actor, computed)
            firsts[measure.id] = computed.first
    return list(outcomes.values())


@dataclass(frozen=True)
class _Computed:
    """A measure's observations as computed, before they are stored."""

    measure: Measure
    definition: str
    version_id: int
    label: str  # the data version's, e.g. "calls_911@3"
    rows: list[ObservationRow]
    first: dt.date | None  # the first period recomputed; None: all of them


def _composite(measure: Measure) -> bool:
    """Computed from other measures' observations rather than from rows."""
    kind = kinds.get(measure.kind)
    return isinstance(kind, kinds.CompositeKind) and not isinstance(kind, kinds.Cumulative)


_SAME = ComputeOutcome("", 0, None, False)


def refresh_from(
    plan: AppliedPlan, measure_ids: list[str], earliest: Mapping[str, object]
) -> dict[str, dt.date | None]:
    """For each measure, the earliest new value of the column placing its rows in time."""
    out: dict[str, dt.date | None] = {}
    for measure_id in measure_ids:
        row_measure = plan.effective(plan.measures[measure_id])
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


def _choose(plan: AppliedPlan, measure_ids: list[str] | None) -> list[Measure]:
    if measure_ids is None:
        return list(plan.measures.values())
    unknown = [m for m in measure_ids if m not in plan.measures]
    if unknown:
        raise NotFound(f"unknown measure(s): {', '.join(unknown)}")
    return [plan.measures[m] for m in measure_ids]


def _compute_rows(
    ctx: Context,
    plan: AppliedPlan,
    measure: Measure,
    env: kinds.Env,
    since: dt.date | None,
) -> _Computed | None:
    row_measure = plan.effective(measure)
    definition = plan.definition_hash(measure)
    assert row_measure.dataset is not None
    with ctx.db.session() as session:
        version = datasets.current(session, row_measure.dataset)
        # A partial refresh is only right when the other periods come from this definition.
        if since is not None and observations.current_definition(session, measure.id) != definition:
            since = None
    if version is None:
        return None
    first: dt.date | None = None
    opening = None
    kind = engine.row_kind(row_measure)
    if since is not None:
        first = period_of(_as_date(since), row_measure.grain, env.fiscal_start_month).start
        if engine.spanned(row_measure):
            first = _resume(ctx, row_measure, env, first)
        if isinstance(kind, kinds.Backlog):
            opening = _opening(ctx, row_measure, env, first)
        elif kind.decomposes(row_measure):
            added = _added_rows(ctx, row_measure, env, version, first)
            if added is not None:
                return _Computed(measure, definition, version.id, version.label, added, first)
    denominators = populations.denominators(ctx, row_measure)
    with ctx.warehouse.session() as table:
        rows = table(version.dataset_id, version.version, version.files)
        through = None
        if first is not None and engine.spanned(row_measure):
            through = engine.latest_period(row_measure, rows, env, first)
        result = ctx.warehouse.execute(_expression(row_measure, rows, env, first, through))
    computed = list(engine.observations(row_measure, result, env, denominators, opening))
    return _Computed(measure, definition, version.id, version.label, computed, first)


def _added_rows(
    ctx: Context, measure: Measure, env: kinds.Env, version: DataVersion, first: dt.date
) -> list[ObservationRow] | None:
    """A decomposable measure's observations from ``first`` on after an append: the stored
    ones plus what the appended files alone add up to. None when that would not be the same
    as reading every row again: the stored observations of those periods are not all from
    one version whose files the current one extends with the same columns, or new rows
    open a window's period past the last one stored (its earlier rows count too)."""
    with ctx.db.session() as session:
        behind = observations.versions_from(session, measure.id, first)
        if len(behind) > 1:
            return None
        base_id = behind.pop() if behind else observations.current_data_version(session, measure.id)
        base = session.get(DataVersion, base_id) if base_id is not None else None
        if base is None or base.dataset_id != version.dataset_id or base.columns != version.columns:
            return None
        old, new = list(base.files), list(version.files)
        if len(new) <= len(old) or new[: len(old)] != old:
            return None
        stored = observations.current_rows(session, measure.id, first)
        last = observations.latest_period(session, measure.id)
    with ctx.warehouse.session() as table:
        rows = table(version.dataset_id, version.version, new[len(old) :], since=base.version)
        through = None
        if measure.window is not None:
            newest = engine.data_range(measure, rows, first)[1]
            if last is None or newest is None:
                return None
            if period_of(_as_date(newest), measure.grain, env.fiscal_start_month).start > last:
                return None
            through = last
        result = ctx.warehouse.execute(_expression(measure, rows, env, first, through))
    return list(engine.added_to(measure, stored, result, env))


def _expression(
    measure: Measure, rows: Table, env: kinds.Env, first: dt.date | None, through: dt.date | None
) -> Table:
    """``engine.expression``, built once for the same inputs: a refresh's queries are small,
    and building one costs about as much as running it. Not kept when building it would
    ask the data for its time span (a window or backlog without ``through``)."""
    if engine.spanned(measure) and (first is None or through is None):
        return engine.expression(measure, rows, env, first, through=through)
    key: tuple[object, ...] = (measure.model_dump_json(), rows.op(), first, through)
    key += (env.fiscal_start_month, repr(env.calendar))  # calendars compare by identity
    return _BUILT.get(key, lambda: engine.expression(measure, rows, env, first, through=through))


_BUILT: Recent[tuple[object, ...], Table] = Recent(256)


def _resume(ctx: Context, measure: Measure, env: kinds.Env, first: dt.date) -> dt.date:
    """Where a refresh of a window or a backlog starts: at ``first``, or right after the last
    period stored if that is earlier. Both have a value at every period through the data's
    latest, rows or not (a window reaches back, items stay open), and the periods past the
    last one stored were never computed: the data ended before them."""
    fiscal = env.fiscal_start_month
    with ctx.db.session() as session:
        latest = observations.latest_period(session, measure.id)
    if latest is not None and period_of(first, measure.grain, fiscal).previous().start > latest:
        return period_of(latest, measure.grain, fiscal).next().start
    return first


def _opening(
    ctx: Context, measure: Measure, env: kinds.Env, first: dt.date
) -> dict[str, float | None]:
    """A backlog's items open (by slice) at the end of the period before ``first``."""
    before = period_of(first, measure.grain, env.fiscal_start_month).previous().start
    with ctx.db.session() as session:
        return observations.values_at(session, measure.id, before)


def _compute_composite(
    session: Session, plan: AppliedPlan, measure: Measure, first: dt.date | None
) -> _Computed | None:
    """A composite measure from its inputs' current observations (in ``session``, so inputs
    stored earlier in it count): the periods from ``first`` on, or all of them."""
    definition = plan.definition_hash(measure)
    if first is not None and observations.current_definition(session, measure.id) != definition:
        first = None
    inputs = plan.depends_on(measure)
    versions = {m: observations.current_data_version(session, m) for m in inputs}
    if any(v is None for v in versions.values()):
        return None
    newest = session.get(DataVersion, max(v for v in versions.values() if v is not None))
    assert newest is not None
    series = {m: observations.current_rows(session, m, first) for m in inputs}
    if measure.kind == "ratio":
        assert measure.numerator is not None
        assert measure.denominator is not None
        rows = composite.ratio(measure, series[measure.numerator], series[measure.denominator])
    else:
        rows = composite.derived(measure, {n: series[m] for n, m in measure.inputs.items()})
    return _Computed(measure, definition, newest.id, newest.label, rows, first)


def _store(session: Session, actor: Actor, computed: _Computed) -> ComputeOutcome:
    measure = computed.measure
    changed = observations.replace_current(
        session,
        measure_id=measure.id,
        grain=measure.grain,
        definition_hash=computed.definition,
        data_version_id=computed.version_id,
        rows=computed.rows,
        from_period=computed.first,
    )
    if changed:
        audit.record(
            session,
            actor,
            "measure:compute",
            "measure",
            measure.id,
            data_version=computed.label,
            observations=len(computed.rows),
        )
    return ComputeOutcome(measure.id, len(computed.rows), computed.label, changed)


def _as_date(value: dt.date) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value
