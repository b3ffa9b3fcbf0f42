"""The portal's layout for every page under ``/portal``: its name in the header, the
cache header, and the one 404 page that whatever is not public answers.

Other portal pages (stories, the data policy) render through :func:`render_portal` too,
extending ``portal/base.html``.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from civicstat.governance.suppression import DEFAULT_K as DEFAULT_SUPPRESSION_K
from civicstat.services import portal
from civicstat.services.context import Context
from civicstat.services.errors import NotFound
from civicstat.web.templating import render

CACHE = "public, max-age=300"
DEFAULT_TITLE = "Open Data"
DEFAULT_K = DEFAULT_SUPPRESSION_K


def site(ctx: Context) -> portal.PortalSite:
    """The portal's frame; a switched-off portal's pages (its 404s) get a plain one."""
    try:
        return portal.site(ctx)
    except NotFound:
        return portal.PortalSite(title=DEFAULT_TITLE, k=DEFAULT_K, url=None)


def site_url(request: Request, ctx: Context) -> str:
    """The site's address for absolute links: ``portal.url`` when set (behind a proxy),
    else the address the request came to; no trailing slash."""
    return site(ctx).url or str(request.base_url).rstrip("/")


def render_portal(
    request: Request, ctx: Context, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    """A portal page, with the portal's frame and ``Cache-Control`` for public answers."""
    frame = site(ctx)
    context = {"portal_title": frame.title, "k": frame.k, **context}
    response = render(request, name, context, status_code=status_code)
    response.headers["Cache-Control"] = CACHE
    return response


def not_found(request: Request, ctx: Context) -> HTMLResponse:
    """The portal's 404: the same page, byte for byte, for a missing id and for one that is
    not public (it repeats nothing of the address, and marks no page of the menu)."""
    context = {"title": "Page not found", "no_current_page": True}
    response = render_portal(request, ctx, "portal/not_found.html", context, status_code=404)
    del response.headers["Cache-Control"]
    return response
