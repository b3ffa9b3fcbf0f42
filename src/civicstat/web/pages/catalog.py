"""The catalog page: the inventory of the datasets the visitor may read."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from civicstat.services import inventory
from civicstat.web.deps import Ctx, CurrentActor
from civicstat.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/catalog")
def catalog_page(request: Request, ctx: Ctx, actor: CurrentActor) -> Response:
    entries = inventory.catalog(ctx, actor)
    return render(request, "catalog.html", {"title": "Data catalog", "datasets": entries})
