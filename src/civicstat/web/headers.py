"""The headers every answer carries, error pages and 500s included.

A plain ASGI wrapper around the whole application (outside Starlette's own error
middleware, which answers an unhandled exception itself): whatever produced a response,
its ``http.response.start`` message passes here. A header a route set itself is kept; a
route that lets named sites frame it (its own CSP ``frame-ancestors``, the portal's
embeddable cards) gets no ``X-Frame-Options: DENY``, which would forbid every site.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from civicstat.settings import Settings

SECURITY_HEADERS = {
    # object-src and base-uri are named: they do not fall back to default-src the way a
    # script source does (ASVS 5.0 3.4.3 asks for both 'none').
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
# Browsers keep to HTTPS for a year, subdomains included (ASVS 5.0 3.4.1 at level 2).
HSTS = "max-age=31536000; includeSubDomains"
# Pages, API answers and downloads hold what one signed-in person may see: no browser
# or proxy keeps a copy. Only the static assets (the same for everyone) may be cached.
NO_STORE = "no-store"
CACHEABLE_PREFIX = "/static/"


def framed_by(origins: list[str]) -> str:
    """The CSP of an answer that the sites ``origins`` may frame (none: no site may)."""
    ancestors = " ".join(origins) if origins else "'none'"
    return SECURITY_HEADERS["Content-Security-Policy"].replace(
        "frame-ancestors 'none'", f"frame-ancestors {ancestors}"
    )


def allows_framing(csp: str | None) -> bool:
    """Whether a CSP lets some site frame the answer (``frame-ancestors`` other than 'none')."""
    for directive in (csp or "").split(";"):
        name, _, sources = directive.strip().partition(" ")
        if name.lower() == "frame-ancestors":
            return sources.strip().lower() not in ("", "'none'")
    return False


def security_headers(settings: Settings) -> dict[str, str]:
    """The headers for every answer; HSTS once cookies go over HTTPS only (``cookie_secure``),
    which says the site is served over HTTPS."""
    headers = dict(SECURITY_HEADERS)
    if settings.cookie_secure:
        headers["Strict-Transport-Security"] = HSTS
    return headers


class SecurityHeaders:
    """Adds :func:`security_headers`, and ``Cache-Control: no-store`` outside ``/static/``,
    to every HTTP response of the wrapped app."""

    def __init__(self, app: ASGIApp, headers: dict[str, str]) -> None:
        self.app = app
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cacheable = str(scope.get("path", "")).startswith(CACHEABLE_PREFIX)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                framed = allows_framing(headers.get("Content-Security-Policy"))
                for name, value in self.headers.items():
                    if not (framed and name == "X-Frame-Options"):
                        headers.setdefault(name, value)
                if not cacheable:
                    headers.setdefault("Cache-Control", NO_STORE)
            await send(message)

        await self.app(scope, receive, send_with_headers)
