"""The portal's pages for anyone: home, the one-page plan, goals, measures, the dataset catalog
and dataset pages.

No sign-in: every page reads through ``services.portal``, ``services.public`` and
``services.open_data``, which show only public datasets and publishable measures, small
cells suppressed. Whatever is not public answers :func:`not_found`, the one 404 page of the
portal, which names nothing it was asked for.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from email.utils import format_datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from civicstat.services import catalog_search, open_data, portal
from civicstat.services.catalog_search import FacetValue, Filters
from civicstat.services.errors import NotFound
from civicstat.web import figures
from civicstat.web.deps import Ctx
from civicstat.web.portal import _api_examples
from civicstat.web.portal._layout import CACHE, not_found, render_portal, site_url
from civicstat.web.portal._schedule import schedule_words

router = APIRouter(include_in_schema=False)

Text = Annotated[str, Query(max_length=200)]
FACET_TITLES = {
    "department": "Department",
    "keyword": "Keyword",
    "theme": "Topic",
    "classification": "Classification",
    "frequency": "Update frequency",
}


@router.get("")
def home(request: Request, ctx: Ctx) -> Response:
    try:
        plan = portal.portal_plan(ctx)
    except NotFound:
        return not_found(request, ctx)
    context = {"title": "Home", "plan": plan, "k": plan.k}
    return render_portal(request, ctx, "portal/home.html", context)


@router.get("/plan")
def plan_page(request: Request, ctx: Ctx) -> Response:
    try:
        plan = portal.portal_plan(ctx)
    except NotFound:
        return not_found(request, ctx)
    counts: dict[str, int] = {}
    for goal in plan.goals:
        for objective in goal.objectives:
            counts[objective.status] = counts.get(objective.status, 0) + 1
    context = {"title": plan.title, "plan": plan, "counts": counts, "k": plan.k}
    return render_portal(request, ctx, "portal/plan.html", context)


@router.get("/goals/{goal_id}")
def goal_page(goal_id: str, request: Request, ctx: Ctx) -> Response:
    try:
        goal = portal.portal_goal(ctx, goal_id)
    except NotFound:
        return not_found(request, ctx)
    return render_portal(request, ctx, "portal/goal.html", {"title": goal.title, "goal": goal})


@router.get("/measures/{measure_id}")
def measure_page(measure_id: str, request: Request, ctx: Ctx) -> Response:
    try:
        found = portal.portal_measure(ctx, measure_id)
    except NotFound:
        return not_found(request, ctx)
    objective = found.objectives[0] if found.objectives else None
    chart = figures.series_chart(
        found.series,
        direction=objective.direction if objective else None,
        warning_band=objective.warning_band if objective else 0.0,
    )
    start = found.breakdown[0].period_start if found.breakdown else None
    period = next((p.period for p in found.series.points if p.start == start), str(start))
    context = {
        "title": found.title,
        "m": found,
        "chart": chart,
        "k": found.k,
        "breakdown_period": period,
        "site_url": site_url(request, ctx),
        "page_url": f"{site_url(request, ctx)}{request.url.path}",
    }
    response = render_portal(request, ctx, "portal/measure.html", context)
    if found.computed_at is not None:
        stamp = f"{found.id}:{found.computed_at.isoformat()}:{found.series.status}"
        response.headers["ETag"] = f'"{hashlib.sha256(stamp.encode()).hexdigest()[:20]}"'
        response.headers["Last-Modified"] = format_datetime(found.computed_at, usegmt=True)
    return response


@router.get("/datasets")
def catalog_page(
    request: Request,
    ctx: Ctx,
    q: Text = "",
    department: Text = "",
    keyword: Text = "",
    theme: Text = "",
    classification: Text = "",
    frequency: Text = "",
) -> Response:
    filters = Filters(department, keyword, theme, classification, frequency)
    result = catalog_search.search(ctx, q.strip(), filters)
    context = {
        "title": "Data catalog",
        "result": result,
        "facet_titles": FACET_TITLES,
        "facet_link": _facet_link(result.query, result.filters),
    }
    return render_portal(request, ctx, "portal/datasets.html", context)


@router.get("/datasets/{dataset_id}")
def dataset_page(dataset_id: str, request: Request, ctx: Ctx) -> Response:
    try:
        found = open_data.dataset(ctx, dataset_id)
    except NotFound:
        return not_found(request, ctx)
    base = site_url(request, ctx)
    context = {
        "title": found.title,
        "d": found,
        "schedule_words": schedule_words(found.frequency, found.schedule),
        "examples": _api_examples.examples(base, found),
    }
    response = render_portal(request, ctx, "portal/dataset.html", context)
    response.headers["ETag"] = f'"{found.etag}-page"'
    if found.modified is not None:
        response.headers["Last-Modified"] = format_datetime(found.modified, usegmt=True)
    return response


def _facet_link(query: str, filters: dict[str, str]) -> Callable[[str, FacetValue], str]:
    """The address a facet value leads to: the search with that value chosen, or, when it
    is chosen, without it."""

    def link(name: str, value: FacetValue) -> str:
        params = dict(filters)
        if value.selected:
            params.pop(name, None)
        else:
            params[name] = value.value
        if query:
            params = {"q": query, **params}
        return "/portal/datasets" + (f"?{urlencode(params)}" if params else "")

    return link


__all__ = ["CACHE", "router"]
