"""Measure kinds' computing parts: how a measure's rows (or other measures) become values.

A *row kind* turns the rows of a (period, slice) group into aggregates: a value directly
(median, latest) or a numerator and denominator whose quotient is the value, so every
observation can show what it was computed from. A *composite kind* (ratio, derived) is
computed from other measures' observations; cumulative accumulates another measure's rows.
What a kind reads and says about itself is its declaration
(:mod:`civicstat.spec.measure_kinds`), registered in the ``civicstat.measure_kinds`` entry
point group and naming the class here that computes it; a plugin does the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pkgutil import resolve_name
from typing import Any

import ibis
from ibis.expr.types import Table, Value

from civicstat.domain.calendars import BusinessCalendar
from civicstat.domain.observations import ObservationRow
from civicstat.metrics import composite
from civicstat.metrics._business_days import business_days
from civicstat.metrics.expressions import to_ibis
from civicstat.spec import builtin_kinds as declared
from civicstat.spec import measure_kinds
from civicstat.spec.language import parse, parse_value
from civicstat.spec.measure_kinds import MeasureKind
from civicstat.spec.models import Measure

_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}


@dataclass(frozen=True)
class Env:
    """What a computation needs from the workspace besides the measure and its rows."""

    fiscal_start_month: int = 1
    calendar: BusinessCalendar = field(default_factory=lambda: BusinessCalendar(None))


@dataclass(frozen=True)
class Aggregates:
    """Aggregate expressions over a group of rows.

    With ``value`` set, it is the observation's value; otherwise the value is
    ``numerator / denominator × scale`` (computed once, in Python, so it is correctly
    rounded and the same on every engine).
    """

    n: Any
    numerator: Any = None
    denominator: Any = None
    value: Any = None
    scale: float = 1.0


class Kind(MeasureKind):
    """A measure kind's computing part; its declaration (fields, dependencies) is the spec's."""


class RowKind(Kind):
    """The computing part of a kind computed from the rows of the measure's dataset."""

    def prepare(self, measure: Measure, rows: Table, env: Env) -> Table:
        """Add the columns the aggregates use (e.g. a duration); by default nothing."""
        return rows

    def aggregate(self, measure: Measure, rows: Table) -> Aggregates:
        raise NotImplementedError

    def scale(self, measure: Measure) -> float:
        """What ``numerator / denominator`` is multiplied by (a rate's ``per``, a share's 100)."""
        return 1.0


class CompositeKind(Kind):
    """The computing part of a kind computed from other measures' observations."""

    def combine(
        self, measure: Measure, series: Mapping[str, Sequence[ObservationRow]]
    ) -> list[ObservationRow]:
        """This measure's rows from its inputs' (``series`` by measure id), period by period."""
        raise NotImplementedError


def _value(measure: Measure, rows: Table) -> Value:
    assert measure.value is not None
    value: Value = to_ibis(parse_value(measure.value), rows)
    return value


class Count(RowKind, declared.Count):
    def aggregate(self, measure: Measure, rows: Table) -> Aggregates:
        return Aggregates(n=rows.count(), value=rows.count())


class DistinctCount(RowKind, declared.DistinctCount):
    def aggregate(self, measure: Measure, rows: Table) -> Aggregates:
        value = _value(measure, rows)
        return Aggregates(n=value.count(), value=value.nunique())


class Sum(RowKind, declared.Sum):
    def aggregate(self, measure: Measure, rows: Table) -> Aggregates:
        value = _value(measure, rows)
        return Aggregates(n=value.count(), value=value.sum())


class Mean(RowKind, declared.Mean):
    def aggregate(self, measure: Measure, rows: Table) -> Aggregates:
        value = _value(measure, rows)
        count = value.count()
        return Aggregates(n=count, numerator=value.sum(), denominator=count)


class Median(RowKind, declared.Median):
    def aggregate(self, measure: Measure, rows: Table) -> Aggregates:
        value = _value(measure, rows)
        return Aggregates(n=value.count(), value=value.quantile(0.5))


class Percentile(RowKind, declared.Percentile):
    def aggregate(self, measure: Measure, rows: Table) -> Aggregates:
        params = self.params(measure)
        assert isinstance(params, declared.PercentileParams)
        value = _value(measure, rows)
        return Aggregates(n=value.count(), value=value.quantile(params.percentile / 100))


class Share(RowKind, declared.Share):
    def aggregate(self, measure: Measure, rows: Table) -> Aggregates:
        params = self.params(measure)
        assert isinstance(params, declared.ShareParams)
        met = to_ibis(parse(params.condition), rows).fill_null(False)
        # Ibis sums a boolean through INT on every engine; PostgreSQL has no boolean → bigint.
        return Aggregates(
            n=rows.count(), numerator=met.sum(), denominator=rows.count(), scale=self.scale(measure)
        )

    def scale(self, measure: Measure) -> float:
        return 100.0 if self.unit(measure) == "percent" else 1.0


