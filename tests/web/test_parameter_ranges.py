"""Every parameter of every route takes numbers too large for any column, negative numbers,
and things that are not numbers at all, and answers each with a refusal (400, 403, 404,
422) or by ignoring it: never 500.

The walk reads the app's routes (``app.routes``), so a route added tomorrow is walked
too. It is signed in as an administrator with the session's CSRF token, so forms get past
their checks and reach the services and the database with the value; it runs on SQLite
and on PostgreSQL, whose INTEGER is 32-bit.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from web_helpers import MakeClient, MakeUser, flat_routes, hidden_field, sign_in

from civicstat.governance.actors import Actor, Role
from civicstat.services import access, actions, ingest
from civicstat.services import workspace as workspace_service
from civicstat.services.accounts import tokens
from civicstat.services.context import Context

HOSTILE = [
    "9223372036854775808",  # 2**63: past every 64-bit integer
    "-9223372036854775809",
    "2147483648",  # 2**31: past PostgreSQL's INTEGER
    "-1",
    "0",
    "x",
    "²",  # a digit to str.isdigit, not to int()
    "1e400",  # infinite as a float
    "9999-12-31T23:59:59+14:00",
]
CAD_CALLS = """\
id: cad_calls
title: Calls sent by the CAD system
owner: customer-service
connector: push
load: append
classification: confidential
columns:
  - {name: call_id, type: string}
  - {name: received_at, type: timestamp}
  - {name: priority, type: integer}
  - {name: delay, type: float}
  - {name: urgent, type: boolean}
  - {name: day, type: date}
"""
CALL = {
    "call_id": "C1", "received_at": "2026-02-01 08:00:00", "priority": 1, "delay": 2.5,
    "urgent": True, "day": "2026-02-01",
}  # fmt: skip
# Query parameters a route reads that FastAPI does not declare: a dataset's rows filter on
# any of its columns (see web.api.rows).
ROW_FILTERS = list(CALL)
# A value each form field takes, so that a hostile value in one field reaches the service
# (and the database) instead of stopping at another field left empty.
FORM_VALUES = {
    "text": "On track since the new crew started.", "note": "Reviewed.", "status": "in_progress",
    "statement": "We commit to these targets.", "quarter": "Q1", "confirm": "yes",
    "title": "Add a night crew", "owner": "analyst", "due": "2026-06-30",
    "held_on": "2026-02-02", "attendees": "Mayor, CDO", "notes": "Discussed potholes.",
    "role": "viewer", "replaces": "", "days": "", "version": "1",
}  # fmt: skip
_PARAM = re.compile(r"{(\w+)(?::\w+)?}")


@dataclass(frozen=True)
class Place:
    """Where a request carries a value: ``path``, ``query``, ``header`` or ``body`` (form)."""

    where: str
    name: str


@dataclass
class Walk:
    client: TestClient
    token: str  # may push to cad_calls
    ids: dict[str, str]  # a value that exists for each path parameter
    csrf: str


@pytest.fixture
def walk(
    example_root: Path, example_ctx: Context, admin: Actor, make_client: MakeClient,
    make_user: MakeUser,
) -> Walk:  # fmt: skip
    """The example workspace with a (confidential) push source holding one call with a
    column of each type, an action item and an access request, and an administrator
    signed in."""
    (example_root / "sources" / "cad_calls.yaml").write_text(CAD_CALLS, encoding="utf-8")
    workspace_service.apply(example_ctx, admin)
    ingest.ingest(example_ctx, admin, "service_requests")
    analyst = make_user(Role.ANALYST)
    item = actions.add_action(
        example_ctx, admin, "close-requests-on-time", "Fix it", analyst, dt.date(2026, 6, 30)
    )
    asked = access.request(example_ctx, admin, "cad_calls", reason="Study", for_user=analyst)
    token = tokens.create(example_ctx, admin, name="cad", scopes=["source:push:cad_calls"]).text
    client = make_client(example_ctx)
    assert isinstance(client.app, FastAPI)
    client.app.state.live_timing = {"lasting": 0.0}  # /events answers, then ends its stream
    pushed = client.post(
        "/api/v1/sources/cad_calls/records",
        json=[CALL],
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "first"},
    )
    assert pushed.status_code == 201, pushed.text
    sign_in(client, make_user(Role.ADMIN, username="cdo"))
    ids = {
        "dataset_id": "cad_calls",
        "source_id": "cad_calls",
        "measure_id": "pct-requests-closed-on-time",
        "objective_id": "close-requests-on-time",
        "goal_id": "responsive-government",
        "department_id": "customer-service",
        "period_start": "2025-01-01",
        "action_id": str(item),
        "request_id": str(asked.id),
        "username": analyst,
    }
    csrf = hidden_field(client.get("/plan").text, "csrf_token")
    # A failure is an answer to count, not an exception to stop the walk at.
    walker = TestClient(client.app, follow_redirects=False, raise_server_exceptions=False)
    walker.cookies = client.cookies
    assert walker.get("/admin").status_code == 200  # signed in, as an administrator
    return Walk(walker, token, ids, csrf)


def _places(route: Any) -> Iterator[Place]:
    """Every value the route reads from a request, its dependencies' included."""
    pending = [route.dependant]
    while pending:
        dependant = pending.pop()
        pending.extend(dependant.dependencies)
        for where, fields in (
            ("path", dependant.path_params),
            ("query", dependant.query_params),
            ("header", dependant.header_params),
            ("body", dependant.body_params),
        ):
            for field in fields:
                name = field.alias or field.name
                yield Place(where, name.replace("_", "-") if where == "header" else name)
    if "{dataset_id}/rows" in route.path:
        yield from (Place("query", column) for column in ROW_FILTERS)
    if route.path.endswith("/records"):
        yield Place("header", "Idempotency-Key")


