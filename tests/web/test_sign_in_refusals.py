"""Through the browser form, on both metadata stores: every refused sign-in — unknown
name, wrong password, locked, throttled, disabled — gets the same answer, byte for byte
(the one-time form token aside); a flood from one address leaves the real user free to sign
in from another; an administrator unlocks an account from the admin page."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from web_helpers import LOGIN_CSRF_COOKIE, PASSWORD, MakeUser, hidden_field, sign_in, submit_sign_in

from civicstat.governance.actors import Actor, Role
from civicstat.metadata.models import AuditEvent
from civicstat.services.accounts import sign_in as sign_in_service
from civicstat.services.accounts import users
from civicstat.services.context import Context

WRONG = "not the password at all"
ATTACKER, ATTACKER_2 = "203.0.113.66", "198.51.100.7"

Browser = Callable[[str], TestClient]


@pytest.fixture
def browser_at(example_ctx: Context, make_client: Callable[..., TestClient]) -> Browser:
    """A new browser on the app, its requests coming from the address given."""
    return lambda address: make_client(example_ctx, address)


def lock(ctx: Context, name: str) -> None:
    """Five wrong passwords from two addresses: no single client can lock an account."""
    for _ in range(4):
        sign_in_service.with_password(ctx, name, WRONG, client=ATTACKER)
    sign_in_service.with_password(ctx, name, WRONG, client=ATTACKER_2)


def answer(response: httpx.Response) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body with the fresh one-time form token blanked out."""
    token = response.cookies.get(LOGIN_CSRF_COOKIE) or ""
    assert len(token) >= 32
    assert response.content.count(token.encode()) == 1
    headers = [(k, v.replace(token, "TOKEN")) for k, v in response.headers.multi_items()]
    return response.status_code, headers, response.content.replace(token.encode(), b"TOKEN")


def test_every_refused_sign_in_gets_the_same_answer_byte_for_byte(
    example_ctx: Context, make_user: MakeUser, admin: Actor, browser_at: Browser
) -> None:
    known = make_user(Role.VIEWER, username="vic")
    locked = make_user(Role.ADMIN, username="cdo")
    throttled = make_user(Role.ANALYST, username="ana")
    disabled = make_user(Role.STEWARD, username="stu")
    lock(example_ctx, locked)
    for _ in range(4):
        sign_in_service.with_password(example_ctx, throttled, WRONG, client="192.0.2.44")
    users.disable(example_ctx, admin, disabled)

    answers = {
        "unknown name": submit_sign_in(browser_at("192.0.2.41"), "nobody-here", WRONG),
        "wrong password": submit_sign_in(browser_at("192.0.2.42"), known, WRONG),
        "locked": submit_sign_in(browser_at("192.0.2.43"), locked, PASSWORD),
        "throttled": submit_sign_in(browser_at("192.0.2.44"), throttled, PASSWORD),
        "disabled": submit_sign_in(browser_at("192.0.2.45"), disabled, PASSWORD),
    }

    first = answer(answers["unknown name"])
    assert first[0] == 401
    assert b"Wrong user name or password." in first[2]
    for case, response in answers.items():
        assert answer(response) == first, case
    with example_ctx.db.session() as session:
        reasons = [
            (e.object_id, e.detail.get("reason"))
            for e in session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == "auth:sign-in")
                .order_by(AuditEvent.id.desc())
                .limit(4)
            )
        ]
    # Every refusal but the throttled one (never checked) is on record with its reason.
    assert reasons == [
        (disabled, "disabled"),
        (locked, "locked"),
        (known, "password"),
        ("nobody-here", "unknown-user"),
    ]


def test_a_flood_from_one_address_leaves_the_real_user_free_to_sign_in_from_another(
    example_ctx: Context, make_user: MakeUser, browser_at: Browser
) -> None:
    name = make_user(Role.ADMIN, username="cdo")
    attacker = browser_at(ATTACKER)

    flood = [submit_sign_in(attacker, name, f"guess number {i:04d}").status_code for i in range(25)]

    assert flood == [401] * 25
    assert submit_sign_in(attacker, name, PASSWORD).status_code == 401
    assert submit_sign_in(browser_at("192.0.2.10"), name, PASSWORD).status_code == 303
    with example_ctx.db.session() as session:
        failed_from = [
            e.detail.get("client")
            for e in session.scalars(
                select(AuditEvent).where(
                    AuditEvent.action == "auth:sign-in", AuditEvent.outcome == "failed"
                )
            )
        ]
        lockouts = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "auth:lockout")
        ).all()
    assert failed_from == [ATTACKER] * 4
    assert lockouts == []


def _post(client: TestClient, action: str) -> httpx.Response:
    token = hidden_field(client.get("/admin").text, "csrf_token")
    response: httpx.Response = client.post(action, data={"csrf_token": token})
    return response


def test_an_admin_unlocks_an_account_from_the_admin_page(
    example_ctx: Context, make_user: MakeUser, browser_at: Browser
) -> None:
    ana = make_user(Role.ANALYST, username="ana")
    lock(example_ctx, ana)
    cdo = browser_at("192.0.2.10")
    sign_in(cdo, make_user(Role.ADMIN, username="cdo"))

    page = cdo.get("/admin")
    assert 'action="/admin/users/ana/unlock"' in page.text
    assert re.search(r"Locked until \d{4}-\d\d-\d\d \d\d:\d\d UTC", page.text)
    assert cdo.post("/admin/users/ana/unlock", data={"csrf_token": "forged"}).status_code == 403
    assert submit_sign_in(browser_at("192.0.2.20"), ana, PASSWORD).status_code == 401

    unlocked = _post(cdo, "/admin/users/ana/unlock")

    assert (unlocked.status_code, unlocked.headers["location"]) == (303, "/admin#users")
    assert 'action="/admin/users/ana/unlock"' not in cdo.get("/admin").text
    assert submit_sign_in(browser_at("192.0.2.20"), ana, PASSWORD).status_code == 303
    with example_ctx.db.session() as session:
        [event] = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "user:unlock")
        ).all()
    assert (event.actor, event.object_id, event.outcome) == ("user:cdo", "ana", "ok")
    assert dt.datetime.fromisoformat(event.detail["was_locked_until"]) > event.at


def test_only_an_admin_may_unlock_through_the_page(
    example_ctx: Context, make_user: MakeUser, browser_at: Browser
) -> None:
    cdo = make_user(Role.ADMIN, username="cdo")
    lock(example_ctx, cdo)
    steward = browser_at("192.0.2.30")
    sign_in(steward, make_user(Role.STEWARD, username="stu"))
    token = hidden_field(steward.get("/plan").text, "csrf_token")

    refused = steward.post("/admin/users/cdo/unlock", data={"csrf_token": token})

    assert refused.status_code == 404
    assert submit_sign_in(browser_at("192.0.2.10"), cdo, PASSWORD).status_code == 401
