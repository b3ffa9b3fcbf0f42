"""Every answer carries the security headers, whatever its status and whoever asked: a page,
a redirect, a refusal, a 404 or 405, a 422 and a 500 alike. Nothing a signed-in person
may see is kept by a browser or proxy (``Cache-Control: no-store``), and once cookies are
for HTTPS only, browsers are told to keep to HTTPS (HSTS).

A route that raises is added to the app here, so the test owns the 500 it checks.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from web_helpers import ON_SQLITE_ONLY, MakeUser, hidden_field, sign_in

from civicstat.governance.actors import Role
from civicstat.services.context import Context
from civicstat.settings import Settings
from civicstat.web.app import create_app

pytestmark = ON_SQLITE_ONLY

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
}
HSTS = "max-age=31536000; includeSubDomains"
MEASURE = "pct-requests-closed-on-time"

# (what, method, path, expected status): answers anyone gets, signed in or not.
ANYONE = [
    ("unknown page", "GET", "/nowhere", 404),
    ("unknown API path", "GET", "/api/v1/nowhere", 404),
    ("method not allowed", "PUT", "/plan", 405),
    ("TRACE, never supported", "TRACE", "/plan", 405),
    ("page that fails", "GET", "/boom", 500),
    ("API call that fails", "GET", "/api/v1/boom", 500),
    ("number out of range, API", "GET", "/api/v1/datasets/service_requests/rows?offset=-1", 422),
    ("sign-in page", "GET", "/login", 200),
    ("health check", "GET", "/healthz", 200),
]
SIGNED_IN = [
    ("page", "GET", "/plan", 200),
    ("API answer", "GET", "/api/v1/plan", 200),
    ("dataset rows", "GET", "/api/v1/datasets/service_requests/rows", 200),
    ("CSV export", "GET", "/api/v1/datasets/service_requests/rows.csv", 200),
    ("CSV download of a measure", "GET", f"/measures/{MEASURE}/data.csv", 200),
    ("object not found", "GET", "/goals/no-such-goal", 404),
    ("number out of range, page", "GET", "/runs?limit=0", 422),
]
ANONYMOUS = [
    ("page, sent to sign in", "GET", "/plan", 303),
    ("API, sign in required", "GET", "/api/v1/plan", 401),
]


def _boom() -> None:
    raise RuntimeError("secret detail of a bug")


def _app(ctx: Context, database_url: str, *, secure: bool) -> FastAPI:
    settings = Settings(workspace=ctx.root, database_url=database_url, cookie_secure=secure)
    app = create_app(settings, ctx)
    app.add_api_route("/boom", _boom)
    app.add_api_route("/api/v1/boom", _boom)
    return app


@pytest.fixture
def site(example_ctx: Context, database_url: str) -> Callable[[bool], TestClient]:
    """A browser on the app served over HTTPS with secure cookies, or over plain HTTP."""

    def open_site(secure: bool) -> TestClient:
        base_url = "https://testserver" if secure else "http://testserver"
        app = _app(example_ctx, database_url, secure=secure)
        return TestClient(
            app, base_url=base_url, follow_redirects=False, raise_server_exceptions=False
        )

    return open_site


def _missing_headers(response: httpx.Response, *, secure: bool) -> list[str]:
    headers = response.headers
    missing = [f"{n}: {v}" for n, v in SECURITY_HEADERS.items() if headers.get(n) != v]
    policy = headers.get("content-security-policy", "")
    for directive in ("frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"):
        if directive not in policy:
            missing.append(f"content-security-policy {directive}")
    kind = headers.get("content-type", "")
    if kind.startswith("text/") and "charset=utf-8" not in kind.lower():
        missing.append(f"a charset in content-type {kind!r}")
    if headers.get("cache-control") != "no-store":
        missing.append("cache-control: no-store")
    if secure and headers.get("strict-transport-security") != HSTS:
        missing.append(f"strict-transport-security: {HSTS}")
    if not secure and "strict-transport-security" in headers:
        missing.append("no strict-transport-security over plain HTTP")
    return missing


def _walk(client: TestClient, answers: list[tuple[str, str, str, int]], secure: bool) -> list[str]:
    wrong = []
    for what, method, path, status in answers:
        response = client.request(method, path)
        if response.status_code != status:
            wrong.append(f"{what} ({method} {path}): status {response.status_code} not {status}")
        elif missing := _missing_headers(response, secure=secure):
            wrong.append(f"{what} ({method} {path}, {status}) lacks {', '.join(missing)}")
    return wrong


@pytest.mark.parametrize("secure", [False, True], ids=["http", "https"])
def test_every_answer_to_a_signed_in_user_carries_the_security_headers(
    site: Callable[[bool], TestClient], make_user: MakeUser, secure: bool
) -> None:
    client = site(secure)
    signed_in = sign_in(client, make_user(Role.ADMIN))
    assert signed_in

    assert _walk(client, ANYONE + SIGNED_IN, secure) == []


@pytest.mark.parametrize("secure", [False, True], ids=["http", "https"])
def test_every_answer_to_an_anonymous_visitor_carries_the_security_headers(
    site: Callable[[bool], TestClient], secure: bool
) -> None:
    assert _walk(site(secure), ANYONE + ANONYMOUS, secure) == []


@pytest.mark.parametrize("secure", [False, True], ids=["http", "https"])
def test_signing_in_and_out_carries_the_security_headers(
    site: Callable[[bool], TestClient], make_user: MakeUser, secure: bool
) -> None:
    client = site(secure)
    form = client.get("/login")
    signed_in = client.post(
        "/login",
        data={
            "username": make_user(Role.VIEWER),
            "password": "correct horse battery staple",
            "csrf_token": hidden_field(form.text, "csrf_token"),
            "next": "/plan",
        },
    )
    assert signed_in.status_code == 303
    token = hidden_field(client.get("/plan").text, "csrf_token")
    signed_out = client.post("/logout", data={"csrf_token": token})
    refused = client.post("/logout", data={"csrf_token": "stale"})

    assert signed_out.status_code == 303
    assert refused.status_code == 403
    for response in (signed_in, signed_out, refused):
        assert _missing_headers(response, secure=secure) == []


def test_static_assets_may_be_cached_but_keep_the_security_headers(
    site: Callable[[bool], TestClient],
) -> None:
    response = site(True).get("/static/civicstat.css")

    assert response.status_code == 200
    assert "no-store" not in response.headers.get("cache-control", "")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["strict-transport-security"] == HSTS


def test_a_server_error_says_nothing_of_its_cause(site: Callable[[bool], TestClient]) -> None:
    client = site(False)

    page = client.get("/boom")
    api = client.get("/api/v1/boom")

    assert page.status_code == api.status_code == 500
    assert page.headers["content-type"].startswith("text/html")
    assert "<h1>Server error</h1>" in page.text
    assert api.json() == {"detail": "internal server error"}
    for response in (page, api):
        assert "secret detail" not in response.text
        assert "Traceback" not in response.text


def test_a_page_refusing_a_number_out_of_range_names_the_field(
    site: Callable[[bool], TestClient], make_user: MakeUser
) -> None:
    client = site(False)
    sign_in(client, make_user(Role.ANALYST))

    response = client.get("/runs?limit=99999999999999999999")

    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")
    assert "<h1>Cannot read that request</h1>" in response.text
    assert "limit (in the address): Input should be less than or equal to 500" in response.text
    assert "99999999999999999999" not in response.text


def test_the_api_refusing_a_number_names_the_parameter_but_never_repeats_the_value(
    site: Callable[[bool], TestClient], make_user: MakeUser
) -> None:
    client = site(False)
    sign_in(client, make_user(Role.ADMIN))

    response = client.get("/api/v1/datasets/service_requests/rows?offset=-123456789")

    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {
                "loc": ["query", "offset"],
                "msg": "Input should be greater than or equal to 0",
                "type": "greater_than_equal",
            }
        ]
    }
