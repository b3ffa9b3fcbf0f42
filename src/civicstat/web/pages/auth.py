"""Sign-in and sign-out."""

from __future__ import annotations

import secrets
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from civicstat.services import users
from civicstat.web.deps import LOGIN_CSRF_COOKIE, SESSION_COOKIE, Ctx, CurrentActor
from civicstat.web.templating import render

router = APIRouter()


def _safe_next(target: str | None) -> str:
    """Only a path on this site: an open redirect would help phishing."""
    if not target:
        return "/plan"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/plan"
    return target


@router.get("/login", include_in_schema=False)
def login_form(request: Request, next: str | None = None) -> Response:
    token = secrets.token_urlsafe(32)
    response = render(
        request,
        "login.html",
        {"title": "Sign in", "login_csrf": token, "next": _safe_next(next), "error": None},
    )
    _set_cookie(request, response, LOGIN_CSRF_COOKIE, token, max_age=3600)
    return response


@router.post("/login", include_in_schema=False)
def login(
    request: Request,
    ctx: Ctx,
    username: Annotated[str, Form(max_length=150)],
    password: Annotated[str, Form(max_length=1024)],
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/plan",
) -> Response:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not expected or not secrets.compare_digest(expected, csrf_token):
        return render(
            request,
            "error.html",
            {"title": "Sign-in form expired", "message": "Open the sign-in page again and retry."},
            status_code=400,
        )
    actor = users.authenticate(ctx, username, password)
    if actor is None:
        token = secrets.token_urlsafe(32)
        response = render(
            request,
            "login.html",
            {
                "title": "Sign in",
                "login_csrf": token,
                "next": _safe_next(next),
                "error": "Wrong user name or password.",
            },
            status_code=401,
        )
        _set_cookie(request, response, LOGIN_CSRF_COOKIE, token, max_age=3600)
        return response
    session_token, _ = users.open_session(ctx, actor)
    redirect = RedirectResponse(_safe_next(next), status_code=303)
    _set_cookie(
        request,
        redirect,
        SESSION_COOKIE,
        session_token,
        max_age=int(ctx.settings.session_hours * 3600),
    )
    redirect.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return redirect


@router.post("/logout", include_in_schema=False)
def logout(
    request: Request,
    ctx: Ctx,
    actor: CurrentActor,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    expected = getattr(request.state, "csrf_token", None)
    if token and expected and secrets.compare_digest(expected, csrf_token):
        users.close_session(ctx, token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    secure = bool(request.app.state.settings.cookie_secure)
    response.set_cookie(
        name, value, max_age=max_age, httponly=True, samesite="lax", secure=secure, path="/"
    )
