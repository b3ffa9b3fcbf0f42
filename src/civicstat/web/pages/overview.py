"""The citywide overview and the goal pages."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from civicstat.services import overview
from civicstat.web.deps import Ctx, CurrentActor
from civicstat.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/")
def overview_page(request: Request, ctx: Ctx, actor: CurrentActor) -> Response:
    view = overview.overview(ctx, actor)
    measures = sorted({o.measure for g in view.goals for o in g.objectives})
    return render(
        request,
        "overview.html",
        {"title": f"{view.title}: overview", "view": view, "live_measures": measures},
    )


@router.get("/goals/{goal_id}")
def goal_page(goal_id: str, request: Request, ctx: Ctx, actor: CurrentActor) -> Response:
    goal = overview.goal(ctx, actor, goal_id)
    measures = sorted({o.measure for o in goal.objectives})
    return render(
        request, "goal.html", {"title": goal.title, "goal": goal, "live_measures": measures}
    )
