"""The plan page: goals, objectives, latest value, target and status."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from civicstat.services import plan
from civicstat.web.deps import Ctx, CurrentActor
from civicstat.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/plan")
def plan_page(request: Request, ctx: Ctx, actor: CurrentActor) -> Response:
    view = plan.get_plan(ctx, actor)
    counts: dict[str, int] = {}
    for goal in view.goals:
        for objective in goal.objectives:
            counts[objective.status] = counts.get(objective.status, 0) + 1
    measures = sorted({o.measure for goal in view.goals for o in goal.objectives})
    context = {"title": view.title, "plan": view, "counts": counts, "live_measures": measures}
    return render(request, "plan.html", context)
