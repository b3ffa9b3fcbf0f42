"""JSON API under /api/v1."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from civicstat.services import datasets, measures, plan
from civicstat.services.datasets import DatasetSummary
from civicstat.services.plan import PlanView
from civicstat.web.api import inventory, records, rows
from civicstat.web.deps import Ctx, CurrentActor
from civicstat.web.params import IsoDate


class Problem(BaseModel):
    """Why a request was refused."""

    detail: str


def _problem(description: str) -> dict[str, object]:
    return {"model": Problem, "description": description}


# What any route of the API may answer besides its own result (OpenAPI, for clients and
# for the schemathesis run that holds the API to its document).
ERRORS: dict[int | str, dict[str, object]] = {
    400: _problem("A value that cannot be used here; the message says which"),
    401: _problem("Not signed in"),
    403: _problem("Signed in, but this needs a right or a second factor the caller lacks"),
    404: _problem("No such object, or one the caller may not see (the same answer)"),
    503: _problem("The audit log cannot be written just now; nothing was done"),
}

router = APIRouter(prefix="/api/v1", tags=["api"], responses=ERRORS)
router.include_router(records.router)
router.include_router(rows.router)
router.include_router(inventory.router)


@router.get("/plan", response_model=PlanView)
def get_plan(ctx: Ctx, actor: CurrentActor) -> PlanView:
    """Goals, objectives, targets, latest values and status."""
    return plan.get_plan(ctx, actor)


@router.get("/datasets/{dataset_id}", response_model=DatasetSummary)
def get_dataset(dataset_id: str, ctx: Ctx, actor: CurrentActor) -> DatasetSummary:
    """A dataset's current version, with its rows counted from the published files."""
    return datasets.describe(ctx, actor, dataset_id)


@router.get("/measures/{measure_id}/series", response_model=measures.Series)
def get_series(
    measure_id: str,
    ctx: Ctx,
    actor: CurrentActor,
    slice_key: Annotated[
        str, Query(alias="slice", max_length=500, description="Slice key, e.g. district=North")
    ] = "",
) -> measures.Series:
    """A measure's values by period for one slice, with target, status, change, XmR
    control limits, the running period's projection and what was first reported."""
    return measures.get_series(ctx, actor, measure_id, slice_key)


@router.get("/measures/{measure_id}/history/{period_start}", response_model=list[measures.Version])
def get_history(
    measure_id: str,
    period_start: IsoDate,
    ctx: Ctx,
    actor: CurrentActor,
    slice_key: Annotated[str, Query(alias="slice", max_length=500)] = "",
) -> list[measures.Version]:
    """Every value computed for one period: as reported, then each restatement."""
    return measures.history(ctx, actor, measure_id, period_start, slice_key)
