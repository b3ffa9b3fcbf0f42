"""Source runs and what their quality checks found."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from civicstat.services import runs
from civicstat.web.deps import Ctx, CurrentActor
from civicstat.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/runs")
def runs_page(
    request: Request,
    ctx: Ctx,
    actor: CurrentActor,
    source: Annotated[str | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Response:
    found = runs.recent_with_checks(ctx, actor, limit=limit, source_id=source or None)
    title = f"Runs of {source}" if source else "Source runs and quality checks"
    return render(request, "runs.html", {"title": title, "runs": found, "source": source})
