"""Nobody reaches data without signing in, but on the public side: every data route goes
through a permission check, and what answers an anonymous caller is exactly the portal and
open data routes (``web.public_http.PUBLIC_PREFIXES``) plus a few pages that show no data."""

from __future__ import annotations

import re
from typing import Any

import fastapi.routing
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.routing import Mount
from web_helpers import ON_SQLITE_ONLY

from civicstat.governance.actors import Actor
from civicstat.services import ingest
from civicstat.services.context import Context
from civicstat.web.public_http import public_prefix

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
    }
)
# The public side (the portal and the open data API) is not listed here: every route
# under web.public_http.PUBLIC_PREFIXES is walked on its own and must answer the public
# (test_the_anonymous_surface_is_exactly_the_portal_and_open_data_routes).

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
    # The public side's (see tests/portal/test_public_canaries.py for its own walk).
    "story_id": "closing-requests-on-time",  # the example's story (once stories land)
    "extension": "csv",
    "view": "service_requests.json",
    "resource": "service_requests.json",
}
# The query a public route needs to answer at all (oEmbed names the page it embeds).
PLAUSIBLE_QUERIES: dict[str, dict[str, str]] = {
    "/portal/oembed": {
        "url": "http://testserver/portal/measures/pct-requests-closed-on-time",
        "format": "json",
    },
    "/api/3/action/package_show": {"id": "service_requests"},
    "/api/action/package_show": {"id": "service_requests"},
}
# Public routes that answer the example workspace with something else than 200 by design.
PUBLIC_NOT_200 = {
    "/resource/{dataset_id}.geojson": 400,  # the example's requests have no point column
}
# The modules whose routes are the public side: every one must be under a public prefix.
PUBLIC_MODULES = ("civicstat.web.portal", "civicstat.web.open_data")

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
    """Every GET route outside the allowlist and the public side that does not refuse an
    anonymous caller."""
    leaks = []
    for path, concrete in _get_paths(app):
        if path in ANONYMOUS_ALLOWED or public_prefix(path) is not None:
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


def public_surface(app: FastAPI, client: TestClient) -> tuple[set[str], list[str]]:
    """(the public routes walked, those that do not answer an anonymous GET with 200)."""
    walked, failing = set(), []
    for path, concrete in _get_paths(app):
        if public_prefix(path) is None:
            continue
        walked.add(path)
        response = client.get(concrete, params=PLAUSIBLE_QUERIES.get(path))
        if response.status_code != PUBLIC_NOT_200.get(path, 200):
            failing.append(f"GET {concrete} -> {response.status_code}")
    return walked, failing


def outside_the_public_prefixes(app: FastAPI) -> list[str]:
    """Routes of the portal and open data modules that are not under a public prefix."""
    return [
        route.path
        for route in _flat_routes(app)
        if getattr(getattr(route, "endpoint", None), "__module__", "").startswith(PUBLIC_MODULES)
        and public_prefix(route.path) is None
    ]


def test_the_anonymous_surface_is_exactly_the_portal_and_open_data_routes(
    app: FastAPI, client: TestClient, example_ctx: Context, admin: Actor
) -> None:
    ingest.ingest(example_ctx, admin, "service_requests")  # pages with data, not empty ones

    walked, failing = public_surface(app, client)

    assert failing == []  # each public route answers the public, with a plausible id
    assert outside_the_public_prefixes(app) == []
    assert anonymous_leaks(app, client) == []  # and nothing else does
    assert all(public_prefix(path) for path in walked)


@ON_SQLITE_ONLY
def test_route_walk_catches_a_public_route_outside_the_public_prefixes(
    app: FastAPI, client: TestClient
) -> None:
    from civicstat.web.portal import pages

    @app.get("/portals/{dataset_id}")
    def misplaced(dataset_id: str) -> dict[str, str]:
        return {"dataset": dataset_id}

    misplaced.__module__ = pages.__name__  # as if the portal's pages had declared it

    assert outside_the_public_prefixes(app) == ["/portals/{dataset_id}"]
    assert anonymous_leaks(app, client) == ["GET /portals/service_requests -> 200"]


@ON_SQLITE_ONLY
def test_route_walk_catches_a_public_route_that_does_not_answer_the_public(
    app: FastAPI, client: TestClient
) -> None:
    @app.get("/resource/{dataset_id}/broken.json")
    def broken(dataset_id: str) -> None:
        from civicstat.services.errors import NotFound

        raise NotFound.of("dataset", dataset_id)

    _, failing = public_surface(app, client)

    assert "GET /resource/service_requests/broken.json -> 404" in failing
