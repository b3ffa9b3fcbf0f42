"""Jinja2 templates with autoescaping, and the helpers pages share."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from civicstat.governance.actors import Actor
from civicstat.governance.permissions import ACTIONS, Resource, allowed
from civicstat.web import figures

templates = Jinja2Templates(directory=str(files("civicstat.web") / "templates"))

STATUS_LABELS = {
    "on_target": "On target",
    "near_target": "Near target",
    "off_target": "Off target",
    "stale": "Stale data",
    "no_data": "No data",
}


def number(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def can(actor: Actor | None, action: str) -> bool:
    """Whether the actor's role grants ``action`` at all, to decide whether to show a link;
    the page behind it asks its service, which decides."""
    if actor is None:
        return False
    found = ACTIONS[action]
    return allowed(actor, found, Resource(found.resource_kind, "*"))


templates.env.filters["number"] = number
templates.env.globals["status_label"] = STATUS_LABELS.get
templates.env.filters["value"] = figures.value
templates.env.filters["change"] = figures.change
templates.env.filters["relative"] = figures.relative
templates.env.filters["signal_rule"] = figures.signal_rule
templates.env.globals["trend_sparkline"] = figures.trend_sparkline
templates.env.globals["trend_chart"] = figures.trend_chart
templates.env.globals["points_sparkline"] = figures.points_sparkline
templates.env.globals["can"] = can


def render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    actor = getattr(request.state, "actor", None)
    csrf = getattr(request.state, "csrf_token", None)
    return templates.TemplateResponse(
        request, name, {"actor": actor, "csrf_token": csrf, **context}, status_code=status_code
    )
