"""The public side's routes, for the tests that walk them: every route that answers GET
under a public prefix (``web.public_http.PUBLIC_PREFIXES``), with included routers."""

from __future__ import annotations

from typing import Any

import fastapi.routing
from fastapi import FastAPI

from civicstat.web.public_http import public_prefix


def flat_routes(app: FastAPI) -> list[Any]:
    """Every route of the app, with those of included routers (see test_anonymous_access)."""
    flatten = getattr(fastapi.routing, "iter_route_contexts", None)
    return list(flatten(app.routes)) if flatten else list(app.routes)


def public_get_routes(app: FastAPI) -> list[str]:
    """The path of every GET route under a public prefix."""
    return [
        route.path
        for route in flat_routes(app)
        if "GET" in (getattr(route, "methods", None) or ())
        and public_prefix(getattr(route, "path", "")) is not None
    ]
