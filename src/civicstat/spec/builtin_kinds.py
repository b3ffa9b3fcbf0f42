"""The built-in measure kinds' declarations, registered as entry points as a plugin's are.

Each names its parameters and its computing part in :mod:`civicstat.metrics.kinds`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from civicstat.spec.measure_kinds import (
    KindParams,
    MeasureKind,
    RowMeasureKind,
    RowParams,
    ValueParams,
)
from civicstat.spec.models import DURATION_UNITS, Measure, Population, Window

_COMPUTED = "civicstat.metrics.kinds:"


class Count(RowMeasureKind):
    name = "count"
    computation = _COMPUTED + "Count"
    decomposable = True
    default_unit = "count"
    additive = True


class DistinctCount(RowMeasureKind):
    name = "distinct_count"
    Params = ValueParams
    computation = _COMPUTED + "DistinctCount"
    default_unit = "count"


class Sum(RowMeasureKind):
    name = "sum"
    Params = ValueParams
    computation = _COMPUTED + "Sum"
    decomposable = True
    numeric_value = True
    additive = True


class Mean(RowMeasureKind):
    name = "mean"
    Params = ValueParams
    computation = _COMPUTED + "Mean"
    decomposable = True
    numeric_value = True


class Median(RowMeasureKind):
    """The middle value, interpolated between the two middle ones (continuous)."""

    name = "median"
    Params = ValueParams
    computation = _COMPUTED + "Median"
    numeric_value = True


class PercentileParams(ValueParams):
    percentile: float


class Percentile(RowMeasureKind):
    """The p-th percentile, interpolated linearly (PERCENTILE_CONT) on every engine."""

    name = "percentile"
    Params = PercentileParams
    computation = _COMPUTED + "Percentile"
    numeric_value = True


class ShareParams(RowParams):
    condition: str


class Share(RowMeasureKind):
    """Share of rows meeting ``condition``: a row where it is NULL does not meet it."""

    name = "share"
    Params = ShareParams
    computation = _COMPUTED + "Share"
    decomposable = True
    default_unit = "percent"


class Latest(RowMeasureKind):
    """The value on the period's last row by time (e.g. a reading or a balance)."""

    name = "latest"
    Params = ValueParams
    computation = _COMPUTED + "Latest"
    numeric_value = True


class DurationParams(KindParams):
    dataset: str
    start: str
    end: str
    time: str | None = None
    statistic: Literal["median", "mean", "percentile"] | None = None
    percentile: float | None = None
    filter: str | None = None
    breakdowns: list[str] = Field(default_factory=list)
    window: Window | None = None


class Duration(RowMeasureKind):
    """Time from ``start`` to ``end`` per row, summarised by its median, mean or a percentile."""

    name = "duration"
    Params = DurationParams
    computation = _COMPUTED + "Duration"
    default_unit = "seconds"

    def problems(self, measure: Measure) -> list[tuple[str, str]]:
        out = []
        if self.unit(measure) not in DURATION_UNITS:
            out.append(("unit", f"a duration's unit is one of {', '.join(DURATION_UNITS)}"))
        if (measure.statistic == "percentile") != (measure.percentile is not None):
            out.append(("percentile", "give 'percentile' exactly when statistic is percentile"))
        return out

    def time_column(self, measure: Measure) -> str:
        assert measure.start is not None
        return measure.time or measure.start

    def decomposes(self, measure: Measure) -> bool:
        return measure.statistic == "mean"  # a sum over a count; medians and percentiles not


class RateParams(RowParams):
    per: float
    population: float | Population


class Rate(RowMeasureKind):
    """Rows per ``per`` of a population: a fixed number or a dataset by period and slice."""

    name = "rate"
    Params = RateParams
    computation = _COMPUTED + "Rate"
    default_unit = "rate"
    additive = True


class BacklogParams(KindParams):
    dataset: str
    start: str
    end: str
    filter: str | None = None
    breakdowns: list[str] = Field(default_factory=list)
    aging: list[int] = Field(default_factory=list)


class Backlog(RowMeasureKind):
    """Items open at the end of each period: opened before it ends, not closed by then."""

    name = "backlog"
    Params = BacklogParams
    computation = _COMPUTED + "Backlog"
    default_unit = "count"
    flow = True

    def problems(self, measure: Measure) -> list[tuple[str, str]]:
        aging = measure.aging
        if any(b <= 0 for b in aging) or aging != sorted(set(aging)):
            return [("aging", "aging bounds are positive whole days in ascending order")]
        return []

    def time_column(self, measure: Measure) -> str:
        assert measure.start is not None
        return measure.start


class RatioParams(KindParams):
    numerator: str
    denominator: str


class Ratio(MeasureKind):
    """One measure's value divided by another's, period by period and slice by slice."""

    name = "ratio"
    Params = RatioParams
    computation = _COMPUTED + "Ratio"
    composite = True

    def depends_on(self, measure: Measure) -> list[str]:
        assert measure.numerator is not None
        assert measure.denominator is not None
        return [measure.numerator, measure.denominator]


class DerivedParams(KindParams):
    inputs: dict[str, str]
    expression: str


class Derived(MeasureKind):
    """Arithmetic over other measures' values, e.g. ``(this_year - last_year) / last_year``."""

    name = "derived"
    Params = DerivedParams
    computation = _COMPUTED + "Derived"
    composite = True

    def depends_on(self, measure: Measure) -> list[str]:
        return list(measure.inputs.values())


class CumulativeParams(KindParams):
    of: str
    reset: Literal["year", "fiscal_year"] | None = None


class Cumulative(MeasureKind):
    """Another measure accumulated from the start of each (fiscal) year: year to date."""

    name = "cumulative"
    Params = CumulativeParams
    computation = _COMPUTED + "Cumulative"
    accumulates = True

    def depends_on(self, measure: Measure) -> list[str]:
        assert measure.of is not None
        return [measure.of]
