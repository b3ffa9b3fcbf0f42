"""Build the FastAPI application for one workspace."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from civicstat import __version__
from civicstat.services.context import Context
from civicstat.services.errors import InvalidInput, NotFound, PermissionDenied
from civicstat.settings import Settings
from civicstat.web import health, pages
from civicstat.web.api import router as api_router
from civicstat.web.templating import render

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def create_app(
    settings: Settings, context: Context | None = None, *, scheduler: bool | None = None
) -> FastAPI:
    """The app; pass ``context`` to share an open one (tests), otherwise it opens its own.

    ``scheduler`` runs the sources' schedules in the background; by default only an app
    that opens its own context does, so tests building an app never start ingests.
    """
    run_scheduler = context is None if scheduler is None else scheduler

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx = context or Context(settings)
        if context is None:
            ctx.migrate()
        app.state.ctx = ctx
        app.state.scheduler = None
        if run_scheduler:
            from civicstat.services.scheduler import Scheduler, interval_override

            app.state.scheduler = Scheduler(ctx, every_seconds=interval_override())
            app.state.scheduler.start()
        yield
        if app.state.scheduler is not None:
            app.state.scheduler.shutdown(wait=True)
        if context is None:
            ctx.close()

    app = FastAPI(
        title="CivicStat",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,  # FastAPI's Swagger UI loads from a CDN; the schema is at openapi_url
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    app.state.settings = settings
    if context is not None:
        app.state.ctx = context
    app.add_middleware(BaseHTTPMiddleware, dispatch=_security_headers)
    app.mount(
        "/static", StaticFiles(directory=str(files("civicstat.web") / "static")), name="static"
    )
    app.include_router(health.router)
    app.include_router(api_router)
    app.include_router(pages.router)
    app.add_exception_handler(PermissionDenied, _denied)
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(InvalidInput, _invalid)
    return app


async def _security_headers(request: Request, call_next: RequestResponseEndpoint) -> Response:
    response = await call_next(request)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


async def _denied(request: Request, error: Exception) -> Response:
    assert isinstance(error, PermissionDenied)
    if not error.actor.is_authenticated:
        if _is_api(request):
            return JSONResponse(
                {"detail": "sign in required"},
                status_code=401,
                headers={"WWW-Authenticate": "Cookie"},
            )
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?{urlencode({'next': here}, safe='/')}", status_code=303)
    # Someone who may not see an object is told exactly what they would be told if it did
    # not exist (see NotFound.of).
    return await _not_found(request, NotFound.of(error.resource.kind, error.resource.id))


async def _not_found(request: Request, error: Exception) -> Response:
    if _is_api(request):
        return JSONResponse({"detail": str(error) or "not found"}, status_code=404)
    return render(
        request, "error.html", {"title": "Not found", "message": str(error)}, status_code=404
    )


async def _invalid(request: Request, error: Exception) -> Response:
    if _is_api(request):
        return JSONResponse({"detail": str(error)}, status_code=400)
    return render(
        request, "error.html", {"title": "Cannot do that", "message": str(error)}, status_code=400
    )
