"""The public side on the open internet: what every answer under a public path gets,
whichever route made it.

Public paths are the portal and the open data API (``PUBLIC_PREFIXES``). On them:

- **Rate limits** per client address, or per app token (Socrata's ``X-App-Token`` header
  or ``$$app_token`` parameter: an API token with the ``portal:app`` scope), which lifts
  the limit to ``portal.rate_limit.per_minute_with_token``. Over it: 429 with
  ``Retry-After``. An unknown, expired or revoked app token: 403, as Socrata answers.
- **Conditional GETs**: a 200 that carries an ``ETag`` (the route's, or a weak one made
  here from a body sent in one piece) or ``Last-Modified`` becomes a 304 without a body
  when the request's ``If-None-Match`` / ``If-Modified-Since`` says the client has it.
- **Caching**: ``Cache-Control: public, max-age=<CIVICSTAT_PUBLIC_MAX_AGE>`` on a success
  (unless the route set its own, or sets a cookie); every error stays ``no-store``.
- **A copy of each answer** (``web.public_cache``), kept until the data changes or
  ``CIVICSTAT_PUBLIC_CACHE_SECONDS`` pass, so the same page or query is made once.
- **CORS** for the open data API (and data files under ``/portal``), as Socrata and CKAN
  serve it: ``Access-Control-Allow-Origin: *``, GET only, no credentials. Not on portal
  pages.

It sits inside ``web.headers.SecurityHeaders``, which still adds the CSP and the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qsl, urlencode

from anyio import to_thread
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from civicstat.services import portal_access
from civicstat.services.context import Context
from civicstat.web.conditional import is_not_modified, weak_etag
from civicstat.web.public_cache import AnswerCache
from civicstat.web.rate_limits import AppTokens, Limits, TokenBuckets, retry_after, token_key

PUBLIC_PREFIXES = (
    "/portal",
    "/resource",
    "/api/views",
    "/api/catalog",
    "/api/3",
    "/api/action",  # CKAN's unversioned action API, where ckanapi calls by default
    "/data.json",
    "/datapackage.json",
    "/openapi.json",
)
PORTAL = "/portal"
TOKEN_HEADER = "x-app-token"  # noqa: S105 - a header name
TOKEN_PARAMETER = "$$app_token"  # noqa: S105 - a parameter name
NO_STORE = "no-store"

CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": (
        "ETag, Last-Modified, Retry-After, X-SODA2-Fields, X-SODA2-Types, X-SODA2-Warning"
    ),
}
PREFLIGHT = {
    **CORS,
    "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
    "Access-Control-Allow-Headers": "X-App-Token, If-None-Match, If-Modified-Since",
    "Access-Control-Max-Age": "86400",
}
# What a 304 keeps of the 200 it stands for (RFC 9110 15.4.5), with the CORS headers and
# a route's own CSP: a browser updates the stored answer's headers from the 304, and the
# site-wide policy would forbid the frames an embeddable card allows.
_NOT_MODIFIED_KEEPS = frozenset(
    {"cache-control", "content-location", "date", "etag", "expires", "last-modified", "vary"}
    | {"content-security-policy"}
    | {name.lower() for name in CORS}
)


def public_prefix(path: str) -> str | None:
    """The public prefix ``path`` is under, or None for the staff side."""
    for prefix in PUBLIC_PREFIXES:
        if path == prefix or path.startswith(prefix + "/"):
            return prefix
    return None


def _is_data_file(path: str) -> bool:
    """A file under /portal (rows.csv, datapackage.json, badge.svg), not a page."""
    return "." in path.rsplit("/", 1)[-1]


class PublicHttp:
    """The ASGI middleware; ``context`` gives the app's open context once it has started."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_age: int,
        cache_seconds: float,
        context: Callable[[], Context],
    ) -> None:
        self.app = app
        self.cache_control = f"public, max-age={max_age}"
        self.answers = AnswerCache(cache_seconds)
        self.state = lambda: portal_access.state_stamp(context())
        self.buckets = TokenBuckets()
        self.tokens = AppTokens(lambda text: portal_access.app_token_valid(context(), text))
        self.limits = Limits(lambda: portal_access.rate_limits(context()))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        prefix = public_prefix(str(scope.get("path", ""))) if scope["type"] == "http" else None
        if prefix is None:
            await self.app(scope, receive, send)
            return
        path = str(scope["path"])
        data = prefix != PORTAL or _is_data_file(path)
        headers = Headers(scope=scope)
        method = scope["method"]
        if method == "OPTIONS" and data and _is_preflight(headers):
            await Response(status_code=204, headers=PREFLIGHT)(scope, receive, send)
            return
        finish = self._finisher(send, prefix)
        refusal = await self._admit(scope, headers, json=prefix != PORTAL)
        if refusal is not None:
            await refusal(scope, receive, finish)
            return
        if method not in ("GET", "HEAD"):
            await self.app(scope, receive, finish)
            return
        # A HEAD is answered as the GET it stands for (the routes declare GET only), its
        # body dropped on the way out: the same headers, ETag and length as the GET's.
        as_get = {**scope, "method": "GET"} if method == "HEAD" else scope
        answer = self._conditional(scope, headers, finish)
        if self.answers.ttl > 0 and self.answers.cacheable(scope, headers):
            key = self.answers.key(scope, headers, await to_thread.run_sync(self.state))
            copy = await self.answers.get(key)
            if copy is not None:
                await self.answers.replay(copy, answer)
                return
            try:
                await self.app(as_get, receive, self.answers.recorder(key, as_get, answer))
            finally:
                self.answers.made(key)
            return
        await self.app(as_get, receive, answer)

    async def _admit(self, scope: Scope, headers: Headers, *, json: bool) -> Response | None:
        """None if the request may go ahead; else the 403 (bad app token) or 429."""
        token = headers.get(TOKEN_HEADER) or _take_token_parameter(scope)
        limits = await self.limits.current()
        if token:
            if not await self.tokens.valid(token):
                return _refusal(403, "invalid_app_token", "Invalid app_token specified", json)
            key, per_minute = f"token:{token_key(token)}", limits.per_minute_with_token
        else:
            client = scope.get("client")
            key, per_minute = f"address:{client[0] if client else '-'}", limits.per_minute
        wait = self.buckets.take(key, per_minute)
        if not wait:
            return None
        seconds = retry_after(wait)
        message = f"Too many requests: at most {per_minute} a minute; retry in {seconds} s"
        refusal = _refusal(429, "too_many_requests", message, json)
        refusal.headers["Retry-After"] = seconds
        return refusal

    def _finisher(self, send: Send, prefix: str) -> Send:
        """``send`` with the caching and CORS headers of a public answer added."""

        async def finish(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._finish(message, prefix)
            await send(message)

        return finish

    def _finish(self, start: Message, prefix: str) -> None:
        headers = MutableHeaders(scope=start)
        status = int(start["status"])
        html = headers.get("content-type", "").startswith("text/html")
        if prefix != PORTAL or not html:
            for name, value in CORS.items():
                headers.setdefault(name, value)
        if status >= 400 or "set-cookie" in headers:
            # An error may be passing (a restart, a fault): no cache keeps it. A cookie is
            # one visitor's: no shared cache may hand it to the next.
            headers["Cache-Control"] = NO_STORE
        elif status < 300 or status == 304:
            headers.setdefault("Cache-Control", self.cache_control)

    def _conditional(self, scope: Scope, request: Headers, send: Send) -> Send:
        """``send`` for a GET or HEAD: a 200's start is held until its first body part, so
        that a weak ETag can be made from a whole body and a 304 sent instead."""
        held: Message | None = None
        done = False
        if scope["method"] == "HEAD":
            send = _without_body(send)

        async def conditional(message: Message) -> None:
            nonlocal held, done
            if done:  # a 304 went out: the rest of a streamed body is dropped
                return
            if message["type"] == "http.response.start" and message["status"] == 200:
                held = message
                return
            if message["type"] != "http.response.body" or held is None:
                await send(message)
                return
            start, held = held, None
            headers = MutableHeaders(scope=start)
            body = message.get("body", b"")
            whole = not message.get("more_body", False)
            if whole and "etag" not in headers and "set-cookie" not in headers:
                headers["ETag"] = weak_etag(body)
            if is_not_modified(
                etag=headers.get("etag"),
                last_modified=headers.get("last-modified"),
                if_none_match=request.get("if-none-match"),
                if_modified_since=request.get("if-modified-since"),
            ):
                done = True
                await send(_not_modified(start))
                await send({"type": "http.response.body", "body": b""})
                return
            await send(start)
            await send(message)

        return conditional


def _not_modified(start: Message) -> Message:
    kept = [
        (name, value)
        for name, value in start["headers"]
        if name.decode("latin-1").lower() in _NOT_MODIFIED_KEEPS
    ]
    return {"type": "http.response.start", "status": 304, "headers": kept}


def _without_body(send: Send) -> Send:
    async def headers_only(message: Message) -> None:
        if message["type"] == "http.response.body":
            message = {**message, "body": b""}
        await send(message)

    return headers_only


def _is_preflight(headers: Headers) -> bool:
    return "origin" in headers and "access-control-request-method" in headers


def _take_token_parameter(scope: Scope) -> str | None:
    """The ``$$app_token`` query parameter, removed from the query the route (and the
    access log) sees: it is a credential, and SoQL knows no such parameter."""
    query: bytes = scope.get("query_string", b"")
    if b"app_token" not in query:
        return None
    pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
    tokens = [value for name, value in pairs if name == TOKEN_PARAMETER]
    if not tokens:
        return None
    rest = [(name, value) for name, value in pairs if name != TOKEN_PARAMETER]
    scope["query_string"] = urlencode(rest).encode("latin-1")
    return tokens[0]


def _refusal(status: int, code: str, message: str, json: bool) -> Response:
    if json:
        return JSONResponse({"code": code, "error": True, "message": message}, status)
    return PlainTextResponse(message + "\n", status)
