"""Jinja2 templates with autoescaping, and the helpers pages share."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

templates = Jinja2Templates(directory=str(files("civicstat.web") / "templates"))

STATUS_LABELS = {
    "on_target": "On target",
    "near_target": "Near target",
    "off_target": "Off target",
    "no_data": "No data",
}


def number(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


templates.env.filters["number"] = number
templates.env.globals["status_label"] = STATUS_LABELS.get


def render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    actor = getattr(request.state, "actor", None)
    csrf = getattr(request.state, "csrf_token", None)
    return templates.TemplateResponse(
        request, name, {"actor": actor, "csrf_token": csrf, **context}, status_code=status_code
    )
