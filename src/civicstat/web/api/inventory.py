"""The inventory of datasets through the API: what each is, who answers for it, lineage."""

from __future__ import annotations

from fastapi import APIRouter

from civicstat.services import inventory
from civicstat.services.inventory import DatasetEntry
from civicstat.web.deps import Ctx, CurrentActor

router = APIRouter()


@router.get("/inventory", response_model=list[DatasetEntry])
def list_inventory(ctx: Ctx, actor: CurrentActor) -> list[DatasetEntry]:
    """Every dataset the caller may read: owner, stewards, classification, PII columns,
    freshness, sharing agreements and lineage."""
    return inventory.catalog(ctx, actor)


@router.get("/inventory/{dataset_id}", response_model=DatasetEntry)
def get_inventory_entry(dataset_id: str, ctx: Ctx, actor: CurrentActor) -> DatasetEntry:
    """One dataset's inventory entry; 404 when it does not exist or may not be read."""
    return inventory.entry(ctx, actor, dataset_id)
