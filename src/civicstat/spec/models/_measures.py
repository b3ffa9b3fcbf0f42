"""measures/*.yaml: how each KPI is computed (a flat mapping; each kind reads its fields)."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    Field,
    model_validator,
)

from civicstat.domain.periods import Grain
from civicstat.spec.models._base import ColumnName, Slug, SpecModel

MeasureUnit = Literal[
    "percent", "count", "number", "currency", "rate",
    "seconds", "minutes", "hours", "days", "business_days",
]  # fmt: skip
DURATION_UNITS = ("seconds", "minutes", "hours", "days", "business_days")


class Population(SpecModel):
    """A rate's denominator read from a dataset: for each period, the row whose ``time`` is
    the latest at or before the period's start (the earliest row when none is)."""

    dataset: Slug
    value: ColumnName = Field(description="Column holding the population (or other base)")
    time: ColumnName | None = Field(
        None, description="Date, timestamp or year column saying when the value applies"
    )
    match: list[ColumnName] = Field(
        default_factory=list,
        description="Breakdown columns the population table also has, matched by name",
    )


class Window(SpecModel):
    """Aggregate over more than one period: a trailing window or a period to date."""

    trailing: int | None = Field(
        None, ge=1, le=120, description="Number of periods, ending with each period (rolling)"
    )
    to_date: Literal["month", "quarter", "year", "fiscal_quarter", "fiscal_year"] | None = Field(
        None, description="From the start of the enclosing month, quarter or (fiscal) year"
    )

    @model_validator(mode="after")
    def _one_of(self) -> Window:
        if (self.trailing is None) == (self.to_date is None):
            raise ValueError("a window is either 'trailing' or 'to_date', exactly one of them")
        return self


class Measure(SpecModel):
    """How one KPI is computed. Which fields apply depends on ``kind``; ``civicstat
    validate`` names any field a kind needs but lacks, or does not use."""

    id: Slug
    title: str
    description: str | None = None
    kind: str = Field(
        description="count, distinct_count, sum, mean, median, percentile, share, ratio, "
        "rate, duration, backlog, cumulative, derived, latest, or a plugin's kind"
    )
    dataset: Slug | None = Field(None, description="Dataset the rows come from")
    time: ColumnName | None = Field(
        None, description="Timestamp or date column that places a row in a period"
    )
    grain: Grain = Grain.MONTH
    filter: str | None = Field(None, description="SQL condition selecting the rows counted at all")
    condition: str | None = Field(
        None, description="share: SQL condition a row must meet to count in the numerator"
    )
    value: str | None = Field(
        None,
        description="SQL expression aggregated by sum, mean, median, percentile, "
        "distinct_count and latest",
    )
    percentile: float | None = Field(
        None, gt=0, lt=100, description="percentile (and duration with statistic percentile): p"
    )
    start: ColumnName | None = Field(
        None, description="duration: the starting timestamp; backlog: when an item was opened"
    )
    end: ColumnName | None = Field(
        None, description="duration: the ending timestamp; backlog: when it was closed"
    )
    statistic: Literal["median", "mean", "percentile"] | None = Field(
        None, description="duration: how durations are summarised (default median)"
    )
    aging: list[int] = Field(
        default_factory=list,
        max_length=12,
        description="backlog: upper bounds in days of the aging buckets, ascending",
    )
    per: float | None = Field(None, gt=0, description="rate: per how many, e.g. 100000")
    population: float | Population | None = Field(
        None, description="rate: the denominator, a number or a dataset by period"
    )
    numerator: Slug | None = Field(None, description="ratio: measure divided")
    denominator: Slug | None = Field(None, description="ratio: measure dividing")
    inputs: dict[str, Slug] = Field(
        default_factory=dict, description="derived: names for the measures the expression uses"
    )
    expression: str | None = Field(
        None, description="derived: arithmetic over the inputs' names, e.g. (a - b) / a * 100"
    )
    of: Slug | None = Field(None, description="cumulative: the measure accumulated")
    reset: Literal["year", "fiscal_year"] | None = Field(
        None, description="cumulative: start again each calendar or fiscal year (default year)"
    )
    window: Window | None = Field(
        None, description="Aggregate each period over a trailing window or period to date"
    )
    breakdowns: list[ColumnName] = Field(default_factory=list, max_length=4)
    unit: MeasureUnit | None = Field(
        None, description="Unit of the value; default from the kind (share: percent)"
    )
