"""Answers for requests that go wrong before or outside a service: a parameter out of range
(422), an unknown path or method (404, 405), and an unexpected failure (500).

The API answers JSON; a page answers the error page, with the same status. Neither
repeats the value that was refused (it may be a guess at someone's personal data), and a
500 says nothing about its cause: the traceback goes to the server's log only.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from civicstat.web.portal._layout import not_found
from civicstat.web.templating import render

TITLES = {
    400: "Cannot do that",
    401: "Sign in required",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed",
    413: "Too large",
    422: "Cannot read that request",
    429: "Too many requests",
}
_PLACES = {"query": "in the address", "path": "in the address", "body": "in the form",
           "header": "a header", "cookie": "a cookie"}  # fmt: skip


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def is_portal(request: Request) -> bool:
    """A page of the public portal, whose 404 is its own (``web.portal._layout``)."""
    return request.url.path == "/portal" or request.url.path.startswith("/portal/")


def problems(error: RequestValidationError) -> list[dict[str, Any]]:
    """Where each refused parameter is and what was wrong, without the value given."""
    return [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in error.errors()
    ]


def _said(problem: dict[str, Any]) -> str:
    where, *names = [str(part) for part in problem["loc"]] or ["request"]
    field = ".".join(names) or where
    return f"{field} ({_PLACES.get(where, where)}): {problem['msg']}"


async def invalid_request(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    found = problems(error)
    if is_api(request):
        return JSONResponse({"detail": found}, status_code=422)
    message = "; ".join(_said(p) for p in found)
    return render(request, "error.html", {"title": TITLES[422], "message": message}, 422)


async def http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    headers = dict(error.headers or {})
    if error.status_code in (204, 304) or error.status_code < 200:
        return Response(status_code=error.status_code, headers=headers)
    if is_api(request):
        return JSONResponse({"detail": error.detail}, error.status_code, headers=headers)
    if error.status_code == 404 and is_portal(request):
        return not_found(request, request.app.state.ctx)
    title = TITLES.get(error.status_code, "Cannot do that")
    detail = error.detail if isinstance(error.detail, str) else title
    response = render(request, "error.html", {"title": title, "message": detail}, error.status_code)
    response.headers.update(headers)
    return response


async def server_error(request: Request, error: Exception) -> Response:
    """A failure nobody planned for; the server's log has the traceback."""
    message = "Something went wrong on our side. It has been logged; please try again later."
    if is_api(request):
        return JSONResponse({"detail": "internal server error"}, status_code=500)
    return render(request, "error.html", {"title": "Server error", "message": message}, 500)