def _form_fields(route: Any) -> set[str]:
    return {place.name for place in _places(route) if place.where == "body"}


def _routes(app: FastAPI) -> list[tuple[str, Any]]:
    """(method, route) for every route of the app that FastAPI parses parameters for; the
    route as ``flat_routes`` gives it, with its full path."""
    found = []
    for route in flat_routes(app):
        if isinstance(getattr(route, "original_route", route), APIRoute):
            found.extend((method, route) for method in sorted(route.methods))
    return found


def _send(walk: Walk, method: str, route: Any, place: Place, value: str) -> int:
    """One request to ``route`` with ``value`` at ``place`` and existing ids elsewhere."""
    path_values = {**walk.ids, **({place.name: value} if place.where == "path" else {})}
    path = _PARAM.sub(lambda m: quote(path_values[m.group(1)], safe=""), route.path)
    headers: dict[str, Any] = {"Authorization": f"Bearer {walk.token}"}
    if route.path.endswith("/records"):
        headers["Idempotency-Key"] = f"walk-{uuid.uuid4()}"
    params, data = {}, {"csrf_token": walk.csrf}
    if place.where == "body":
        data |= {name: FORM_VALUES[name] for name in _form_fields(route) if name in FORM_VALUES}
    if place.where == "query":
        params[place.name] = value
    elif place.where == "header":
        headers[place.name] = value.encode("latin-1")
    elif place.where == "body":
        data[place.name] = value
    if method == "GET":
        response = walk.client.get(path, params=params, headers=headers)
    elif route.path.endswith("/records"):
        response = walk.client.post(path, params=params, headers=headers, json=[CALL])
    else:
        response = walk.client.request(method, path, params=params, headers=headers, data=data)
    return response.status_code


def test_no_value_in_any_parameter_of_any_route_fails_the_server(walk: Walk) -> None:
    assert isinstance(walk.client.app, FastAPI)
    routes = _routes(walk.client.app)
    walked: set[tuple[str, str]] = set()
    failures = []
    for method, route in routes:
        for place in _places(route):
            walked.add((route.path, place.name))
            for value in HOSTILE:
                status = _send(walk, method, route, place, value)
                if status >= 500:
                    where = f"{place.where} {place.name}={value!r}"
                    failures.append(f"{status}: {method} {route.path} with {where}")

    assert not failures, "\n".join(failures)
    # The walk reached the parameters that once failed, so it cannot pass by missing them.
    assert {
        ("/api/v1/datasets/{dataset_id}/rows", "offset"),
        ("/api/v1/datasets/{dataset_id}/rows", "priority"),
        ("/objectives/{objective_id}/comments", "replaces"),
        ("/objectives/{objective_id}/actions/{action_id}/status", "action_id"),
        ("/admin/access/{request_id}/approve", "days"),
        ("/events", "last-event-id"),
    } <= walked
