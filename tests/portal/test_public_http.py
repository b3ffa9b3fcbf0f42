"""The public side on the open internet (web/public_http.py): conditional GETs, caching,
rate limits with app tokens, CORS and the CSP, on any route under a public prefix.

The probe routes (public_probes.py) stand for the portal and open data routes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from public_probes import (
    COOKIE,
    DATA,
    MISSING,
    ON_SQLITE_ONLY,
    PAGE,
    QUERY,
    STREAM,
    make_public,
    middleware,
)

from civicstat.governance.actors import Actor
from civicstat.services import open_data, portal_access
from civicstat.services import workspace as workspace_service
from civicstat.services.accounts import tokens
from civicstat.services.context import Context
from civicstat.services.errors import InvalidInput
from civicstat.web.conditional import entity_tags, is_not_modified, weak_match
from civicstat.web.public_http import public_prefix

__all__ = ["make_public"]  # a fixture, used by name


@pytest.fixture
def public(example_ctx: Context, make_public: Callable[..., TestClient]) -> TestClient:
    return make_public(example_ctx)


def limit(root: Path, ctx: Context, admin: Actor, per_minute: int, with_token: int) -> None:
    path = root / "civicstat.yaml"
    spec = yaml.safe_load(path.read_text())
    spec["portal"]["rate_limit"] = {"per_minute": per_minute, "per_minute_with_token": with_token}
    path.write_text(yaml.safe_dump(spec))
    workspace_service.apply(ctx, admin)


# --- the prefixes ------------------------------------------------------------------------


def test_public_prefixes_cover_the_portal_and_the_open_data_api_only() -> None:
    public = ["/portal", "/portal/datasets/x", "/resource/x.json", "/api/views/x.json",
              "/api/catalog/v1", "/api/3/action/package_list", "/api/action/package_list",
              "/data.json", "/datapackage.json", "/openapi.json"]  # fmt: skip
    staff = ["/", "/portalx", "/api/v1/plan", "/api/openapi.json", "/resources", "/healthz",
             "/data.json.bak", "/static/civicstat.css", "/api/30"]  # fmt: skip
    assert [p for p in public if public_prefix(p) is None] == []
    assert [p for p in staff if public_prefix(p) is not None] == []


# --- conditional requests ----------------------------------------------------------------


def test_entity_tag_lists_compare_weakly_as_rfc_9110_says() -> None:
    assert entity_tags('"a", W/"b" ,,"c"') == ['"a"', '"b"', '"c"']
    assert entity_tags("*") is None
    assert weak_match('W/"v1"', '"v1"')
    assert weak_match('"v1"', 'W/"v1"')
    assert weak_match('"x", "v1"', '"v1"')
    assert weak_match("*", '"anything"')
    assert not weak_match('"v1"', '"v2"')
    assert not weak_match("v1", '"v1"')
    old, new = "Mon, 06 Jan 2025 10:00:00 GMT", "Tue, 07 Jan 2025 10:00:00 GMT"
    kw = {"etag": '"v1"', "last_modified": old}
    assert is_not_modified(**kw, if_none_match=None, if_modified_since=new)
    assert not is_not_modified(**kw, if_none_match=None, if_modified_since="yesterday")
    assert not is_not_modified(**{**kw, "last_modified": new}, if_none_match=None,
                               if_modified_since=old)  # fmt: skip
    # If-None-Match decides alone: a changed tag is not hidden by an unchanged date.
    assert not is_not_modified(**kw, if_none_match='"v0"', if_modified_since=new)


def test_a_client_that_has_the_current_version_gets_304_without_a_body(
    public: TestClient,
) -> None:
    first = public.get(DATA)
    assert first.status_code == 200
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    ctx = public.app.state.ctx  # type: ignore[attr-defined]
    assert etag == f'"{open_data.dataset(ctx, "service_requests").etag}"'

    for sent in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = public.get(DATA, headers={"If-None-Match": sent})
        assert again.status_code == 304, sent
        assert again.content == b""
        assert again.headers["etag"] == etag
        assert again.headers["last-modified"] == modified
        assert again.headers["cache-control"] == "public, max-age=300"
        assert "content-type" not in again.headers
        assert "content-length" not in again.headers
        assert "content-security-policy" in again.headers

    changed = public.get(DATA, headers={"If-None-Match": '"an-older-version"'})
    assert changed.status_code == 200
    assert changed.json() == first.json()
    dated = public.get(DATA, headers={"If-Modified-Since": modified})
    assert dated.status_code == 304
    both = public.get(DATA, headers={"If-None-Match": '"old"', "If-Modified-Since": modified})
    assert both.status_code == 200


def test_a_page_without_an_etag_gets_a_weak_one_from_its_body(public: TestClient) -> None:
    first = public.get(PAGE)
    etag = first.headers["etag"]
    assert etag.startswith('W/"')
    assert public.get(PAGE).headers["etag"] == etag  # the same page, the same tag

    again = public.get(PAGE, headers={"If-None-Match": etag})
    assert (again.status_code, again.content) == (304, b"")


def test_a_head_request_gets_the_get_s_headers_without_its_body(
    example_ctx: Context, make_public: Callable[..., TestClient]
) -> None:
    client = make_public(example_ctx, keep=0)  # made by the route each time
    got = client.get(DATA)
    for path in (DATA, PAGE):
        head = client.head(path)
        assert head.status_code == 200, path
        assert head.content == b""
        assert head.headers["content-length"] == client.get(path).headers["content-length"]
    assert client.head(DATA).headers["etag"] == got.headers["etag"]
    assert client.head(DATA, headers={"If-None-Match": got.headers["etag"]}).status_code == 304
    assert client.head(MISSING).status_code == 404


def test_a_streamed_download_is_not_hashed_but_its_own_etag_still_gives_304(
    public: TestClient,
) -> None:
    first = public.get(STREAM)
    assert first.text == "row,0\nrow,1\nrow,2\n"
    assert first.headers["etag"] == '"v7"'
    again = public.get(STREAM, headers={"If-None-Match": '"v7"'})
    assert (again.status_code, again.content) == (304, b"")


# --- caching -----------------------------------------------------------------------------


def test_public_successes_are_cacheable_and_everything_else_is_not(
    example_ctx: Context, make_public: Callable[..., TestClient]
) -> None:
    client = make_public(example_ctx, max_age=42)

    assert client.get(DATA).headers["cache-control"] == "public, max-age=42"
    assert client.get(PAGE).headers["cache-control"] == "public, max-age=42"
    missing = client.get(MISSING)
    assert missing.status_code == 404
    assert missing.headers["cache-control"] == "no-store"
    assert client.get("/portal/_probe/no-such-page").headers["cache-control"] == "no-store"
    # A cookie is one visitor's: never in a shared cache, and no ETag made for it.
    cookie = client.get(COOKIE)
    assert cookie.headers["cache-control"] == "no-store"
    assert "etag" not in cookie.headers
    # The staff side is untouched.
    assert client.get("/healthz").headers["cache-control"] == "no-store"
    assert "etag" not in client.get("/healthz").headers


# --- rate limits and app tokens ----------------------------------------------------------


def test_a_client_over_the_limit_is_told_when_to_come_back(
    example_ctx: Context,
    example_root: Path,
    admin: Actor,
    make_public: Callable[..., TestClient],
) -> None:
    limit(example_root, example_ctx, admin, per_minute=3, with_token=100)
    client = make_public(example_ctx)

    assert [client.get(DATA).status_code for _ in range(3)] == [200, 200, 200]
    refused = client.get(DATA)
    assert refused.status_code == 429
    # One request a 20 s at 3 a minute; a moment has passed since the bucket emptied.
    assert 19 <= int(refused.headers["retry-after"]) <= 20
    assert refused.json()["code"] == "too_many_requests"
    assert refused.headers["cache-control"] == "no-store"
    assert refused.headers["access-control-allow-origin"] == "*"
    page = client.get(PAGE)
    assert page.status_code == 429
    assert page.headers["content-type"].startswith("text/plain")
    # The limit is per address; the staff side has none of its own.
    assert make_public(example_ctx, address="198.51.100.9").get(DATA).status_code == 200
    assert client.get("/healthz").status_code == 200


def test_an_app_token_lifts_the_limit_and_an_invalid_one_is_refused(
    example_ctx: Context,
    example_root: Path,
    admin: Actor,
    make_public: Callable[..., TestClient],
) -> None:
    limit(example_root, example_ctx, admin, per_minute=2, with_token=6)
    app_token = tokens.create(example_ctx, admin, name="bus app", scopes=["portal:app:*"]).text
    client = make_public(example_ctx)

    header = {"X-App-Token": app_token}
    assert [client.get(DATA, headers=header).status_code for _ in range(6)] == [200] * 6
    assert client.get(DATA, headers=header).status_code == 429
    # The address's own allowance was not spent by the token's requests.
    assert client.get(DATA).status_code == 200
    # The check is cached: six requests, one lookup in the metadata store.
    assert middleware(client).tokens.lookups == 1

    for bad in ("cst_not-a-token-we-made-xxxxxxxxxx", "x" * 500):
        refused = client.get(DATA, headers={"X-App-Token": bad})
        assert refused.status_code == 403
        assert refused.json() == {
            "code": "invalid_app_token", "error": True,
            "message": "Invalid app_token specified",
        }  # fmt: skip


def test_the_app_token_parameter_works_and_never_reaches_the_route(
    example_ctx: Context, admin: Actor, public: TestClient
) -> None:
    app_token = tokens.create(example_ctx, admin, name="site", scopes=["portal:app:*"]).text

    seen = public.get(QUERY, params={"$limit": "5", "$$app_token": app_token})
    assert seen.status_code == 200
    assert seen.json() == {"query": "%24limit=5"}
    assert (
        public.get(QUERY, params={"$$app_token": "cst_wrong-xxxxxxxxxxxxxxxxxxxx"}).status_code
        == 403
    )


def test_only_a_portal_app_token_is_an_app_token(example_ctx: Context, admin: Actor) -> None:
    push = tokens.create(example_ctx, admin, name="push", scopes=["source:push:*"]).text
    with pytest.raises(InvalidInput, match="portal:app:\\*"):
        tokens.create(example_ctx, admin, name="one", scopes=["portal:app:service_requests"])
    assert not portal_access.app_token_valid(example_ctx, push)


# --- CORS and CSP ------------------------------------------------------------------------


@ON_SQLITE_ONLY
def test_the_open_data_api_is_readable_from_any_origin_but_portal_pages_are_not(
    public: TestClient,
) -> None:
    origin = {"Origin": "https://news.example.com"}
    for path in (DATA, STREAM, MISSING):
        answer = public.get(path, headers=origin)
        assert answer.headers["access-control-allow-origin"] == "*", path
        assert "access-control-allow-credentials" not in answer.headers
        assert "ETag" in answer.headers["access-control-expose-headers"]
    assert "access-control-allow-origin" not in public.get(PAGE, headers=origin).headers
    assert "access-control-allow-origin" not in public.get("/api/v1/plan", headers=origin).headers

    preflight = public.options(
        DATA,
        headers={**origin, "Access-Control-Request-Method": "GET",
                 "Access-Control-Request-Headers": "X-App-Token"},
    )  # fmt: skip
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-methods"] == "GET, HEAD, OPTIONS"
    assert "X-App-Token" in preflight.headers["access-control-allow-headers"]
    page_preflight = public.options(
        PAGE, headers={**origin, "Access-Control-Request-Method": "GET"}
    )
    assert "access-control-allow-origin" not in page_preflight.headers


@ON_SQLITE_ONLY
def test_public_answers_keep_the_strict_csp(public: TestClient) -> None:
    for path in (DATA, PAGE, STREAM, MISSING, "/portal"):
        csp = public.get(path).headers["content-security-policy"]
        assert "default-src 'self'" in csp, path
        assert "object-src 'none'" in csp, path
