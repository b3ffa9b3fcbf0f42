"""A dataset's rows, governed: JSON pages and a CSV export, both through ``datasets.rows``.

Every query parameter that is not one of the options below filters a column:
``?district=north&district=east`` keeps the rows of either district.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from civicstat.services import datasets
from civicstat.services.datasets import MAX_LIMIT, RowsPage
from civicstat.web.deps import Ctx, CurrentActor
from civicstat.web.params import RowOffset

router = APIRouter()

OPTIONS = frozenset({"limit", "offset", "order", "group_by", "unmask"})

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Rows per page")]
Offset = Annotated[RowOffset, Query(description="Rows to skip")]
Order = Annotated[
    str,
    Query(max_length=1000, description="Columns to sort by, comma-separated; -name: descending"),
]
GroupBy = Annotated[
    str, Query(max_length=1000, description="Columns to count rows by, comma-separated")
]
Unmask = Annotated[
    bool,
    Query(description="Read PII in clear (admin or steward with a second factor; audited)"),
]


def _filters(request: Request) -> dict[str, list[str]]:
    params = request.query_params
    return {name: params.getlist(name) for name in params if name not in OPTIONS}


def _listed(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


@router.get("/datasets/{dataset_id}/rows", response_model=RowsPage)
def get_rows(
    dataset_id: str,
    request: Request,
    ctx: Ctx,
    actor: CurrentActor,
    limit: Limit = 100,
    offset: Offset = 0,
    order: Order = "",
    group_by: GroupBy = "",
    unmask: Unmask = False,
) -> RowsPage:
    """The rows you may see, with the columns you may see, PII masked unless you unmask
    it. Filter with ``?column=value``; filtering, sorting and grouping use only columns you
    read in clear."""
    return datasets.rows(
        ctx,
        actor,
        dataset_id,
        limit=limit,
        offset=offset,
        order=_listed(order),
        filters=_filters(request),
        group_by=_listed(group_by),
        unmask=unmask,
    )


_CSV: dict[int | str, dict[str, Any]] = {
    200: {"description": "The rows as CSV", "content": {"text/csv": {"schema": {"type": "string"}}}}
}


@router.get("/datasets/{dataset_id}/rows.csv", response_class=Response, responses=_CSV)
def get_rows_csv(
    dataset_id: str,
    request: Request,
    ctx: Ctx,
    actor: CurrentActor,
    limit: Limit = MAX_LIMIT,
    offset: Offset = 0,
    order: Order = "",
    group_by: GroupBy = "",
    unmask: Unmask = False,
) -> Response:
    """The same rows as CSV (audited as an export); a cell that a spreadsheet would run as
    a formula starts with a quote."""
    text = datasets.export_csv(
        ctx,
        actor,
        dataset_id,
        limit=limit,
        offset=offset,
        order=_listed(order),
        filters=_filters(request),
        group_by=_listed(group_by),
        unmask=unmask,
    )
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{dataset_id}.csv"'},
    )
