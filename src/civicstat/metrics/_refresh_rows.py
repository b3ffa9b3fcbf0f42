"""A measure built from rows, recomputed from its dataset's current version: every period,
or after an append only the periods new rows can change, reading as few rows as it can."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ibis.expr.types import Table

from civicstat.domain.observations import ObservationRow
from civicstat.domain.periods import period_of
from civicstat.metadata import data_versions, observations
from civicstat.metadata.db import Database
from civicstat.metadata.models import DataVersion
from civicstat.metrics import compute as engine
from civicstat.metrics import kinds, populations
from civicstat.plan import AppliedPlan
from civicstat.recent import Recent
from civicstat.spec.models import Measure
from civicstat.warehouse.engine import Warehouse


@dataclass(frozen=True)
class Computed:
    """A measure's observations as computed, before they are stored."""

    measure: Measure
    definition: str
    version_id: int
    label: str  # the data version's, e.g. "calls_911@3"
    rows: list[ObservationRow]
    first: dt.date | None  # the first period recomputed; None: all of them


def compute_rows(
    db: Database,
    warehouse: Warehouse,
    plan: AppliedPlan,
    measure: Measure,
    env: kinds.Env,
    since: dt.date | None,
) -> Computed | None:
    """``measure``'s observations from the periods from the one containing ``since`` on
    (all of them when None, or when the stored ones come from another definition); None
    when its dataset has no data yet."""
    row_measure = plan.effective(measure)
    definition = plan.definition_hash(measure)
    assert row_measure.dataset is not None
    with db.session() as session:
        version = data_versions.current(session, row_measure.dataset)
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
            first = _resume(db, row_measure, env, first)
        if isinstance(kind, kinds.Backlog):
            opening = _opening(db, row_measure, env, first)
        elif kind.decomposes(row_measure):
            added = _added_rows(db, warehouse, row_measure, env, version, first)
            if added is not None:
                return Computed(measure, definition, version.id, version.label, added, first)
    denominators = populations.denominators(db, warehouse, row_measure)
    with warehouse.session() as table:
        rows = table(version.dataset_id, version.version, version.files)
        through = None
        if first is not None and engine.spanned(row_measure):
            through = engine.latest_period(row_measure, rows, env, first)
        result = warehouse.execute(_expression(row_measure, rows, env, first, through))
    computed = list(engine.observations(row_measure, result, env, denominators, opening))
    return Computed(measure, definition, version.id, version.label, computed, first)


def _added_rows(
    db: Database,
    warehouse: Warehouse,
    measure: Measure,
    env: kinds.Env,
    version: DataVersion,
    first: dt.date,
) -> list[ObservationRow] | None:
    """A decomposable measure's observations from ``first`` on after an append: the stored
    ones plus what the appended files alone add up to. None when that would not be the same
    as reading every row again: the stored observations of those periods are not all from
    one version whose files the current one extends with the same columns, or new rows
    open a window's period past the last one stored (its earlier rows count too)."""
    with db.session() as session:
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
    with warehouse.session() as table:
        rows = table(version.dataset_id, version.version, new[len(old) :], since=base.version)
        through = None
        if measure.window is not None:
            newest = engine.data_range(measure, rows, first)[1]
            if last is None or newest is None:
                return None
            if period_of(_as_date(newest), measure.grain, env.fiscal_start_month).start > last:
                return None
            through = last
        result = warehouse.execute(_expression(measure, rows, env, first, through))
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


def _resume(db: Database, measure: Measure, env: kinds.Env, first: dt.date) -> dt.date:
    """Where a refresh of a window or a backlog starts: at ``first``, or right after the last
    period stored if that is earlier. Both have a value at every period through the data's
    latest, rows or not (a window reaches back, items stay open), and the periods past the
    last one stored were never computed: the data ended before them."""
    fiscal = env.fiscal_start_month
    with db.session() as session:
        latest = observations.latest_period(session, measure.id)
    if latest is not None and period_of(first, measure.grain, fiscal).previous().start > latest:
        return period_of(latest, measure.grain, fiscal).next().start
    return first


def _opening(
    db: Database, measure: Measure, env: kinds.Env, first: dt.date
) -> dict[str, float | None]:
    """A backlog's items open (by slice) at the end of the period before ``first``."""
    before = period_of(first, measure.grain, env.fiscal_start_month).previous().start
    with db.session() as session:
        return observations.values_at(session, measure.id, before)


def _as_date(value: dt.date) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value
