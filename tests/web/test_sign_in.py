"""Signing in and out through the browser form: CSRF, cookies, redirects, disabled users,
and the audit trail each attempt leaves."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from web_helpers import (
    LOGIN_CSRF_COOKIE,
    ON_SQLITE_ONLY,
    PASSWORD,
    SESSION_COOKIE,
    MakeClient,
    MakeUser,
    cookie_flags,
    hidden_field,
    set_cookies,
    sign_in,
    submit_sign_in,
)

from civicstat.governance import audit
from civicstat.governance.actors import Actor, Role
from civicstat.metadata.models import AuditEvent, User, WebSession, utcnow
from civicstat.services.accounts import users
from civicstat.services.context import Context


def _same_shape(html: str) -> str:
    """The page with its one-time token blanked, to compare two answers."""
    return re.sub(r'name="csrf_token" value="[^"]*"', 'name="csrf_token" value=""', html)


@ON_SQLITE_ONLY
def test_sign_in_page_hands_out_a_login_csrf_cookie_matching_its_form(
    client: TestClient,
) -> None:
    response = client.get("/login")

    assert response.status_code == 200
    cookie = set_cookies(response)[LOGIN_CSRF_COOKIE]
    assert {"httponly", "samesite=lax"} <= cookie_flags(cookie)
    token = hidden_field(response.text, "csrf_token")
    assert len(token) >= 32
    assert client.cookies[LOGIN_CSRF_COOKIE] == token
    assert SESSION_COOKIE not in set_cookies(response)


def test_signing_in_sends_the_user_back_where_they_were_going(
    client: TestClient, make_user: MakeUser
) -> None:
    username = make_user(Role.VIEWER)
    to_login = client.get("/plan")
    assert to_login.headers["location"] == "/login?next=/plan"

    form = client.get(to_login.headers["location"])
    response = client.post(
        "/login",
        data={
            "username": username,
            "password": PASSWORD,
            "csrf_token": hidden_field(form.text, "csrf_token"),
            "next": hidden_field(form.text, "next"),
        },
    )

    assert response.status_code == 303
    assert response.headers["location"] == "/plan"
    assert client.get("/plan").status_code == 200


def test_session_cookie_is_http_only_and_same_site_lax(
    client: TestClient, make_user: MakeUser
) -> None:
    response = submit_sign_in(client, make_user(Role.VIEWER), next_path="/api/v1/plan")

    assert response.status_code == 303
    assert response.headers["location"] == "/api/v1/plan"
    session_cookie = set_cookies(response)[SESSION_COOKIE]
    assert {"httponly", "samesite=lax", "path=/"} <= cookie_flags(session_cookie)
    # The one-time login token is spent.
    assert LOGIN_CSRF_COOKIE not in client.cookies


def test_signed_in_api_caller_gets_goals_objectives_and_status(
    client: TestClient, make_user: MakeUser
) -> None:
    sign_in(client, make_user(Role.VIEWER))

    response = client.get("/api/v1/plan")

    assert response.status_code == 200
    plan = response.json()
    assert [g["id"] for g in plan["goals"]] == ["responsive-government", "safe-streets"]
    objectives = [o for g in plan["goals"] for o in g["objectives"]]
    assert [o["id"] for o in objectives] == [
        "close-requests-on-time",
        "close-requests-fast",
        "repair-potholes-on-time",
    ]
    # Nothing ingested yet: each objective is there, with its target and no data.
    assert [(o["target"], o["status"], o["latest"]) for o in objectives] == [
        (85.0, "no_data", None),
        (2.0, "no_data", None),  # a trajectory's target for the running period
        (90.0, "no_data", None),
    ]


def test_wrong_password_is_refused_with_401_a_message_and_no_session(
    client: TestClient, make_user: MakeUser
) -> None:
    response = submit_sign_in(client, make_user(Role.VIEWER), password="not the password at all")

    assert response.status_code == 401
    assert "Wrong user name or password." in response.text
    assert SESSION_COOKIE not in set_cookies(response)
    assert SESSION_COOKIE not in client.cookies
    # A fresh form comes back, ready for another try.
    assert client.cookies[LOGIN_CSRF_COOKIE] == hidden_field(response.text, "csrf_token")
    assert client.get("/api/v1/plan").status_code == 401


def test_unknown_user_gets_the_same_answer_as_a_wrong_password(
    client: TestClient, make_user: MakeUser
) -> None:
    known = submit_sign_in(client, make_user(Role.VIEWER), password="not the password at all")
    unknown = submit_sign_in(client, "nobody-here", password="not the password at all")

    assert unknown.status_code == known.status_code == 401
    assert _same_shape(unknown.text) == _same_shape(known.text)
    assert set(set_cookies(unknown)) == set(set_cookies(known)) == {LOGIN_CSRF_COOKIE}


@ON_SQLITE_ONLY
@pytest.mark.parametrize(
    ("cookie", "field"),
    [
        pytest.param(None, "from-form", id="no-login-cookie"),
        pytest.param("from-form", "another-token-entirely", id="mismatched-token"),
        pytest.param("from-form", "", id="empty-token"),
        pytest.param("from-form", None, id="no-token-field"),
    ],
)
def test_sign_in_without_a_matching_csrf_token_is_refused_with_403(
    client: TestClient, make_user: MakeUser, cookie: str | None, field: str | None
) -> None:
    username = make_user(Role.VIEWER)
    token = hidden_field(client.get("/login").text, "csrf_token")
    client.cookies.delete(LOGIN_CSRF_COOKIE)
    if cookie is not None:
        client.cookies.set(LOGIN_CSRF_COOKIE, token)
    data = {"username": username, "password": PASSWORD, "next": "/plan"}
    if field is not None:
        data["csrf_token"] = token if field == "from-form" else field

    response = client.post("/login", data=data)

    assert response.status_code == 403
    assert SESSION_COOKIE not in set_cookies(response)
    assert client.get("/api/v1/plan").status_code == 401


OFF_SITE = [
    "https://evil.example/",
    "//evil.example",
    "//evil.example/plan",
    "http:/evil.example",
    "javascript:alert(1)",
    "plan",
]


@ON_SQLITE_ONLY
@pytest.mark.parametrize("target", OFF_SITE)
def test_sign_in_never_redirects_off_site(
    client: TestClient, make_user: MakeUser, target: str
) -> None:
    username = make_user(Role.VIEWER)
    form = client.get("/login", params={"next": target}).text
    assert hidden_field(form, "next") == "/plan"  # a phishing link's target is dropped at once

    response = client.post(
        "/login",
        data={  # and a forged form that sends it anyway gets no further
            "username": username,
            "password": PASSWORD,
            "csrf_token": hidden_field(form, "csrf_token"),
            "next": target,
        },
    )

    assert response.status_code == 303
    assert response.headers["location"] == "/plan"


@ON_SQLITE_ONLY
def test_a_backslash_in_next_cannot_make_a_protocol_relative_redirect(
    client: TestClient, make_user: MakeUser
) -> None:
    response = submit_sign_in(client, make_user(Role.VIEWER), next_path="/\\evil.example")

    assert response.status_code == 303
    location = response.headers["location"]
    # Browsers read a backslash as a slash, so a raw /\evil.example would leave the site.
    assert location.startswith("/")
    assert not location.replace("\\", "/").startswith("//"), location


def test_an_expired_session_is_refused(
    client: TestClient, make_user: MakeUser, example_ctx: Context
) -> None:
    sign_in(client, make_user(Role.VIEWER))
    assert client.get("/api/v1/plan").status_code == 200

    with example_ctx.db.write() as session:
        session.execute(update(WebSession).values(expires_at=utcnow() - dt.timedelta(seconds=1)))

    assert client.get("/api/v1/plan").status_code == 401


def test_signing_out_ends_the_session_for_good(client: TestClient, make_user: MakeUser) -> None:
    old_token = sign_in(client, make_user(Role.VIEWER))
    csrf = hidden_field(client.get("/plan").text, "csrf_token")

    response = client.post("/logout", data={"csrf_token": csrf})

    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    client.cookies.set(SESSION_COOKIE, old_token)  # a copy of the cookie kept after sign-out
    assert client.get("/api/v1/plan").status_code == 401
    assert client.get("/plan").headers["location"] == "/login?next=/plan"


def test_sign_out_without_the_session_csrf_token_does_not_end_the_session(
    client: TestClient, make_user: MakeUser
) -> None:
    token = sign_in(client, make_user(Role.VIEWER))

    client.post("/logout", data={"csrf_token": "forged"})

    client.cookies.set(SESSION_COOKIE, token)
    assert client.get("/api/v1/plan").status_code == 200


def test_a_user_disabled_in_the_database_is_refused_on_the_next_request(
    client: TestClient, make_user: MakeUser, example_ctx: Context
) -> None:
    username = make_user(Role.VIEWER)
    sign_in(client, username)
    assert client.get("/api/v1/plan").status_code == 200

    with example_ctx.db.write() as session:
        session.execute(update(User).where(User.username == username).values(is_active=False))

    assert client.get("/api/v1/plan").status_code == 401
    assert client.get("/plan").headers["location"] == "/login?next=/plan"


def test_a_disabled_user_cannot_sign_in(
    client: TestClient, make_user: MakeUser, example_ctx: Context
) -> None:
    username = make_user(Role.VIEWER)
    with example_ctx.db.write() as session:
        session.execute(update(User).where(User.username == username).values(is_active=False))

    response = submit_sign_in(client, username)

    assert response.status_code == 401
    assert SESSION_COOKIE not in set_cookies(response)


def test_sign_ins_that_work_and_fail_are_audited_in_an_unbroken_chain(
    client: TestClient, make_user: MakeUser, example_ctx: Context
) -> None:
    username = make_user(Role.VIEWER)
    sign_in(client, username)
    submit_sign_in(client, username, password="not the password at all")

    with example_ctx.db.session() as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "auth:sign-in").order_by(AuditEvent.id)
        ).all()
        seen = [(e.actor, e.object_id, e.outcome) for e in events]
        broken_at = audit.verify(session)

    assert seen == [(f"user:{username}", username, "ok"), ("anonymous", username, "failed")]
    assert broken_at is None


def test_sessions_survive_a_new_app_on_the_same_store(
    client: TestClient, make_user: MakeUser, example_ctx: Context, make_client: MakeClient
) -> None:
    token = sign_in(client, make_user(Role.VIEWER))
    other = make_client(example_ctx)  # a second web process behind the load balancer

    other.cookies.set(SESSION_COOKIE, token)

    assert other.get("/api/v1/plan").status_code == 200


# --- sessions: rotation, idleness, changes to the account ---------------------------------


def test_signing_in_again_gives_a_new_token_and_ends_the_old_one(
    client: TestClient, make_user: MakeUser
) -> None:
    username = make_user(Role.VIEWER)
    first = sign_in(client, username)

    second = sign_in(client, username)

    assert second != first
    client.cookies.set(SESSION_COOKIE, first)
    assert client.get("/api/v1/plan").status_code == 401


def test_a_session_planted_in_the_browser_before_sign_in_stops_working(
    client: TestClient, make_user: MakeUser, make_client: MakeClient, example_ctx: Context
) -> None:
    """Session fixation: an attacker plants their own valid session cookie in the victim's
    browser, hoping the victim's sign-in makes it theirs. Sign-in ends it instead."""
    attacker = make_client(example_ctx)
    planted = sign_in(attacker, make_user(Role.VIEWER, username="mallory"))
    client.cookies.set(SESSION_COOKIE, planted, domain="testserver.local")

    victims = sign_in(client, make_user(Role.ANALYST, username="victim"))

    assert victims != planted
    assert attacker.get("/api/v1/plan").status_code == 401


