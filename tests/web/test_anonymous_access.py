"""Nobody reaches data without signing in: every data route goes through a permission check."""

from __future__ import annotations

import re
from typing import Any

import fastapi.routing
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.routing import Mount
from web_helpers import ON_SQLITE_ONLY

# The only paths an anonymous GET may answer with 200: they show no data. Adding a path
# here is a decision about what the public may see; make it in review, not to pass a test.
ANONYMOUS_ALLOWED = frozenset(
    {
        "/healthz",
        "/login",
        "/static",
        "/api/docs",
        "/docs/oauth2-redirect",  # FastAPI's static helper page for Swagger UI sign-in
        "/api/openapi.json",
        # Open data (issue 13): public datasets only, as the public reads them; anything
        # else answers 404 like a missing dataset (tests/portal/test_soda_hostile.py).
        "/resource/{dataset_id}",
        "/resource/{dataset_id}.json",
        "/resource/{dataset_id}.csv",
        "/resource/{dataset_id}.geojson",
        "/api/views/{dataset_id}.json",
        "/api/catalog/v1",
        "/portal/datasets/{dataset_id}/rows.csv",
        "/portal/datasets/{dataset_id}/rows.json",
        "/portal/datasets/{dataset_id}/rows.parquet",
        "/api/views/{dataset_id}/rows.csv",
        "/api/views/{dataset_id}/rows.json",
    }
) | frozenset(
    {
        # The transparency portal's pages (web/portal/pages.py): public by design, reading
        # only public datasets and publishable measures (tests/portal/test_portal_pages.py).
        "/portal",
        "/portal/plan",
        "/portal/goals/{goal_id}",
        "/portal/measures/{measure_id}",
        "/portal/datasets",
        "/portal/datasets/{dataset_id}",
        # The portal's stories, data policy and embeddable measures (web/portal/stories.py,
        # embeds.py): public by design, numbers only of publishable measures, suppressed
        # (tests/portal/test_stories.py, test_embeds.py).
        "/portal/stories",
        "/portal/stories/{story_id}",
        "/portal/policy",
        "/portal/embed/{measure_id}",
        "/portal/measures/{measure_id}/badge.svg",
        "/portal/oembed",
    }
)

# A plausible value for each path parameter: an id that exists in the example workspace,
# so a route cannot pass the walk merely by answering "not found" to a made-up id.
PLAUSIBLE_IDS = {
    "dataset_id": "service_requests",
    "source_id": "service_requests",
    "measure_id": "pct-requests-closed-on-time",
    "objective_id": "close-requests-on-time",
    "goal_id": "responsive-government",
    "department_id": "customer-service",
    "period_start": "2025-01-01",
    "story_id": "closing-requests-on-time",
}

_PARAM = re.compile(r"{(\w+)(?::\w+)?}")


def _flat_routes(app: FastAPI) -> list[Any]:
    """Every route of the app, with those of included routers.

    Newer FastAPI keeps each included router in ``app.routes`` as one opaque entry with no
    path; FastAPI's own OpenAPI generator flattens them with ``iter_route_contexts``. Older
    releases copied the routes into ``app.routes`` itself.
    """
    flatten = getattr(fastapi.routing, "iter_route_contexts", None)
    return list(flatten(app.routes)) if flatten else list(app.routes)


def _get_paths(app: FastAPI) -> list[tuple[str, str]]:
    """(route path, concrete path) for every route that answers GET, mounts included."""
    found = []
    for route in _flat_routes(app):
        path: str | None = getattr(route, "path", None)
        assert path is not None, f"cannot walk route {route!r}: it has no path"
        is_mount = isinstance(getattr(route, "original_route", route), Mount)
        if not is_mount and "GET" not in (getattr(route, "methods", None) or ()):
            continue

        def fill(match: re.Match[str], path: str = path) -> str:
            name = match.group(1)
            assert name in PLAUSIBLE_IDS, (
                f"route {path}: add a plausible value for path parameter {name!r} to PLAUSIBLE_IDS"
            )
            return PLAUSIBLE_IDS[name]

        found.append((path, _PARAM.sub(fill, path) or "/"))
    return found


def anonymous_leaks(app: FastAPI, client: TestClient) -> list[str]:
    """Every GET route outside the allowlist that does not refuse an anonymous caller."""
    leaks = []
    for path, concrete in _get_paths(app):
        if path in ANONYMOUS_ALLOWED:
            continue
        response = client.get(concrete)
        location = response.headers.get("location", "")
        refused = response.status_code in (401, 404) or (
            response.status_code == 303 and location.startswith("/login")
        )
        if not refused:
            leaks.append(f"GET {concrete} -> {response.status_code} {location}".strip())
    return leaks


@ON_SQLITE_ONLY
def test_health_check_answers_without_sign_in(client: TestClient) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@ON_SQLITE_ONLY
def test_anonymous_api_caller_is_refused_the_plan_with_401(client: TestClient) -> None:
    response = client.get("/api/v1/plan")

    assert response.status_code == 401
    assert "goals" not in response.text


@ON_SQLITE_ONLY
def test_anonymous_visitor_to_the_plan_page_is_sent_to_sign_in(client: TestClient) -> None:
    response = client.get("/plan")

    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/plan"


@ON_SQLITE_ONLY
def test_sign_in_brings_the_visitor_back_to_the_page_with_its_query(client: TestClient) -> None:
    response = client.get("/plan?goal=a&x=1", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/plan%3Fgoal%3Da%26x%3D1"
    form = client.get(response.headers["location"])
    assert 'name="next" value="/plan?goal=a&amp;x=1"' in form.text


def test_anonymous_api_caller_is_refused_a_public_dataset_with_401(client: TestClient) -> None:
    response = client.get("/api/v1/datasets/service_requests")

    assert response.status_code == 401
    assert "row_count" not in response.text


def test_anonymous_caller_cannot_tell_which_datasets_exist(client: TestClient) -> None:
    existing = client.get("/api/v1/datasets/service_requests")
    missing = client.get("/api/v1/datasets/no_such_dataset")

    assert (missing.status_code, missing.json()) == (existing.status_code, existing.json())


def test_no_route_answers_an_anonymous_get_with_data(app: FastAPI, client: TestClient) -> None:
    walked = {path for path, _ in _get_paths(app)}
    # The walk must see the data routes, or it would pass by looking at nothing.
    assert {"/", "/plan", "/api/v1/plan", "/api/v1/datasets/{dataset_id}"} <= walked
    assert {"/measures/{measure_id}", "/measures/{measure_id}/data.csv", "/events"} <= walked

    assert anonymous_leaks(app, client) == []


@ON_SQLITE_ONLY
def test_route_walk_catches_a_new_route_that_answers_anonymously(
    app: FastAPI, client: TestClient
) -> None:
    @app.get("/api/v1/datasets/{dataset_id}/leak")
    def leaky_rows(dataset_id: str) -> dict[str, str]:
        return {"dataset": dataset_id, "rows": "everything"}

    assert anonymous_leaks(app, client) == ["GET /api/v1/datasets/service_requests/leak -> 200"]
