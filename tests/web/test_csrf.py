"""Every form is CSRF-protected: a walk posts to every route that changes state, from a
browser holding every cookie CivicStat hands out, without the form's token, and expects
403 and nothing changed."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI, Form
from fastapi.testclient import TestClient
from web_helpers import (
    CHALLENGE_COOKIE,
    LOGIN_CSRF_COOKIE,
    ON_SQLITE_ONLY,
    PASSWORD,
    SESSION_COOKIE,
    MakeUser,
    flat_routes,
    sign_in,
    submit_sign_in,
)

from civicstat.governance.actors import Actor, Role
from civicstat.services.accounts import users
from civicstat.services.context import Context

pytestmark = ON_SQLITE_ONLY

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
# Routes a browser session cannot use at all: they authenticate by an API token in the
# Authorization header, which a forged cross-site form cannot send, so CSRF does not apply.
# The walk checks that a session cookie alone gets 401 there.
TOKEN_ONLY = frozenset({"/api/v1/sources/{source_id}/records"})
# CKAN's action API takes its query as a POSTed JSON object as well as by GET (the ckanapi
# client POSTs): a read as the public, which changes nothing and uses no session, so CSRF
# does not apply. The walk checks each answers exactly as its GET twin does.
PUBLIC_READS = "/api/3/action/", "/api/action/"
_PARAM = re.compile(r"{(\w+)(?::\w+)?}")


def unsafe_routes(app: FastAPI) -> list[tuple[str, str]]:
    found = []
    for route in flat_routes(app):
        for method in sorted(UNSAFE & set(getattr(route, "methods", None) or ())):
            found.append((method, route.path))
    return found


@pytest.fixture
def browser(client: TestClient, make_user: MakeUser, example_ctx: Context, admin: Actor) -> str:
    """A browser holding every cookie there is: a session (as a viewer), a sign-in form's
    token, and a pending code step (of a second user, who has a second factor)."""
    viewer = make_user(Role.VIEWER)
    sign_in(client, viewer)
    other = make_user(Role.ADMIN, username="cdo")
    users.enroll_totp(example_ctx, admin, other)
    assert submit_sign_in(client, other).headers["location"].startswith("/login/code")
    client.get("/login")
    assert {SESSION_COOKIE, LOGIN_CSRF_COOKIE, CHALLENGE_COOKIE} <= set(client.cookies.keys())
    return viewer


def forged_posts(app: FastAPI, client: TestClient, username: str) -> list[str]:
    """Each unsafe route that does not answer a token-less, or wrongly tokened, form
    with 403."""
    session = client.cookies[SESSION_COOKIE]
    accepted = []
    for method, path in unsafe_routes(app):
        concrete = _PARAM.sub("service_requests", path)
        if path.startswith(PUBLIC_READS):
            posted = client.request(method, concrete, json={})
            got = client.get(concrete)
            if (posted.status_code, posted.content) != (got.status_code, got.content):
                accepted.append(f"{method} {path} -> answers unlike its GET")
            continue
        if path in TOKEN_ONLY:
            response = client.request(method, concrete, content=b"[]")
            if response.status_code != 401:
                accepted.append(f"{method} {path} -> {response.status_code} (token-only)")
            continue
        form = {"username": username, "password": PASSWORD, "code": "123456", "next": "/plan"}
        for token in (None, "", "forged-token"):
            data = form if token is None else {**form, "csrf_token": token}
            response = client.request(method, concrete, data=data)
            if response.status_code != 403:
                accepted.append(f"{method} {path} csrf={token!r} -> {response.status_code}")
    # Nothing changed: the same session, still valid.
    if client.cookies.get(SESSION_COOKIE) != session:
        accepted.append("the session cookie changed")
    return accepted


def test_every_form_without_its_csrf_token_is_refused_with_403(
    app: FastAPI, client: TestClient, browser: str
) -> None:
    walked = {path for _, path in unsafe_routes(app)}
    assert {"/login", "/login/code", "/logout"} <= walked, walked

    assert forged_posts(app, client, browser) == []
    assert client.get("/api/v1/plan").status_code == 200


def test_the_refusal_is_a_page_that_says_what_happened(client: TestClient, browser: str) -> None:
    response = client.post("/logout", data={})

    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert "Form refused" in response.text


def test_the_walk_catches_a_new_form_that_skips_the_check(
    app: FastAPI, client: TestClient, browser: str
) -> None:
    @app.post("/plan/notes")
    def add_note(note: str = Form("")) -> dict[str, str]:
        return {"saved": note}

    assert forged_posts(app, client, browser) == [
        f"POST /plan/notes csrf={token!r} -> 200" for token in (None, "", "forged-token")
    ]
