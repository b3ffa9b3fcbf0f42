"""Probe routes under the public prefixes, standing for the portal and open data routes:
each does what those routes do (a data-versioned ETag, a page without one, a streamed
download, a failure, a cookie, a count of how often it was made). Their paths are ones no
real route takes, so the probes keep working beside them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from email.utils import format_datetime

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, StreamingResponse
from fastapi.testclient import TestClient

from civicstat.services import open_data
from civicstat.services.context import Context
from civicstat.services.errors import NotFound
from civicstat.settings import Settings
from civicstat.web.app import create_app
from civicstat.web.public_http import PublicHttp

ON_SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
DATA = "/resource/_probe/data.json"  # an open data answer with the data version's ETag
PAGE = "/portal/_probe/page"  # a portal page: no ETag of its own
STREAM = "/portal/_probe/rows.csv"  # a streamed download with the version's ETag
MISSING = "/api/views/_probe/missing.json"  # a 404
COOKIE = "/portal/_probe/cookie"  # an answer that sets a cookie
QUERY = "/api/3/_probe/query"  # echoes the query the route was given
COUNTED = "/portal/_probe/counted.json"  # says how many times it was made
VARIES = "/portal/_probe/varies.json"  # the same, varying with a request header


def add_probes(app: FastAPI) -> None:
    made: list[str] = []
    app.state.made = made

    @app.get(DATA)
    def data(request: Request) -> JSONResponse:
        found = open_data.dataset(request.app.state.ctx, "service_requests")
        modified = found.modified or dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
        headers = {
            "ETag": f'"{found.etag}"',
            "Last-Modified": format_datetime(modified, usegmt=True),
        }
        return JSONResponse({"id": found.id, "rows": found.row_count}, headers=headers)

    @app.get(PAGE)
    def page() -> HTMLResponse:
        return HTMLResponse("<!doctype html><title>Millbrook</title><p>Hello</p>")

    @app.get(STREAM)
    def stream() -> StreamingResponse:
        parts = (f"row,{i}\n".encode() for i in range(3))
        return StreamingResponse(parts, media_type="text/csv", headers={"ETag": '"v7"'})

    @app.get(MISSING)
    def missing() -> None:
        raise NotFound.of("dataset", "_probe")

    @app.get(COOKIE)
    def cookie() -> PlainTextResponse:
        response = PlainTextResponse("hello")
        response.set_cookie("seen", "1")
        return response

    @app.get(VARIES)
    def varies(request: Request) -> JSONResponse:
        made.append("varies")
        return JSONResponse({"made": len(made)}, headers={"Vary": "Accept-Language"})

    @app.get(QUERY)
    def query(request: Request) -> dict[str, str]:
        return {"query": request.url.query}

    @app.get(COUNTED)
    def counted(request: Request) -> dict[str, int]:
        made.append(request.url.query)
        return {"made": len(made)}


@pytest.fixture
def make_public(database_url: str) -> Iterator[Callable[..., TestClient]]:
    """A client on a new app with the probes, from ``address``, with ``max_age`` and the
    server keeping its copies ``keep`` seconds."""
    opened: list[TestClient] = []

    def make(
        ctx: Context, address: str = "203.0.113.7", max_age: int = 300, keep: float = 300
    ) -> TestClient:
        settings = Settings(
            workspace=ctx.root,
            database_url=database_url,
            public_max_age=max_age,
            public_cache_seconds=keep,
        )
        app = create_app(settings, ctx)
        add_probes(app)
        client = TestClient(app, follow_redirects=False, client=(address, 50000))
        client.__enter__()
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


def middleware(client: TestClient) -> PublicHttp:
    found = client.app.middleware_stack  # type: ignore[attr-defined]
    while not isinstance(found, PublicHttp):
        found = found.app
    return found
