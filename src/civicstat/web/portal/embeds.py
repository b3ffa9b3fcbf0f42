"""Embeddable measures: a card to frame on a city's site, an SVG badge, and oEmbed discovery.

- ``/portal/embed/{measure_id}``: a compact page for an ``<iframe>``. Its CSP
  ``frame-ancestors`` lists ``portal.embed_origins`` (none: ``'none'``, no site may frame
  it), and it carries no ``X-Frame-Options: DENY`` when some site may.
- ``/portal/measures/{measure_id}/badge.svg``: the badge (``web.portal.badge``).
- ``/portal/oembed?url=...&format=json``: oEmbed 1.0, a ``rich`` answer whose ``html`` is
  an ``<iframe>`` of the card. Only this portal's own measure and card addresses are
  answered (another host is a 404, never fetched); ``format=xml`` is 501.

A measure that may not be published answers 404 like one that does not exist.
"""

from __future__ import annotations

import re
from html import escape
from typing import Annotated
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException

from civicstat.services import portal, public_cards
from civicstat.services.errors import NotFound
from civicstat.services.portal import PortalSite
from civicstat.services.public_cards import PublicCard
from civicstat.web.deps import Ctx
from civicstat.web.headers import framed_by
from civicstat.web.portal._fragments import cached, card_html
from civicstat.web.portal.badge import badge_svg
from civicstat.web.templating import templates

router = APIRouter(include_in_schema=False)

WIDTH, HEIGHT = 400, 260  # the card's frame, unless the consumer asks for less
_MEASURE_PATH = re.compile(r"/portal/(?:measures|embed)/([a-z][a-z0-9_-]{0,62})/?")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _missing() -> HTTPException:
    return HTTPException(status_code=404)


def _frame(ctx: Ctx) -> PortalSite:
    try:
        return portal.site(ctx)
    except NotFound:
        raise _missing() from None


def _published(ctx: Ctx, measure_id: str) -> tuple[PortalSite, PublicCard]:
    frame = _frame(ctx)
    try:
        return frame, public_cards.card(ctx, measure_id)
    except NotFound:
        raise _missing() from None


def site(request: Request, frame: PortalSite) -> str:
    """The portal's public address without a trailing slash: ``portal.url`` when set,
    else the address the request came to."""
    return frame.url or str(request.base_url).rstrip("/")


def oembed_href(base: str, measure_id: str) -> str:
    """The oEmbed address of a measure's page: the href of its discovery ``<link>``."""
    target = f"{base}/portal/measures/{measure_id}"
    return f"{base}/portal/oembed?{urlencode({'url': target, 'format': 'json'})}"


@router.get("/embed/{measure_id}")
def embed_card(measure_id: str, request: Request, ctx: Ctx) -> Response:
    frame, card = _published(ctx, measure_id)
    context = {
        "card": card,
        "card_html": card_html(card, chart_id=f"embed-{card.measure}", compact=True),
        "portal_title": frame.title,
        "oembed_href": oembed_href(site(request, frame), card.measure),
    }
    html = templates.get_template("portal/embed.html").render(context)
    page = HTMLResponse(html, headers={"Content-Security-Policy": framed_by(frame.embed_origins)})
    return cached(page)


@router.get("/measures/{measure_id}/badge.svg")
def badge(measure_id: str, request: Request, ctx: Ctx) -> Response:
    _, card = _published(ctx, measure_id)
    return cached(Response(badge_svg(card), media_type="image/svg+xml"))


@router.get("/oembed")
def oembed(
    request: Request,
    ctx: Ctx,
    url: Annotated[str, Query(max_length=2000)],
    format: Annotated[str, Query(max_length=10)] = "json",
    maxwidth: Annotated[int | None, Query(ge=1, le=10000)] = None,
    maxheight: Annotated[int | None, Query(ge=1, le=10000)] = None,
) -> Response:
    """oEmbed 1.0 for a measure page or card of this portal."""
    if format != "json":
        raise HTTPException(status_code=501, detail="only format=json is served")
    base = site(request, _frame(ctx))
    measure_id = _own_measure(url, base)
    if measure_id is None:
        raise _missing()
    frame, card = _published(ctx, measure_id)
    width = min(WIDTH, maxwidth or WIDTH)
    height = min(HEIGHT, maxheight or HEIGHT)
    src = f"{base}/portal/embed/{card.measure}"
    iframe = (
        f'<iframe src="{escape(src)}" width="{width}" height="{height}" '
        f'title="{escape(card.title)}" loading="lazy"></iframe>'
    )
    answer = {
        "version": "1.0",
        "type": "rich",
        "title": card.title,
        "provider_name": frame.title,
        "provider_url": f"{base}/portal",
        "cache_age": 300,
        "html": iframe,
        "width": width,
        "height": height,
    }
    return cached(JSONResponse(answer))


def _own_measure(url: str, base: str) -> str | None:
    """The measure a URL names when it is this portal's measure page or card; None for
    any other address (another host included: it is never fetched)."""
    try:
        asked, own = urlsplit(url.strip()), urlsplit(base)
        if asked.scheme not in _DEFAULT_PORTS or asked.username or asked.password:
            return None
        same_host = asked.hostname is not None and asked.hostname == own.hostname
        same_port = _port(asked.scheme, asked.port) == _port(own.scheme, own.port)
    except ValueError:  # a port out of range, brackets that do not close
        return None
    if not (same_host and same_port):
        return None
    prefix = own.path.rstrip("/")
    if not asked.path.startswith(prefix):
        return None
    found = _MEASURE_PATH.fullmatch(asked.path[len(prefix) :])
    return found.group(1) if found else None


def _port(scheme: str, port: int | None) -> int | None:
    """A port as written, None for the scheme's default: http and https on their default
    ports are the same site behind a proxy that ends TLS."""
    return None if port is None or port == _DEFAULT_PORTS.get(scheme) else port
