"""Open pages learn that new data landed: ``/events`` streams an event when measures are
recomputed, even by an ingest in another process, to signed-in readers only; watching does
not keep an idle sign-in alive."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from web_helpers import PASSWORD, MakeUser, hidden_field

import app_server
from civicstat.governance.actors import ANONYMOUS, Actor, Role
from civicstat.services import changes, ingest
from civicstat.services.accounts import sessions, sign_in
from civicstat.services.context import Context
from civicstat.services.errors import PermissionDenied
from civicstat.settings import Settings
from civicstat.web.app import create_app

MEASURE = "pct-requests-closed-on-time"
T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def server(example_ctx: Context, database_url: str) -> Iterator[str]:
    """The app on a real HTTP server (in a thread), polling fast for the test."""
    app = create_app(Settings(workspace=example_ctx.root, database_url=database_url), example_ctx)
    app.state.live_timing = {"poll": 0.1, "recheck": 0.3}
    for address in app_server.serve(app):
        yield f"http://{address}"


def _signed_in(base: str, username: str) -> httpx.Client:
    browser = httpx.Client(base_url=base, timeout=30)
    form = browser.get("/login").text
    response = browser.post(
        "/login",
        data={
            "username": username,
            "password": PASSWORD,
            "csrf_token": hidden_field(form, "csrf_token"),
            "next": "/",
        },
    )
    assert response.status_code == 303, response.text
    return browser


def _events(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """Server-sent events as dicts of their fields; comments are skipped."""
    event: dict[str, Any] = {}
    for line in lines:
        if not line:
            if event:
                yield event
            event = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(": ")
            event[name] = value


def test_an_ingest_in_another_process_reaches_an_open_stream(
    server: str, example_ctx: Context, database_url: str, make_user: MakeUser
) -> None:
    browser = _signed_in(server, make_user(Role.VIEWER))
    env = {**os.environ, "CIVICSTAT_DATABASE_URL": database_url}
    command = [sys.executable, "-m", "civicstat.cli", "ingest", "service_requests",
               "-w", str(example_ctx.root)]  # fmt: skip

    with browser.stream("GET", "/events") as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        events = _events(stream.iter_lines())
        ready = next(events)
        assert ready["event"] == "ready"
        assert ready["data"] == '{"newest": 0}'
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        # Measures are stored one by one, each as it is computed.
        landed = next(e for e in events if MEASURE in e.get("data", ""))

    assert landed["event"] == "observations"
    assert int(landed["id"]) > 0


def test_a_reconnecting_page_hears_of_what_landed_while_it_was_away(
    server: str, example_ctx: Context, admin: Actor, make_user: MakeUser
) -> None:
    browser = _signed_in(server, make_user(Role.VIEWER))
    ingest.ingest(example_ctx, admin, "service_requests")

    with browser.stream("GET", "/events", headers={"Last-Event-ID": "0"}) as stream:
        events = _events(stream.iter_lines())
        assert next(events)["event"] == "ready"
        landed = next(e for e in events if e.get("event") == "observations")

    assert MEASURE in landed["data"]  # all of them were stored before the stream opened


def test_the_stream_ends_when_the_session_does(server: str, make_user: MakeUser) -> None:
    browser = _signed_in(server, make_user(Role.VIEWER))

    with browser.stream("GET", "/events") as stream:
        events = _events(stream.iter_lines())
        assert next(events)["event"] == "ready"
        page = browser.get("/").text
        signed_out = browser.post("/logout", data={"csrf_token": hidden_field(page, "csrf_token")})
        assert signed_out.status_code == 303
        assert next(events)["event"] == "signed-out"


def test_the_anonymous_public_is_sent_to_sign_in(server: str) -> None:
    response = httpx.get(f"{server}/events", timeout=10)

    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")


def test_changes_since_names_only_measures_computed_after_the_mark(
    example_ctx: Context, admin: Actor
) -> None:
    before = changes.newest(example_ctx, admin)

    assert changes.changes_since(example_ctx, admin, before).measures == []
    ingest.ingest(example_ctx, admin, "service_requests")
    changed = changes.changes_since(example_ctx, admin, before)

    assert MEASURE in changed.measures
    assert changed.newest > before
    assert changes.changes_since(example_ctx, admin, changed.newest).measures == []


def test_the_anonymous_public_may_not_watch(example_ctx: Context) -> None:
    with pytest.raises(PermissionDenied):
        changes.newest(example_ctx, ANONYMOUS)
    with pytest.raises(PermissionDenied):
        changes.changes_since(example_ctx, ANONYMOUS, 0)


def test_watching_does_not_keep_an_idle_session_alive(
    example_ctx: Context, make_user: MakeUser
) -> None:
    granted = sign_in.with_password(example_ctx, make_user(Role.VIEWER), PASSWORD)
    assert isinstance(granted, sign_in.Granted)
    token, _ = sessions.open_session(example_ctx, granted.actor, now=T0)

    for minutes in (10, 20, 29):  # a page left open, its live stream checking in
        later = T0 + dt.timedelta(minutes=minutes)
        assert sessions.resume_session(example_ctx, token, now=later, touch=False)

    assert sessions.resume_session(example_ctx, token, now=T0 + dt.timedelta(minutes=31)) is None
