"""Everything a measure's page shows, from one read: its description and lineage, the
series of one slice and the breakdown by slice. The plan is looked up, ``measure:read``
checked and the sources' freshness worked out once for all three."""

from __future__ import annotations

from dataclasses import dataclass

from civicstat.governance.actors import Actor
from civicstat.services.context import Context
from civicstat.services.measures._read import reading
from civicstat.services.measures.breakdown import Breakdown, SortKey, breakdown_of
from civicstat.services.measures.lineage import MeasureDescription, description_of
from civicstat.services.measures.series import Series, series_of


@dataclass(frozen=True)
class MeasurePage:
    description: MeasureDescription
    series: Series
    breakdown: Breakdown


def page(
    ctx: Context,
    actor: Actor,
    measure_id: str,
    slice_key: str = "",
    *,
    sort: SortKey = "slice",
    descending: bool = False,
) -> MeasurePage:
    """The measure's page: NotFound for a measure the actor may not read, or a slice it
    does not have."""
    with reading(ctx, actor, measure_id) as read:
        return MeasurePage(
            description=description_of(read),
            series=series_of(read, slice_key),
            breakdown=breakdown_of(read, sort=sort, descending=descending),
        )
