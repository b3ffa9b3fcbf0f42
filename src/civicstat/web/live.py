"""``/events``: a server-sent event stream telling open pages that new observations landed.

Each connection polls the metadata store (``services.changes``) about once a second, so it
sees observations stored by any process — this server's scheduler, a worker, or an ingest
run from a shell. The page's script (``static/live.js``) then fetches the page again and
swaps in its live parts. A stream lasts a few minutes and the browser reconnects, resuming
from the ``Last-Event-ID`` it was given; the session is checked again every few seconds,
without counting as activity, so an open page never keeps an idle sign-in alive.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from civicstat.governance.actors import ANONYMOUS, Actor
from civicstat.services import changes
from civicstat.services.accounts import sessions
from civicstat.services.context import Context
from civicstat.web.deps import SESSION_COOKIE, Ctx
from civicstat.web.params import digits

router = APIRouter(include_in_schema=False)

POLL_SECONDS = 1.0
RECHECK_SECONDS = 10.0  # how often the session behind a stream is checked again
KEEP_ALIVE_SECONDS = 15.0  # a comment line, so proxies do not close a quiet stream
STREAM_SECONDS = 300.0  # then the browser reconnects, after RETRY_MS
RETRY_MS = 2000


def watching_actor(request: Request, ctx: Ctx) -> Actor:
    """Who opened the stream; looking does not count as activity on their session."""
    token = request.cookies.get(SESSION_COOKIE)
    signed_in = sessions.resume_session(ctx, token, touch=False) if token else None
    actor = signed_in.actor if signed_in else ANONYMOUS
    request.state.actor = actor
    return actor


WatchingActor = Annotated[Actor, Depends(watching_actor)]


@router.get("/events")
async def events(
    request: Request,
    ctx: Ctx,
    actor: WatchingActor,
    last_event_id: Annotated[str | None, Header(max_length=20)] = None,
) -> StreamingResponse:
    """``ready`` once, then ``observations`` ({"newest": id, "measures": [...]}) whenever
    measures the reader may see get new values; ``signed-out`` when the session ends."""
    mark = await run_in_threadpool(changes.newest, ctx, actor)  # refuses the anonymous
    resume = digits(last_event_id, mark)
    if resume is not None:
        mark = resume
    timing = getattr(request.app.state, "live_timing", None) or {}
    stream = _stream(request, ctx, actor, mark, **timing)
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream, media_type="text/event-stream", headers=headers)


async def _stream(
    request: Request,
    ctx: Context,
    actor: Actor,
    mark: int,
    poll: float = POLL_SECONDS,
    recheck: float = RECHECK_SECONDS,
    keep_alive: float = KEEP_ALIVE_SECONDS,
    lasting: float = STREAM_SECONDS,
) -> AsyncIterator[str]:
    token = request.cookies.get(SESSION_COOKIE)
    started = checked = sent = time.monotonic()
    yield f"retry: {RETRY_MS}\n" + _event("ready", {"newest": mark}, mark)
    while time.monotonic() - started < lasting:
        await anyio.sleep(poll)
        if await request.is_disconnected():
            return
        now = time.monotonic()
        if now - checked >= recheck:
            checked = now
            signed_in = (
                await run_in_threadpool(sessions.resume_session, ctx, token, touch=False)
                if token
                else None
            )
            if signed_in is None:
                yield _event("signed-out", {}, mark)
                return
            actor = signed_in.actor  # a role change counts from here
        found = await run_in_threadpool(changes.changes_since, ctx, actor, mark)
        if found.newest != mark:
            mark = found.newest
            if found.measures:
                sent = now
                yield _event("observations", {"newest": mark, "measures": found.measures}, mark)
                continue
        if now - sent >= keep_alive:
            sent = now
            yield ": keep-alive\n\n"


def _event(name: str, data: dict[str, Any], event_id: int) -> str:
    return f"id: {event_id}\nevent: {name}\ndata: {json.dumps(data)}\n\n"
