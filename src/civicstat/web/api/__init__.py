"""JSON API under /api/v1."""

from __future__ import annotations

from fastapi import APIRouter

from civicstat.services import datasets, plan
from civicstat.services.datasets import DatasetSummary
from civicstat.services.plan import PlanView
from civicstat.web.api import push
from civicstat.web.deps import Ctx, CurrentActor

router = APIRouter(prefix="/api/v1", tags=["api"])
router.include_router(push.router)


@router.get("/plan", response_model=PlanView)
def get_plan(ctx: Ctx, actor: CurrentActor) -> PlanView:
    """Goals, objectives, targets, latest values and status."""
    return plan.get_plan(ctx, actor)


@router.get("/datasets/{dataset_id}", response_model=DatasetSummary)
def get_dataset(dataset_id: str, ctx: Ctx, actor: CurrentActor) -> DatasetSummary:
    """A dataset's current version, with its rows counted from the published files."""
    return datasets.describe(ctx, actor, dataset_id)
