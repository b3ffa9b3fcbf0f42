"""``/openapi.json``: an OpenAPI 3.1 document of the public API only (the open data routes
and the portal's machine-readable ones), made by FastAPI from those routes. The staff API
keeps its own at ``/api/openapi.json``."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from starlette.routing import BaseRoute

from civicstat import __version__
from civicstat.services import open_feeds
from civicstat.services.open_feeds import Stamp
from civicstat.web.deps import Ctx
from civicstat.web.open_data._feeds import Links, validators

router = APIRouter(tags=["OpenAPI"])

# Paths of the open data API at the site root (the portal's are under /portal).
OPEN_DATA_PREFIXES = ("/resource/", "/api/views/", "/api/catalog/", "/api/3/")
OPEN_DATA_PATHS = frozenset({"/data.json", "/datapackage.json", "/openapi.json"})
PORTAL_MACHINE_PATHS = frozenset({"/portal/oembed"})
# Everything the public side answers; the staff document leaves these out.
PUBLIC_SIDE = ("/portal", "/resource", "/api/views", "/api/catalog", "/api/3", "/api/action",
               "/data.json", "/datapackage.json", "/openapi.json")  # fmt: skip


def on_public_side(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in PUBLIC_SIDE)


def staff_openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """The staff API's document (``/api/openapi.json``): the app's routes but the public
    side's, which ``/openapi.json`` documents."""

    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            routes = [r for r in iter_route_contexts(app.routes) if not on_public_side(str(r.path))]
            app.openapi_schema = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                routes=routes,
            )
        return app.openapi_schema

    return document


def public_routes(routes: Sequence[BaseRoute]) -> list[RouteContext]:
    """The app's routes (those of included routers too) that the public API document shows."""
    return [found for found in iter_route_contexts(routes) if is_public_api(found)]


def is_public_api(route: RouteContext) -> bool:
    """Whether a route belongs in the public API's document: an open data route, or a
    portal route that answers data (a file name such as ``data.csv``, ``badge.svg``)."""
    if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
        return False
    path = str(route.path)
    if path.startswith("/portal/"):
        return path in PORTAL_MACHINE_PATHS or "." in path.rsplit("/", 1)[-1]
    return path in OPEN_DATA_PATHS or path.startswith(OPEN_DATA_PREFIXES)


def public_openapi(request: Request, title: str) -> dict[str, Any]:
    routes = public_routes(request.app.routes)
    return get_openapi(
        title=title,
        version=__version__,
        openapi_version="3.1.0",
        summary="Open data: DCAT-US, CKAN, SODA, Data Packages and measure series",
        description="Anonymous, read-only access to the public datasets and published "
        "performance measures. No key is needed; small counts are suppressed.",
        routes=routes,
    )


@router.get("/openapi.json", summary="This document: the public API as OpenAPI 3.1")
def openapi_json(request: Request, ctx: Ctx) -> Response:
    site = open_feeds.portal(ctx)
    document = public_openapi(request, f"{site.title} API")
    document["servers"] = [{"url": Links.of(request, site).base}]
    text = json.dumps(document, separators=(",", ":"))
    found = Stamp(etag=hashlib.sha256(text.encode()).hexdigest()[:20], modified=site.applied_at)
    return Response(text, media_type="application/json", headers=validators(found))
