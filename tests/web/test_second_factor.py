"""Signing in with a TOTP code through the browser, and what the second factor opens:
restricted data is read only by someone who signed in with it."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from web_helpers import (
    CHALLENGE_COOKIE,
    SESSION_COOKIE,
    MakeClient,
    MakeUser,
    hidden_field,
    set_cookies,
    sign_in,
    submit_code,
    submit_sign_in,
)

from civicstat.governance import totp
from civicstat.governance.actors import Actor, Role
from civicstat.metadata.models import SignInChallenge, utcnow
from civicstat.services import ingest, workspace
from civicstat.services.accounts import sign_in as sign_in_service
from civicstat.services.accounts import users
from civicstat.services.context import Context

DATASET = "service_requests"


def _same_shape(html: str) -> str:
    return re.sub(r'name="csrf_token" value="[^"]*"', 'name="csrf_token" value=""', html)


@pytest.fixture
def enrolled(make_user: MakeUser, example_ctx: Context, admin: Actor) -> tuple[str, bytes]:
    """An admin with a second factor: their name and TOTP seed."""
    name = make_user(Role.ADMIN, username="cdo")
    enrolment = users.enroll_totp(example_ctx, admin, name)
    return name, totp.from_base32(enrolment.secret)


def now_code(seed: bytes) -> str:
    return totp.code_at(seed, time.time())


def wrong_code(seed: bytes) -> str:
    # Wrong for this step and both neighbours.
    near = {totp.code_at(seed, time.time() + d * totp.STEP_SECONDS) for d in (-1, 0, 1)}
    return next(c for c in (f"{n:06d}" for n in range(10**6)) if c not in near)


def test_an_enrolled_user_gives_a_code_after_the_password(
    client: TestClient, enrolled: tuple[str, bytes]
) -> None:
    name, seed = enrolled
    password_step = submit_sign_in(client, name, next_path="/api/v1/plan")

    assert password_step.status_code == 303
    assert password_step.headers["location"] == "/login/code?next=/api/v1/plan"
    assert SESSION_COOKIE not in set_cookies(password_step)
    assert client.get("/api/v1/plan").status_code == 401  # not signed in yet
    form = client.get("/login/code?next=/api/v1/plan")
    assert 'autocomplete="one-time-code"' in form.text
    assert hidden_field(form.text, "next") == "/api/v1/plan"

    response = submit_code(client, now_code(seed), next_path="/api/v1/plan")

    assert response.status_code == 303
    assert response.headers["location"] == "/api/v1/plan"
    assert SESSION_COOKIE in set_cookies(response)
    assert CHALLENGE_COOKIE not in client.cookies
    assert client.get("/api/v1/plan").status_code == 200


def test_the_code_page_without_a_password_step_sends_back_to_sign_in(
    client: TestClient,
) -> None:
    response = client.get("/login/code?next=/plan")

    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/plan"


def test_a_code_sent_after_the_challenge_expired_asks_to_sign_in_again(
    client: TestClient, enrolled: tuple[str, bytes], example_ctx: Context
) -> None:
    name, seed = enrolled
    submit_sign_in(client, name)
    form = client.get("/login/code")
    with example_ctx.db.write() as session:
        session.execute(update(SignInChallenge).values(expires_at=utcnow()))

    response = client.post(
        "/login/code",
        data={"code": now_code(seed), "csrf_token": hidden_field(form.text, "csrf_token")},
    )

    assert response.status_code == 401
    assert "Sign in again." in response.text
    assert SESSION_COOKIE not in client.cookies
    assert CHALLENGE_COOKIE not in client.cookies


def test_a_wrong_code_may_be_retried_until_the_client_is_stopped(
    client: TestClient, enrolled: tuple[str, bytes]
) -> None:
    name, seed = enrolled
    submit_sign_in(client, name)

    for _ in range(4):
        retry = submit_code(client, wrong_code(seed))
        assert retry.status_code == 401
        assert "Wrong code." in retry.text
        assert SESSION_COOKIE not in client.cookies
    fifth = submit_code(client, wrong_code(seed))

    assert fifth.status_code == 401
    assert "Sign in again." in fifth.text
    assert CHALLENGE_COOKIE not in client.cookies
    # Stopped (this client may not fail once more at this name, lest it alone lock the
    # account): the right password now answers exactly like a wrong one.
    locked = submit_sign_in(client, name)
    wrong = submit_sign_in(client, name, password="not the password at all")
    assert locked.status_code == wrong.status_code == 401
    assert _same_shape(locked.text) == _same_shape(wrong.text)
    assert "/login/code" not in locked.headers.get("location", "")


def test_a_locked_account_answers_like_a_wrong_password_and_an_unknown_name(
    client: TestClient, make_user: MakeUser, example_ctx: Context
) -> None:
    name = make_user(Role.ANALYST)
    # Five failures lock the account; no single client may make them all.
    for address in ["203.0.113.1"] * 4 + ["203.0.113.2"]:
        sign_in_service.with_password(example_ctx, name, "not the password at all", client=address)

    locked = submit_sign_in(client, name)
    wrong = submit_sign_in(client, make_user(Role.VIEWER), password="not the password at all")
    unknown = submit_sign_in(client, "nobody-here", password="not the password at all")

    assert locked.status_code == wrong.status_code == unknown.status_code == 401
    assert _same_shape(locked.text) == _same_shape(wrong.text) == _same_shape(unknown.text)
    assert set(set_cookies(locked)) == set(set_cookies(wrong)) == set(set_cookies(unknown))


@pytest.fixture
def restricted_ctx(example_ctx: Context, example_root: Path, admin: Actor) -> Context:
    """The example's 311 source reclassified restricted, applied and loaded."""
    source = example_root / "sources" / f"{DATASET}.yaml"
    text = source.read_text(encoding="utf-8")
    assert text.count("\nclassification: public\n") == 1
    source.write_text(
        text.replace("\nclassification: public\n", "\nclassification: restricted\n"),
        encoding="utf-8",
    )
    assert workspace.apply(example_ctx, admin).revision is not None
    ingest.ingest(example_ctx, admin, DATASET)
    return example_ctx


def test_restricted_data_needs_a_sign_in_with_the_second_factor(
    restricted_ctx: Context,
    make_client: MakeClient,
    enrolled: tuple[str, bytes],
    make_user: MakeUser,
) -> None:
    name, seed = enrolled
    without = make_client(restricted_ctx)
    sign_in(without, make_user(Role.ADMIN, username="admin-without-totp"))
    with_factor = make_client(restricted_ctx)
    submit_sign_in(with_factor, name)
    assert submit_code(with_factor, now_code(seed)).status_code == 303

    refused = without.get(f"/api/v1/datasets/{DATASET}")
    read = with_factor.get(f"/api/v1/datasets/{DATASET}")

    assert refused.status_code == 404
    assert "row_count" not in refused.text
    assert read.status_code == 200
    assert read.json()["classification"] == "restricted"
    assert read.json()["row_count"] > 0