def test_an_idle_session_ends(
    client: TestClient, make_user: MakeUser, example_ctx: Context
) -> None:
    sign_in(client, make_user(Role.VIEWER))
    assert client.get("/api/v1/plan").status_code == 200
    idle = dt.timedelta(minutes=example_ctx.settings.session_idle_minutes, seconds=1)

    with example_ctx.db.write() as session:
        session.execute(update(WebSession).values(last_seen_at=utcnow() - idle))

    assert client.get("/api/v1/plan").status_code == 401
    assert client.get("/plan").headers["location"] == "/login?next=/plan"


def test_a_session_ends_at_its_absolute_limit_however_active(
    client: TestClient, make_user: MakeUser, example_ctx: Context
) -> None:
    sign_in(client, make_user(Role.VIEWER))
    limit = dt.timedelta(hours=example_ctx.settings.session_hours, seconds=1)

    with example_ctx.db.write() as session:
        session.execute(update(WebSession).values(created_at=utcnow() - limit))

    assert client.get("/api/v1/plan").status_code == 401


def test_a_role_change_counts_from_the_next_request(
    client: TestClient, make_user: MakeUser, example_ctx: Context, admin: Actor
) -> None:
    username = make_user(Role.VIEWER)
    sign_in(client, username)
    assert client.get("/api/v1/datasets/service_requests").status_code == 404

    users.set_role(example_ctx, admin, username, Role.ANALYST)

    assert client.get("/api/v1/datasets/service_requests").status_code == 200
    users.set_role(example_ctx, admin, username, Role.VIEWER)
    assert client.get("/api/v1/datasets/service_requests").status_code == 404


def test_a_user_disabled_through_the_service_is_refused_on_the_next_request(
    client: TestClient, make_user: MakeUser, example_ctx: Context, admin: Actor
) -> None:
    username = make_user(Role.VIEWER)
    token = sign_in(client, username)

    users.disable(example_ctx, admin, username)

    client.cookies.set(SESSION_COOKIE, token)
    assert client.get("/api/v1/plan").status_code == 401
    assert submit_sign_in(client, username).status_code == 401
