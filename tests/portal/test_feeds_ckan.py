"""The CKAN action API subset, read by the unmodified ``ckanapi.RemoteCKAN`` client (which
uses requests, so the app runs on a real HTTP server)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import ckanapi
import pytest
import requests
import yaml
from feeds_helpers import (
    INTERNAL_DATASET,
    INTERNAL_MEASURE,
    MEASURE,
    PUBLIC_DATASET,
    publish_example,
)

import app_server
from civicstat.governance.actors import Actor
from civicstat.services import open_data
from civicstat.services.context import Context
from civicstat.settings import Settings
from civicstat.web.app import create_app


@pytest.fixture
def published(example_ctx: Context, example_root: Path, admin: Actor) -> Context:
    return publish_example(example_ctx, example_root, admin)


@pytest.fixture
def server(published: Context, database_url: str) -> Iterator[str]:
    """The app on a real HTTP server (uvicorn, in a thread)."""
    app = create_app(Settings(workspace=published.root, database_url=database_url), published)
    for address in app_server.serve(app):
        yield f"http://{address}"


@pytest.fixture
def ckan(server: str) -> Iterator[ckanapi.RemoteCKAN]:
    """The client as harvesters use it, with its defaults (POSTing JSON to /api/action)."""
    with ckanapi.RemoteCKAN(server) as client:
        yield client


def _expected_names(ctx: Context) -> list[str]:
    """Public datasets, and every example measure (all over the public dataset) but the
    one over the internal dataset."""
    datasets = [d.id for d in open_data.inventory(ctx) if d.access_level == "public"]
    ids = [yaml.safe_load(p.read_text())["id"] for p in (ctx.root / "measures").glob("*.yaml")]
    return sorted(datasets + [f"measure-{i}" for i in ids if i != INTERNAL_MEASURE])


def test_package_list(ckan: ckanapi.RemoteCKAN, published: Context) -> None:
    names = ckan.action.package_list()
    assert names == _expected_names(published)
    assert PUBLIC_DATASET in names
    assert f"measure-{MEASURE}" in names
    assert INTERNAL_DATASET not in names


def test_package_show(ckan: ckanapi.RemoteCKAN, published: Context) -> None:
    package = ckan.action.package_show(id=PUBLIC_DATASET)
    found = open_data.dataset(published, PUBLIC_DATASET)
    assert package["name"] == PUBLIC_DATASET
    assert package["title"] == found.title
    assert package["notes"] == found.description
    assert package["organization"]["name"] == "customer-service"
    assert package["organization"]["title"] == "311 Customer Service"
    assert [t["name"] for t in package["tags"]] == found.keywords
    assert package["license_url"] == found.license
    assert package["maintainer_email"] == "opendata@millbrook.example.org"
    formats = [r["format"] for r in package["resources"]]
    assert formats == ["CSV", "JSON", "PARQUET", "API"]
    assert package["num_resources"] == 4
    assert package["resources"][0]["url"].endswith(f"/portal/datasets/{PUBLIC_DATASET}/rows.csv")
    measure = ckan.action.package_show(id=f"measure-{MEASURE}")
    assert measure["groups"][0]["title"] == "Performance measures"
    assert measure["resources"][0]["url"].endswith(f"/portal/measures/{MEASURE}/data.csv")


@pytest.mark.parametrize(
    "missing", [INTERNAL_DATASET, "no_such_dataset", f"measure-{INTERNAL_MEASURE}"]
)
def test_package_show_answers_not_found_for_what_is_not_public(
    ckan: ckanapi.RemoteCKAN, server: str, missing: str
) -> None:
    with pytest.raises(ckanapi.NotFound):
        ckan.action.package_show(id=missing)
    # The very same answer for a dataset that is not public and one that does not exist.
    answers = {
        name: requests.get(f"{server}/api/3/action/package_show", params={"id": name}, timeout=10)
        for name in (missing, "no_such_dataset")
    }
    assert {a.status_code for a in answers.values()} == {404}
    assert answers[missing].json() == answers["no_such_dataset"].json()
    assert answers[missing].json()["error"]["__type"] == "Not Found Error"
    assert answers[missing].json()["success"] is False


def test_package_search(ckan: ckanapi.RemoteCKAN, published: Context) -> None:
    everything = ckan.action.package_search(rows=1000)
    assert everything["count"] == len(_expected_names(published))
    by_org = ckan.action.package_search(fq="organization:customer-service", rows=1000)
    assert {p["organization"]["name"] for p in by_org["results"]} == {"customer-service"}
    tagged = ckan.action.package_search(fq="tags:311")
    assert [p["name"] for p in tagged["results"]] == [PUBLIC_DATASET]
    both = ckan.action.package_search(q="potholes", fq="organization:customer-service tags:311")
    assert both["count"] == 1
    found = ckan.action.package_search(q="closed", rows=1000)
    assert f"measure-{MEASURE}" in [p["name"] for p in found["results"]]
    assert all("closed" in (p["title"] + p["notes"]).lower() or any(
        "closed" in t["name"] for t in p["tags"]) for p in found["results"])  # fmt: skip
    fielded = ckan.action.package_search(q="tags:311 potholes")
    assert [p["name"] for p in fielded["results"]] == [PUBLIC_DATASET]
    none = ckan.action.package_search(q="no-such-word-anywhere")
    assert none == none | {"count": 0, "results": []}


def test_package_search_pages_with_rows_and_start(ckan: ckanapi.RemoteCKAN) -> None:
    total = ckan.action.package_search(rows=0)["count"]
    seen: list[str] = []
    for start in range(0, total, 4):
        page = ckan.action.package_search(rows=4, start=start)
        assert page["count"] == total
        assert len(page["results"]) <= 4
        seen += [p["name"] for p in page["results"]]
    assert seen == sorted(seen)
    assert len(set(seen)) == total


def test_package_search_facets(ckan: ckanapi.RemoteCKAN) -> None:
    found = ckan.action.package_search(**{"facet.field": ["organization", "tags"], "rows": 0})
    assert found["facets"]["tags"]["311"] == 1
    assert found["facets"]["organization"]["customer-service"] == found["count"]
    items = found["search_facets"]["organization"]["items"]
    assert items == [
        {"name": "customer-service", "display_name": "customer-service", "count": found["count"]}
    ]


def test_a_query_it_cannot_read_is_a_search_query_error(ckan: ckanapi.RemoteCKAN) -> None:
    with pytest.raises(ckanapi.SearchQueryError):
        ckan.action.package_search(fq="maintainer_email:someone")
    with pytest.raises(ckanapi.ValidationError):
        ckan.action.package_search(rows="many")


def test_organization_list(ckan: ckanapi.RemoteCKAN) -> None:
    assert ckan.action.organization_list() == ["customer-service"]
    orgs = ckan.action.organization_list(all_fields=True)
    assert [(o["name"], o["title"], o["is_organization"]) for o in orgs] == [
        ("customer-service", "311 Customer Service", True)
    ]
    assert orgs[0]["package_count"] == ckan.action.package_search(rows=0)["count"]


def test_the_versioned_path_with_get_only(server: str, published: Context) -> None:
    """Harvesters also call /api/3/action with GET and query parameters."""
    with ckanapi.RemoteCKAN(server, get_only=True) as client:
        client.base_url = "api/3/action/"  # an instance setting: the class's default is api/action/
        assert client.action.package_list() == _expected_names(published)
        assert client.action.package_show(id=PUBLIC_DATASET)["name"] == PUBLIC_DATASET
        found = client.action.package_search(
            q="potholes",
            fq="tags:311",
            rows=5,
            start=0,
            **{"facet.field": ["organization", "tags"]},
        )
        assert [p["name"] for p in found["results"]] == [PUBLIC_DATASET]
        assert found["facets"]["organization"] == {"customer-service": 1}
        assert client.action.organization_list(all_fields="true")[0]["name"] == "customer-service"
        with pytest.raises(ckanapi.NotFound):
            client.action.package_show(id=INTERNAL_DATASET)


def test_a_body_that_is_not_a_json_object_is_refused(server: str) -> None:
    answer = requests.post(f"{server}/api/3/action/package_list", data="[1, 2]", timeout=10)
    assert answer.status_code == 400
    assert answer.json()["success"] is False
    assert answer.json()["error"]["__type"] == "Validation Error"


def test_an_incremental_harvest_asks_for_what_changed_since(
    ckan: ckanapi.RemoteCKAN, published: Context
) -> None:
    """CKAN harvesters ask for packages modified since their last run, newest first."""
    everything = ckan.action.package_search(rows=1000, sort="metadata_modified desc")["results"]
    stamps = [p["metadata_modified"] for p in everything]
    assert stamps == sorted(stamps, reverse=True)
    middle = sorted(stamps)[len(stamps) // 2]
    since = ckan.action.package_search(
        fq=f"metadata_modified:[{middle}Z TO *]",
        rows=1000,
        sort="score desc, metadata_modified desc",
    )
    assert since["count"] == sum(1 for s in stamps if s >= middle)
    future = ckan.action.package_search(fq="metadata_modified:[2999-01-01T00:00:00Z TO NOW]")
    assert future["count"] == 0
    with pytest.raises(ckanapi.SearchQueryError):
        ckan.action.package_search(fq="metadata_modified:[yesterday TO *]")


def test_every_answer_links_to_help_on_its_action(server: str) -> None:
    answer = requests.get(f"{server}/api/3/action/package_search", params={"rows": 0}, timeout=10)
    help_answer = requests.get(answer.json()["help"], timeout=10).json()
    assert help_answer["success"] is True
    assert "Search" in help_answer["result"]
    every = requests.get(f"{server}/api/3/action/help_show", timeout=10).json()["result"]
    assert set(every) == {
        "package_list", "package_show", "package_search", "organization_list", "help_show"
    }  # fmt: skip
