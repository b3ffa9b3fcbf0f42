"""Build the FastAPI application for one workspace."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib.resources import files
from typing import Protocol
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp

from civicstat import __version__
from civicstat.governance.audit import AuditUnavailable
from civicstat.governance.secrets import check_production
from civicstat.services.context import Context
from civicstat.services.errors import Forbidden, InvalidInput, NotFound, PermissionDenied
from civicstat.settings import Settings
from civicstat.web import errors, health, live, open_data, pages, portal
from civicstat.web.api import router as api_router
from civicstat.web.deps import CsrfRejected
from civicstat.web.headers import SecurityHeaders, security_headers
from civicstat.web.open_data.openapi import staff_openapi
from civicstat.web.portal._layout import not_found as portal_not_found
from civicstat.web.public_http import PublicHttp
from civicstat.web.templating import render

log = logging.getLogger(__name__)


class _App(FastAPI):
    """FastAPI with the security headers outermost, so that they reach every answer, the
    500 that Starlette's error middleware writes included (see ``web.headers``); inside
    them, what the public side's answers get (``web.public_http``)."""

    def build_middleware_stack(self) -> ASGIApp:
        public = PublicHttp(
            super().build_middleware_stack(),
            max_age=self.state.settings.public_max_age,
            cache_seconds=self.state.settings.public_cache_seconds,
            context=lambda: self.state.ctx,
        )
        return SecurityHeaders(public, self.state.headers)


class Background(Protocol):
    """Work run beside the app for its lifetime, such as the worker's scheduler."""

    def start(self) -> None: ...

    def shutdown(self, *, wait: bool = True) -> None: ...


def create_app(
    settings: Settings,
    context: Context | None = None,
    *,
    background: Callable[[Context], Background] | None = None,
) -> FastAPI:
    """The app; pass ``context`` to share an open one (tests), otherwise it opens its own.

    ``background`` makes, from the app's context, work to run beside it while it serves:
    ``civicstat serve`` passes the worker's scheduler (the web never imports the worker).

    In production mode (``CIVICSTAT_ENV=production``) a missing, short or well-known secret
    key stops it here, with ``InsecureSecretKey``.
    """
    check_production(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx = context or Context(settings)
        if context is None:
            ctx.migrate()
        app.state.ctx = ctx
        app.state.scheduler = None
        if background is not None:
            app.state.scheduler = background(ctx)
            app.state.scheduler.start()
        yield
        if app.state.scheduler is not None:
            app.state.scheduler.shutdown(wait=True)
        if context is None:
            ctx.close()

    app = _App(
        title="CivicStat",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,  # FastAPI's Swagger UI loads from a CDN; the schema is at openapi_url
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.headers = security_headers(settings)
    if context is not None:
        app.state.ctx = context
    app.mount(
        "/static", StaticFiles(directory=str(files("civicstat.web") / "static")), name="static"
    )
    app.include_router(health.router)
    app.include_router(api_router)
    app.include_router(pages.router)
    app.include_router(live.router)
    app.include_router(portal.router)  # under /portal (see web.portal)
    app.include_router(open_data.router)
    app.openapi = staff_openapi(app)  # type: ignore[method-assign]
    app.add_exception_handler(PermissionDenied, _denied)
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(InvalidInput, _invalid)
    app.add_exception_handler(Forbidden, _forbidden)
    app.add_exception_handler(CsrfRejected, _csrf_rejected)
    app.add_exception_handler(AuditUnavailable, _audit_unavailable)
    app.add_exception_handler(RequestValidationError, errors.invalid_request)
    app.add_exception_handler(HTTPException, errors.http_error)
    app.add_exception_handler(Exception, errors.server_error)
    return app


async def _denied(request: Request, error: Exception) -> Response:
    assert isinstance(error, PermissionDenied)
    if not error.actor.is_authenticated:
        if errors.is_api(request):
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
    if errors.is_api(request):
        return JSONResponse({"detail": str(error) or "not found"}, status_code=404)
    if errors.is_portal(request):
        return portal_not_found(request, request.app.state.ctx)
    return render(
        request, "error.html", {"title": "Not found", "message": str(error)}, status_code=404
    )


async def _invalid(request: Request, error: Exception) -> Response:
    if errors.is_api(request):
        return JSONResponse({"detail": str(error)}, status_code=400)
    return render(
        request, "error.html", {"title": "Cannot do that", "message": str(error)}, status_code=400
    )


async def _forbidden(request: Request, error: Exception) -> Response:
    if errors.is_api(request):
        return JSONResponse({"detail": str(error)}, status_code=403)
    return render(
        request, "error.html", {"title": "Not allowed", "message": str(error)}, status_code=403
    )


async def _csrf_rejected(request: Request, error: Exception) -> Response:
    message = "This form has expired or did not come from CivicStat. Reload the page and retry."
    return render(
        request, "error.html", {"title": "Form refused", "message": message}, status_code=403
    )


async def _audit_unavailable(request: Request, error: Exception) -> Response:
    # What the request would have done is not done: it could not be recorded.
    # The database's own message, not SQLAlchemy's, which would repeat the row's values.
    cause = getattr(error.__cause__, "orig", error.__cause__)
    log.error("%s %s refused: %s (%s)", request.method, request.url.path, error, cause)
    message = "The audit log cannot be written just now, so this request was not carried out."
    if errors.is_api(request):
        return JSONResponse({"detail": message}, status_code=503)
    return render(
        request, "error.html", {"title": "Try again later", "message": message}, status_code=503
    )