class Latest(RowKind, declared.Latest):
    def aggregate(self, measure: Measure, rows: Table) -> Aggregates:
        value = _value(measure, rows)
        latest = value.argmax(rows[self.time_column(measure)])
        return Aggregates(n=rows.count(), value=latest)


class Duration(RowKind, declared.Duration):
    """Durations in seconds to days, or in business days (see :mod:`._business_days`); a
    row missing either timestamp has no duration and is not counted."""

    def prepare(self, measure: Measure, rows: Table, env: Env) -> Table:
        params = self.params(measure)
        assert isinstance(params, declared.DurationParams)
        start, end = rows[params.start], rows[params.end]
        unit = self.unit(measure)
        if unit == "business_days":
            return business_days(rows, params.start, params.end, env.calendar)
        if start.type().is_date() and end.type().is_date():
            seconds = end.delta(start, unit="day") * 86400
        else:
            millis = end.delta(start, unit="millisecond")
            seconds = millis / 1000.0
        return rows.mutate(_duration=seconds / _SECONDS[unit])

    def aggregate(self, measure: Measure, rows: Table) -> Aggregates:
        params = self.params(measure)
        assert isinstance(params, declared.DurationParams)
        duration = rows["_duration"]
        n = duration.count()
        match params.statistic or "median":
            case "mean":
                return Aggregates(n=n, numerator=duration.sum(), denominator=n)
            case "percentile":
                assert params.percentile is not None
                p = params.percentile / 100
                return Aggregates(n=n, value=duration.quantile(p))
        return Aggregates(n=n, value=duration.quantile(0.5))


class Rate(RowKind, declared.Rate):
    def aggregate(self, measure: Measure, rows: Table) -> Aggregates:
        params = self.params(measure)
        assert isinstance(params, declared.RateParams)
        population = params.population if isinstance(params.population, float | int) else None
        # A bare float literal is NUMERIC to PostgreSQL (ibis#11947); a cast from its exact
        # decimal text is a double on every engine.
        denominator = (
            ibis.literal(repr(float(population))).cast("float64")
            if population is not None
            else None
        )
        return Aggregates(
            n=rows.count(), numerator=rows.count(), denominator=denominator, scale=params.per
        )

    def scale(self, measure: Measure) -> float:
        params = self.params(measure)
        assert isinstance(params, declared.RateParams)
        return params.per


class Backlog(RowKind, declared.Backlog):
    """``aging`` buckets the open items by how long they have been open (days) as an extra
    breakdown named ``age``; how the items open are counted is :mod:`.compute`'s flow."""

    def aggregate(self, measure: Measure, rows: Table) -> Aggregates:
        return Aggregates(n=rows.count(), value=rows.count())


def aging_labels(bounds: Sequence[int]) -> list[str]:
    """``[30, 60]`` → ``['0-30', '31-60', 'over 60']`` (days open at the period's end)."""
    labels, low = [], 0
    for high in bounds:
        labels.append(f"{low}-{high}")
        low = high + 1
    labels.append(f"over {bounds[-1]}")
    return labels


class Ratio(CompositeKind, declared.Ratio):
    def combine(
        self, measure: Measure, series: Mapping[str, Sequence[ObservationRow]]
    ) -> list[ObservationRow]:
        params = self.params(measure)
        assert isinstance(params, declared.RatioParams)
        return composite.ratio(measure, series[params.numerator], series[params.denominator])


class Derived(CompositeKind, declared.Derived):
    def combine(
        self, measure: Measure, series: Mapping[str, Sequence[ObservationRow]]
    ) -> list[ObservationRow]:
        return composite.derived(measure, {n: series[m] for n, m in measure.inputs.items()})


class Cumulative(Kind, declared.Cumulative):
    """Computed from the rows of the measure it accumulates, not by adding up its values, so
    a median or a share to date is right too (see the refresh of measures)."""


@cache
def available() -> Mapping[str, Kind]:
    """Every installed kind's computing part, by name (from its declaration)."""
    kinds: dict[str, Kind] = {}
    for name, declaration in measure_kinds.available().items():
        target: Any = declaration
        if declaration.computation is not None:
            target = resolve_name(declaration.computation)
        kinds[name] = target() if isinstance(target, type) else target
    return kinds


def get(name: str) -> Kind:
    kinds = available()
    if name not in kinds:
        raise KeyError(f"unknown measure kind {name!r} (installed: {', '.join(sorted(kinds))})")
    return kinds[name]
