"""Canaries: personal data planted in every PII column of Riverside must never reach a
reader without unmask rights, by any route of the app, export, error body or log line.

Each role without unmask rights signs in and walks every GET route (as the anonymous walk
in tests/web does), then tries the ways round masking: filters, sorting and grouping by
masked columns, guessing values, unmasking, exporting. A control proves the canaries are
there to be found: an admin signed in with a second factor who unmasks sees them.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any

import fastapi.routing
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from reads_helpers import MARK, leaked, sign_in
from sqlalchemy import select

from civicstat.governance import totp
from civicstat.governance.actors import Actor, Role
from civicstat.metadata.models import AuditEvent
from civicstat.services.accounts import users
from civicstat.services.context import Context

# A value for each path parameter that exists in Riverside, so that a route is walked to
# its data rather than to "not found".
PLAUSIBLE_IDS = {
    "dataset_id": "incidents",
    "source_id": "incidents",
    "measure_id": "incidents-reported",
    "objective_id": "answer-incidents",
    "goal_id": "safe-city",
    "department_id": "police",
    "period_start": "2025-01-01",
    # The public side's (see tests/portal/test_public_canaries.py for its own walk).
    "story_id": "no-such-story",
    "extension": "csv",
    "view": "incidents.json",
    "resource": "incidents.json",
}
_PARAM = re.compile(r"{(\w+)(?::\w+)?}")

# The ways round masking a reader might try, on both datasets.
PROBES = [
    "/api/v1/datasets/{d}",
    "/api/v1/datasets/{d}/rows",
    "/api/v1/datasets/{d}/rows?limit=10000",
    "/api/v1/datasets/{d}/rows?unmask=true",
    "/api/v1/datasets/{d}/rows.csv",
    "/api/v1/datasets/{d}/rows.csv?unmask=true",
    "/api/v1/datasets/{d}/rows?caller_name=CANARY-NAME-" + MARK + "-1",
    "/api/v1/datasets/{d}/rows?applicant_name=CANARY-APPLICANT-" + MARK + "-1",
    "/api/v1/datasets/{d}/rows?order=caller_name",
    "/api/v1/datasets/{d}/rows?order=-applicant_name",
    "/api/v1/datasets/{d}/rows?group_by=caller_email",
    "/api/v1/datasets/{d}/rows?group_by=address",
    "/api/v1/datasets/{d}/rows?group_by=date_of_birth",
    "/api/v1/datasets/{d}/rows?group_by=site_address",
    "/api/v1/datasets/{d}/rows?narrative=x",
    "/api/v1/datasets/{d}/rows?officer_notes=CANARY-NOTES-" + MARK + "-2",
    "/api/v1/datasets/{d}/rows?ssn=CANARY-SSN-" + MARK + "-3",
    "/api/v1/datasets/{d}/rows?reported_at=CANARY-NAME-" + MARK + "-4",
    "/api/v1/datasets/{d}/rows.csv?group_by=district",
]


def get_routes(app: FastAPI) -> list[str]:
    """A concrete path for every route that answers GET, with included routers."""
    flatten = getattr(fastapi.routing, "iter_route_contexts", None)
    routes = list(flatten(app.routes)) if flatten else list(app.routes)
    paths = []
    for route in routes:
        path: str | None = getattr(route, "path", None)
        if path is None or "GET" not in (getattr(route, "methods", None) or ()):
            continue

        def fill(match: re.Match[str], path: str = path) -> str:
            name = match.group(1)
            assert name in PLAUSIBLE_IDS, f"route {path}: add a Riverside value for {name!r}"
            return PLAUSIBLE_IDS[name]

        paths.append(_PARAM.sub(fill, path))
    return paths


def answers(client: TestClient) -> dict[str, str]:
    """Everything a signed-in reader can get back: each route and probe, body and headers."""
    assert isinstance(client.app, FastAPI)
    client.app.state.live_timing = {"lasting": 0.0}  # /events: its first event, then the end
    paths = get_routes(client.app)
    assert "/api/v1/datasets/incidents/rows" in paths  # the walk sees the data routes
    paths += [p.replace("{d}", d) for p in PROBES for d in ("incidents", "permits")]
    seen = {}
    for path in paths:
        response = client.get(path)
        seen[f"GET {path} -> {response.status_code}"] = response.text + str(response.headers)
    return seen


@pytest.fixture
def everything_logged(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


NO_UNMASK = [
    (Role.VIEWER, "police", False),
    (Role.ANALYST, "police", False),
    (Role.ANALYST, "public-works", False),
    (Role.DEPARTMENT_HEAD, "police", False),
    (Role.DEPARTMENT_HEAD, "public-works", False),
    (Role.STEWARD, "police", False),  # unmask is theirs only with a second factor
    (Role.STEWARD, "public-works", False),
    (Role.ADMIN, None, False),
]


@pytest.mark.parametrize(
    ("role", "department", "mfa"), NO_UNMASK, ids=[f"{r}-{d}" for r, d, _ in NO_UNMASK]
)
def test_no_canary_reaches_a_reader_without_unmask_rights(
    riverside: Context,
    riverside_browser: Callable[[], TestClient],
    riverside_user: Callable[..., Actor],
    everything_logged: pytest.LogCaptureFixture,
    role: Role,
    department: str | None,
    mfa: bool,
) -> None:
    user = riverside_user(role, department)
    client = riverside_browser()
    sign_in(client, user.name)

    seen = answers(client)

    leaks = {where: leaked(text) for where, text in seen.items() if leaked(text)}
    assert leaks == {}
    # The server's log lines; the test client's own (httpx) repeat the probes' URLs.
    logged = [r.getMessage() for r in everything_logged.records if r.name != "httpx"]
    assert logged  # the app does log at DEBUG, so silence is not what passes this
    assert leaked("\n".join(logged)) == []
    with riverside.db.session() as session:
        details = [str(e.detail) for e in session.scalars(select(AuditEvent))]
    assert leaked("\n".join(details)) == []
    # The walk read data, so it would have found the canaries had masking failed.
    if role is not Role.VIEWER:
        assert any(" -> 200" in where and "/rows" in where for where in seen)


def test_the_canaries_are_there_for_an_admin_who_unmasks_with_a_second_factor(
    riverside: Context,
    riverside_browser: Callable[[], TestClient],
    riverside_user: Callable[..., Actor],
    admin: Actor,
) -> None:
    cdo = riverside_user(Role.ADMIN, None, "cdo")
    seed = totp.from_base32(users.enroll_totp(riverside, admin, cdo.name).secret)
    client = riverside_browser()
    sign_in(client, cdo.name, code=totp.code_at(seed, time.time()))

    masked = client.get("/api/v1/datasets/incidents/rows?limit=100")
    clear = client.get("/api/v1/datasets/incidents/rows?limit=100&unmask=true")

    assert masked.status_code == clear.status_code == 200
    pii = ("NAME", "PHONE", "ID", "UNIT", "ADDRESS", "NARRATIVE")
    restricted = ("NOTES", "SSN")  # not PII: read in clear by whoever is cleared for them
    # Even an admin reads PII masked unless they unmask.
    assert {kind for kind in pii if f"CANARY-{kind}-" in masked.text} == set()
    assert {kind for kind in restricted if f"CANARY-{kind}-" in masked.text} == set(restricted)
    found: list[Any] = leaked(clear.text)
    for kind in (*pii, *restricted):
        assert any(f"CANARY-{kind}-" in c for c in found), kind
