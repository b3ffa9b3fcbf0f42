"""Refresh measures' observations, in two steps so a refresh lands whole or not at all.

``query_rows`` computes every measure built from rows, before anything is stored; ``store``
then stores them and computes the composite measures (ratio, derived) from the stored
observations, all in the caller's one write transaction, so readers never see some
measures new and others old. Measures are computed in dependency order: a ratio, derived
or cumulative measure after the measures it is built from, and whenever one of them is
recomputed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session

from civicstat.domain.calendars import BusinessCalendar
from civicstat.metadata import observations
from civicstat.metadata.db import Database
from civicstat.metadata.models import DataVersion
from civicstat.metrics import compute as engine
from civicstat.metrics import kinds
from civicstat.metrics._refresh_rows import Computed, compute_rows
from civicstat.plan import AppliedPlan
from civicstat.spec.models import Measure
from civicstat.warehouse.engine import Warehouse


@dataclass(frozen=True)
class Stored:
    """What a refresh did to one measure."""

    measure_id: str
    observations: int
    data_version: str | None  # e.g. "calls_911@3"; None when the dataset has no data yet
    changed: bool


@dataclass(frozen=True)
class Queried:
    """A refresh between its steps: the row measures' observations, not stored yet."""

    plan: AppliedPlan
    measures: list[Measure]  # every measure refreshed, inputs first
    since: Mapping[str, dt.date | None] | None
    rows: dict[str, Computed | None]  # by measure; None: its dataset has no data yet


def query_rows(
    db: Database,
    warehouse: Warehouse,
    plan: AppliedPlan,
    measures: list[Measure],
    since: Mapping[str, dt.date | None] | None = None,
) -> Queried:
    """Compute the measures built from rows among ``measures`` (in dependency order).

    ``since`` maps a measure to the earliest time new rows carry: only the periods from the
    one containing it are recomputed (None: no new row can change that measure).
    """
    env = environment(plan)
    rows: dict[str, Computed | None] = {}
    for measure in measures:
        if is_composite(measure):
            continue
        row_measure = plan.effective(measure)
        if since is not None and since.get(row_measure.id) is None:
            continue
        start = since[row_measure.id] if since is not None else None
        rows[measure.id] = compute_rows(db, warehouse, plan, measure, env, start)
    return Queried(plan, measures, since, rows)


def store(session: Session, queried: Queried) -> Iterator[Stored]:
    """Store the queried observations and compute the composite measures from them, in
    ``session`` (one write transaction). Yields each measure as soon as it is stored, so
    the caller can record it in the same transaction before the next one."""
    plan, since = queried.plan, queried.since
    changed: set[str] = set()
    firsts: dict[str, dt.date | None] = {}  # the first period each stored measure changed
    for measure in queried.measures:
        if measure.id in queried.rows:
            computed = queried.rows[measure.id]
            if computed is None:  # the dataset has no data yet
                yield Stored(measure.id, 0, None, False)
                continue
        elif is_composite(measure):
            moved = [i for i in plan.depends_on(measure) if i in changed]
            if since is not None and not moved:
                continue
            # After a refresh, from the first period any of its inputs changed.
            starts = [firsts[i] for i in moved]
            first = None if since is None or None in starts else min(filter(None, starts))
            computed = _compute_composite(session, plan, measure, first)
            if computed is None:  # an input has no observations yet
                yield Stored(measure.id, 0, None, False)
                continue
        else:
            continue
        stored = _store(session, computed)
        if stored.changed:
            changed.add(measure.id)
        firsts[measure.id] = computed.first
        yield stored


def is_composite(measure: Measure) -> bool:
    """Computed from other measures' observations rather than from rows."""
    return kinds.get(measure.kind).composite


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
    """What a measure's periods depend on besides its rows: fiscal year and holidays."""
    holidays = plan.settings.holidays
    calendar = BusinessCalendar(
        holidays.country if holidays else None, holidays.subdivision if holidays else None
    )
    return kinds.Env(fiscal_start_month=plan.settings.fiscal_year_start_month, calendar=calendar)


def _compute_composite(
    session: Session, plan: AppliedPlan, measure: Measure, first: dt.date | None
) -> Computed | None:
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
    kind = kinds.get(measure.kind)
    # A kind declared composite computes through the composite interface, plugin or built-in.
    assert isinstance(kind, kinds.CompositeKind), f"kind {measure.kind!r} has no combine()"
    rows = kind.combine(measure, series)
    return Computed(measure, definition, newest.id, newest.label, rows, first)


def _store(session: Session, computed: Computed) -> Stored:
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
    return Stored(measure.id, len(computed.rows), computed.label, changed)
