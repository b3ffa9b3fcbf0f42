"""Sign-in (a password, then a code for users with a second factor) and sign-out.

Each form carries a CSRF token: the sign-in form's matches a short-lived cookie, the code
form's is kept with its challenge, and sign-out's is the session's. A form without its
token is refused with 403 (see ``deps.CsrfRejected``).
"""

from __future__ import annotations

import secrets
from typing import Annotated
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from civicstat.governance.actors import Actor
from civicstat.services.accounts import sessions, sign_in
from civicstat.services.context import Context
from civicstat.web.deps import (
    CHALLENGE_COOKIE,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    CsrfRejected,
    Ctx,
    FormActor,
    check_csrf,
    client_address,
)
from civicstat.web.templating import render

router = APIRouter()

REFUSED = "Wrong user name or password."
WRONG_CODE = "Wrong code. Enter the current code from your authenticator app."
SIGN_IN_AGAIN = "Wrong or expired code. Sign in again."


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
    return _login_page(request, next, error=None)


@router.post("/login", include_in_schema=False)
def login(
    request: Request,
    ctx: Ctx,
    username: Annotated[str, Form(max_length=150)],
    password: Annotated[str, Form(max_length=1024)],
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/plan",
) -> Response:
    check_csrf(request.cookies.get(LOGIN_CSRF_COOKIE), csrf_token)
    result = sign_in.with_password(ctx, username, password, client=client_address(request))
    if isinstance(result, sign_in.Refused):
        # Wrong name, wrong password, disabled, locked or throttled: one answer for all.
        return _login_page(request, next, error=REFUSED, status_code=401)
    if isinstance(result, sign_in.CodeNeeded):
        redirect = RedirectResponse(
            f"/login/code?{urlencode({'next': _safe_next(next)}, safe='/')}", status_code=303
        )
        max_age = sign_in.CHALLENGE_MINUTES * 60
        _set_cookie(request, redirect, CHALLENGE_COOKIE, result.challenge, max_age=max_age)
        redirect.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
        return redirect
    return _start_session(request, ctx, result.actor, next)


@router.get("/login/code", include_in_schema=False)
def code_form(request: Request, ctx: Ctx, next: str | None = None) -> Response:
    challenge = request.cookies.get(CHALLENGE_COOKIE)
    code_csrf = sign_in.challenge_csrf(ctx, challenge) if challenge else None
    if code_csrf is None:
        return RedirectResponse(
            f"/login?{urlencode({'next': _safe_next(next)}, safe='/')}", status_code=303
        )
    return _code_page(request, code_csrf, next, error=None)


@router.post("/login/code", include_in_schema=False)
def submit_code(
    request: Request,
    ctx: Ctx,
    code: Annotated[str, Form(max_length=20)],
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/plan",
) -> Response:
    challenge = request.cookies.get(CHALLENGE_COOKIE)
    code_csrf = sign_in.challenge_csrf(ctx, challenge, expired_too=True) if challenge else None
    check_csrf(code_csrf, csrf_token)
    if challenge is None or code_csrf is None:  # check_csrf refused these already
        raise CsrfRejected
    result = sign_in.with_code(ctx, challenge, code, client=client_address(request))
    if isinstance(result, sign_in.Granted):
        response = _start_session(request, ctx, result.actor, next)
        response.delete_cookie(CHALLENGE_COOKIE, path="/")
        return response
    if result.retry:
        return _code_page(request, code_csrf, next, error=WRONG_CODE, status_code=401)
    response = _login_page(request, next, error=SIGN_IN_AGAIN, status_code=401)
    response.delete_cookie(CHALLENGE_COOKIE, path="/")
    return response


@router.post("/logout", include_in_schema=False)
def logout(request: Request, ctx: Ctx, actor: FormActor) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        sessions.close_session(ctx, token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _login_page(
    request: Request, next: str | None, *, error: str | None, status_code: int = 200
) -> Response:
    """The sign-in form, with a fresh one-time token in the form and in a cookie."""
    token = secrets.token_urlsafe(32)
    context = {"title": "Sign in", "login_csrf": token, "next": _safe_next(next), "error": error}
    response = render(request, "login.html", context, status_code=status_code)
    _set_cookie(request, response, LOGIN_CSRF_COOKIE, token, max_age=3600)
    return response


def _code_page(
    request: Request, code_csrf: str, next: str | None, *, error: str | None, status_code: int = 200
) -> Response:
    context = {
        "title": "Enter your code",
        "code_csrf": code_csrf,
        "next": _safe_next(next),
        "error": error,
    }
    return render(request, "login_code.html", context, status_code=status_code)


def _start_session(request: Request, ctx: Context, actor: Actor, next: str | None) -> Response:
    """A new session (ending the one this browser had, if any) and off to ``next``."""
    token, _ = sessions.open_session(
        ctx, actor, replacing=request.cookies.get(SESSION_COOKIE) or None
    )
    redirect = RedirectResponse(_safe_next(next), status_code=303)
    max_age = int(ctx.settings.session_hours * 3600)
    _set_cookie(request, redirect, SESSION_COOKIE, token, max_age=max_age)
    redirect.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return redirect


def _set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    secure = bool(request.app.state.settings.cookie_secure)
    response.set_cookie(
        name, value, max_age=max_age, httponly=True, samesite="lax", secure=secure, path="/"
    )
