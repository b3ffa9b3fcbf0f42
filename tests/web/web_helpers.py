"""What a browser does with CivicStat's pages, for the web tests: read forms and tables,
submit the sign-in form, look at the cookies it was handed."""

from __future__ import annotations

from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

import fastapi.routing
import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from civicstat.services.context import Context

PASSWORD = "correct horse battery staple"
SESSION_COOKIE = "civicstat_session"
LOGIN_CSRF_COOKIE = "civicstat_login_csrf"
CHALLENGE_COOKIE = "civicstat_sign_in_code"

# For behaviour that does not depend on the metadata store (headers, redirect targets, form
# checks that answer before any lookup): the tests that do touch the store run on both.
ON_SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

MakeUser = Callable[..., str]
MakeClient = Callable[[Context], TestClient]

Tag = tuple[str, dict[str, str]]


class _Page(HTMLParser):
    """Every start tag with its attributes, and the text of each table row's cells."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[Tag] = []
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {name: value or "" for name, value in attrs}))
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self.rows:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    page.close()
    return page


def tags(html: str) -> list[Tag]:
    return parse(html).tags


def table_rows(html: str) -> list[list[str]]:
    """Each table row as the whitespace-normalised text of its cells (th and td)."""
    return [row for row in parse(html).rows if row]


def hidden_field(html: str, name: str) -> str:
    """The value a browser would submit for a form's hidden input."""
    for tag, attrs in tags(html):
        if tag == "input" and attrs.get("type") == "hidden" and attrs.get("name") == name:
            return attrs.get("value", "")
    raise AssertionError(f"no hidden {name!r} field in the page")


def set_cookies(response: httpx.Response) -> dict[str, str]:
    """Each Set-Cookie header of a response, by cookie name (the whole header line)."""
    return {
        header.split("=", 1)[0].strip(): header
        for header in response.headers.get_list("set-cookie")
    }


def cookie_flags(header: str) -> set[str]:
    """The attributes of one Set-Cookie header, lower-cased: {"httponly", "samesite=lax", ...}."""
    return {part.strip().lower() for part in header.split(";")[1:]}


def submit_sign_in(
    client: TestClient, username: str, password: str = PASSWORD, next_path: str | None = None
) -> httpx.Response:
    """Open the sign-in page and submit it as a browser does; returns the POST's answer."""
    form = client.get("/login", params={"next": next_path} if next_path is not None else None)
    assert form.status_code == 200
    response: httpx.Response = client.post(
        "/login",
        data={
            "username": username,
            "password": password,
            "csrf_token": hidden_field(form.text, "csrf_token"),
            "next": hidden_field(form.text, "next"),
        },
    )
    return response


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Sign ``client`` in through the form; returns the session cookie's value."""
    response = submit_sign_in(client, username, password)
    assert response.status_code == 303, response.text
    token: str | None = client.cookies.get(SESSION_COOKIE)
    assert token
    return token


def submit_code(client: TestClient, code: str, next_path: str | None = None) -> httpx.Response:
    """Open the code page (after the password step) and submit ``code`` as a browser does."""
    form = client.get("/login/code", params={"next": next_path} if next_path else None)
    assert form.status_code == 200, form.text
    response: httpx.Response = client.post(
        "/login/code",
        data={
            "code": code,
            "csrf_token": hidden_field(form.text, "csrf_token"),
            "next": hidden_field(form.text, "next"),
        },
    )
    return response


def flat_routes(app: FastAPI) -> list[Any]:
    """Every route of the app, with those of included routers (see test_anonymous_access)."""
    flatten = getattr(fastapi.routing, "iter_route_contexts", None)
    return list(flatten(app.routes)) if flatten else list(app.routes)
