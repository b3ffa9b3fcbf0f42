"""Request dependencies: the open context and who is asking."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from civicstat.governance.actors import ANONYMOUS, Actor
from civicstat.services import users
from civicstat.services.context import Context

SESSION_COOKIE = "civicstat_session"
LOGIN_CSRF_COOKIE = "civicstat_login_csrf"


def context(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


def current_actor(request: Request, ctx: Annotated[Context, Depends(context)]) -> Actor:
    """The signed-in user, or the anonymous public; services decide what each may do."""
    token = request.cookies.get(SESSION_COOKIE)
    signed_in = users.resume_session(ctx, token) if token else None
    if signed_in is None:
        request.state.actor = ANONYMOUS
        return ANONYMOUS
    request.state.actor = signed_in.actor
    request.state.csrf_token = signed_in.csrf_token
    return signed_in.actor


Ctx = Annotated[Context, Depends(context)]
CurrentActor = Annotated[Actor, Depends(current_actor)]
