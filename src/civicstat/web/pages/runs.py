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
    unmask: bool = False,
) -> Response:
    found = runs.recent(ctx, actor, limit=limit, source_id=source or None, unmask=unmask)
    title = f"Runs of {source}" if source else "Source runs and quality checks"
    context = {"title": title, "runs": found, "source": source, "unmask": unmask}
    return render(request, "runs.html", context)
