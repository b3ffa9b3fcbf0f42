"""Department scorecards: everything a department owns, with its trend."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from civicstat.services import overview
from civicstat.web.deps import Ctx, CurrentActor
from civicstat.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/departments")
def departments_page(request: Request, ctx: Ctx, actor: CurrentActor) -> Response:
    found = overview.departments(ctx, actor)
    return render(request, "departments.html", {"title": "Departments", "departments": found})


@router.get("/departments/{department_id}")
def department_page(
    department_id: str, request: Request, ctx: Ctx, actor: CurrentActor
) -> Response:
    card = overview.department(ctx, actor, department_id)
    measures = sorted({o.measure for o in card.objectives})
    return render(
        request,
        "department.html",
        {"title": card.title, "card": card, "live_measures": measures},
    )
