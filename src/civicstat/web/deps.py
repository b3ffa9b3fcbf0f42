"""Request dependencies: the open context, who is asking, and a form's CSRF check."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Form, Request

from civicstat.governance.actors import ANONYMOUS, Actor
from civicstat.services.accounts import sessions
from civicstat.services.context import Context

SESSION_COOKIE = "civicstat_session"
LOGIN_CSRF_COOKIE = "civicstat_login_csrf"
CHALLENGE_COOKIE = "civicstat_sign_in_code"
LIVE_HEADER = "X-CivicStat-Live"  # sent by static/live.js when it refreshes a page


class CsrfRejected(Exception):
    """A form came without the CSRF token this browser was given: answered 403."""


def check_csrf(expected: str | None, given: str) -> None:
    # As bytes: compare_digest refuses str with non-ASCII characters (a TypeError, a 500).
    if not expected or not given or not secrets.compare_digest(expected.encode(), given.encode()):
        raise CsrfRejected


def client_address(request: Request) -> str | None:
    """The address a request comes from, as the server gives it: behind a proxy, the
    server takes it from X-Forwarded-For only when the proxy is trusted (uvicorn's
    FORWARDED_ALLOW_IPS, 127.0.0.1 unless set)."""
    return request.client.host if request.client is not None else None


def context(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


def current_actor(request: Request, ctx: Annotated[Context, Depends(context)]) -> Actor:
    """The signed-in user, or the anonymous public; services decide what each may do."""
    token = request.cookies.get(SESSION_COOKIE)
    # A page refreshing itself on new data (static/live.js) is not the person using it.
    touch = request.headers.get(LIVE_HEADER) != "1"
    signed_in = sessions.resume_session(ctx, token, touch=touch) if token else None
    if signed_in is None:
        request.state.actor = ANONYMOUS
        return ANONYMOUS
    request.state.actor = signed_in.actor
    request.state.csrf_token = signed_in.csrf_token
    return signed_in.actor


def form_actor(
    request: Request,
    actor: Annotated[Actor, Depends(current_actor)],
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Actor:
    """Who posted a form, once its CSRF token is the one of their session; every form of a
    signed-in user takes its actor from here."""
    check_csrf(getattr(request.state, "csrf_token", None), csrf_token)
    return actor


Ctx = Annotated[Context, Depends(context)]
CurrentActor = Annotated[Actor, Depends(current_actor)]
FormActor = Annotated[Actor, Depends(form_actor)]
