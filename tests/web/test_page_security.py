"""Pages carry the security headers, and work on a closed city network: no script from
elsewhere, no asset from a CDN."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from web_helpers import ON_SQLITE_ONLY, MakeUser, sign_in, submit_sign_in, tags

from civicstat.governance.actors import Role

pytestmark = ON_SQLITE_ONLY

Fetch = Callable[[TestClient, MakeUser], httpx.Response]

# Sources a policy may name: keywords and same-document schemes, never a host.
_LOCAL_SOURCES = {"'self'", "'none'", "data:"}
_URL_ATTRIBUTES = ("src", "href", "action", "formaction", "poster", "srcset", "data")
_SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script\s*>", re.IGNORECASE | re.DOTALL)
_CSS_URL = re.compile(r"""(?:url\(\s*['"]?|@import\s+['"])([^'")\s]+)""")


def _login_page(client: TestClient, make_user: MakeUser) -> httpx.Response:
    response: httpx.Response = client.get("/login")
    return response


def _plan_page(client: TestClient, make_user: MakeUser) -> httpx.Response:
    sign_in(client, make_user(Role.VIEWER))
    response: httpx.Response = client.get("/plan")
    assert response.status_code == 200
    return response


def _error_page(client: TestClient, make_user: MakeUser) -> httpx.Response:
    """The page for a sign-in form that has expired (its CSRF token no longer matches)."""
    data = {"username": "someone", "password": "x", "csrf_token": "stale"}
    response: httpx.Response = client.post("/login", data=data)
    assert response.status_code == 403
    return response


def _failed_sign_in_page(client: TestClient, make_user: MakeUser) -> httpx.Response:
    response = submit_sign_in(client, "someone", password="not the password at all")
    assert response.status_code == 401
    return response


def _signed_in_page(path: str, role: Role = Role.VIEWER) -> Fetch:
    def fetch(client: TestClient, make_user: MakeUser) -> httpx.Response:
        sign_in(client, make_user(role))
        response: httpx.Response = client.get(path)
        assert response.status_code == 200, response.text
        return response

    return fetch


PAGES = [
    pytest.param(_login_page, id="sign-in"),
    pytest.param(_plan_page, id="plan"),
    pytest.param(_signed_in_page("/"), id="overview"),
    pytest.param(_signed_in_page("/goals/responsive-government"), id="goal"),
    pytest.param(_signed_in_page("/departments"), id="departments"),
    pytest.param(_signed_in_page("/departments/customer-service"), id="department"),
    pytest.param(_signed_in_page("/measures/pct-requests-closed-on-time"), id="measure"),
    pytest.param(_signed_in_page("/runs", Role.ANALYST), id="runs"),
    pytest.param(_signed_in_page("/audit", Role.ADMIN), id="audit"),
    pytest.param(_error_page, id="error"),
    pytest.param(_failed_sign_in_page, id="failed-sign-in"),
]


def _policy(header: str) -> dict[str, list[str]]:
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0].lower()] = words[1:]
    return directives


def _external(url: str) -> bool:
    parts = urlsplit(url.strip())
    return bool(parts.netloc) or parts.scheme.lower() in ("http", "https", "ftp")


def _referenced_urls(html: str) -> list[str]:
    urls: list[str] = []
    for _, attrs in tags(html):
        for name in _URL_ATTRIBUTES:
            value = attrs.get(name)
            if value:
                urls.extend(u.split()[0] for u in value.split(",") if u.strip())
        style = attrs.get("style", "")
        urls.extend(_CSS_URL.findall(style))
    return urls


@pytest.mark.parametrize("fetch", PAGES)
def test_pages_send_a_strict_content_security_policy(
    client: TestClient, make_user: MakeUser, fetch: Fetch
) -> None:
    response = fetch(client, make_user)

    policy = _policy(response.headers["content-security-policy"])
    scripts = policy.get("script-src", policy.get("default-src"))
    assert scripts is not None, "no script-src or default-src: any script may run"
    assert "'unsafe-inline'" not in scripts
    assert "'unsafe-eval'" not in scripts
    assert policy.get("frame-ancestors") == ["'none'"]
    for directive, sources in policy.items():
        assert set(sources) <= _LOCAL_SOURCES, f"{directive} allows {sources}"


@pytest.mark.parametrize("fetch", PAGES)
def test_pages_forbid_sniffing_and_framing(
    client: TestClient, make_user: MakeUser, fetch: Fetch
) -> None:
    response = fetch(client, make_user)

    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize("fetch", PAGES)
def test_pages_reference_nothing_outside_the_site(
    client: TestClient, make_user: MakeUser, fetch: Fetch
) -> None:
    response = fetch(client, make_user)

    urls = _referenced_urls(response.text)
    assert urls, "the walk found no links at all"
    assert [u for u in urls if _external(u)] == []
    assert _inline_scripts(response.text) == []


def _inline_scripts(html: str) -> list[str]:
    """Script elements that are not a file of this site (an inline script, or one elsewhere)."""
    found = []
    for match in _SCRIPT.finditer(html):
        attrs = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1)))
        src = attrs.get("src", "")
        if match.group(2).strip() or not src.startswith("/static/") or _external(src):
            found.append(match.group(0))
    return found


def test_stylesheets_load_nothing_from_outside_the_site(client: TestClient) -> None:
    page = client.get("/login").text
    sheets = [a["href"] for t, a in tags(page) if t == "link" and a.get("rel") == "stylesheet"]
    assert sheets

    for sheet in sheets:
        response = client.get(sheet)
        assert response.status_code == 200, sheet
        assert response.headers["x-content-type-options"] == "nosniff"
        assert [u for u in _CSS_URL.findall(response.text) if _external(u)] == [], sheet


def test_api_docs_if_served_load_nothing_from_outside_the_site(
    app: FastAPI, client: TestClient
) -> None:
    # FastAPI's stock Swagger UI and ReDoc pages load their scripts from a CDN.
    for path in (app.docs_url, app.redoc_url):
        if path is None:
            continue
        response = client.get(path)
        assert [u for u in _referenced_urls(response.text) if _external(u)] == [], path
    schema = client.get("/api/openapi.json")
    assert schema.status_code == 200
    assert "/api/v1/plan" in schema.json()["paths"]


def test_json_answers_carry_the_same_headers(client: TestClient) -> None:
    response = client.get("/api/v1/plan")

    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert "content-security-policy" in response.headers
