"""The measure page: the series charted against its target and control limits, the
breakdown by slice, the definition and lineage, the data as a table, and a CSV download."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from civicstat.services import measures
from civicstat.web import downloads, figures
from civicstat.web.deps import Ctx, CurrentActor
from civicstat.web.templating import render

router = APIRouter(include_in_schema=False)

SliceParam = Annotated[str, Query(alias="slice", max_length=500)]


@router.get("/measures/{measure_id}")
def measure_page(
    measure_id: str,
    request: Request,
    ctx: Ctx,
    actor: CurrentActor,
    slice_key: SliceParam = "",
    sort: measures.SortKey = "slice",
    order: Annotated[Literal["asc", "desc"], Query(alias="dir")] = "asc",
) -> Response:
    shown = measures.page(ctx, actor, measure_id, slice_key, sort=sort, descending=order == "desc")
    described, found, slices = shown.description, shown.series, shown.breakdown
    objective = described.objectives[0] if described.objectives else None
    chart = figures.series_chart(
        found,
        direction=objective.direction if objective else None,
        warning_band=objective.warning_band if objective else 0.0,
    )
    return render(
        request,
        "measure.html",
        {
            "title": described.title,
            "m": described,
            "series": found,
            "slices": slices,
            "objective": objective,
            "chart": chart,
            "live_measures": [measure_id],
        },
    )


@router.get("/measures/{measure_id}/data.csv")
def measure_csv(
    measure_id: str, ctx: Ctx, actor: CurrentActor, slice_key: SliceParam = ""
) -> Response:
    """The series as shown on the page, one row per period."""
    found = measures.get_series(ctx, actor, measure_id, slice_key)
    header = [
        "measure", "slice", "period", "start", "end", "value", "unit", "numerator",
        "denominator", "n", "partial", "target", "status", "as_reported", "restated",
    ]  # fmt: skip
    rows: list[list[downloads.Cell]] = []
    for p in found.points:
        rows.append([found.measure, found.slice, p.period, p.start.isoformat(), p.end.isoformat()])
        rows[-1] += [p.value, found.unit, p.numerator, p.denominator, p.n, p.partial, p.target]
        rows[-1] += [p.status.value, p.as_reported, p.restated]
    name = measure_id + (f"-{slice_key}" if slice_key else "")
    filename = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:150] + ".csv"
    return downloads.csv_response(header, rows, filename)
