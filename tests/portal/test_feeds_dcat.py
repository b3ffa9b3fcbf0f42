"""``/data.json``: the inventory as DCAT-US v1.1, valid against the non-federal schema in
../shared/data/dcat-us-schema, and harvestable the way the real catalogs there are."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from fastapi.testclient import TestClient
from feeds_helpers import (
    INTERNAL_DATASET,
    INTERNAL_MEASURE,
    MEASURE,
    PUBLIC_DATASET,
    catalog_validator,
    publish_example,
)

from civicstat.governance.actors import Actor
from civicstat.services import open_data
from civicstat.services import workspace as workspace_service
from civicstat.services.context import Context
from civicstat.services.public import public_series


@pytest.fixture
def published(example_ctx: Context, example_root: Path, admin: Actor) -> Context:
    return publish_example(example_ctx, example_root, admin)


@pytest.fixture
def client(published: Context, make_client: Callable[[Context], TestClient]) -> TestClient:
    return make_client(published)


@pytest.fixture
def dcat_folder(shared_data: Path) -> Path:
    return shared_data / "dcat-us-schema"


@dataclass(frozen=True)
class Harvested:
    identifier: str
    title: str
    access_level: str
    download_url: str | None
    access_url: str | None
    media_type: str | None


def harvest(catalog: dict[str, Any]) -> Iterator[Harvested]:
    """What a data.json harvester takes from a catalog: each dataset's distributions (a
    dataset without any still counts, as data.gov lists non-public ones)."""
    assert catalog["conformsTo"] == "https://project-open-data.cio.gov/v1.1/schema"
    for dataset in catalog["dataset"]:
        distributions = dataset.get("distribution") or [{}]
        for d in distributions:
            yield Harvested(
                identifier=dataset["identifier"],
                title=dataset["title"],
                access_level=dataset["accessLevel"],
                download_url=d.get("downloadURL"),
                access_url=d.get("accessURL"),
                media_type=d.get("mediaType"),
            )


def test_the_shared_examples_validate_and_harvest(dcat_folder: Path) -> None:
    """The validator and the harvester, on the real catalogs they are written for."""
    validator = catalog_validator(dcat_folder / "non-federal-v1.1")
    for path in sorted((dcat_folder / "examples").glob("*.json")):
        catalog = json.loads(path.read_text())
        assert list(validator.iter_errors(catalog)) == [], path.name
        found = list(harvest(catalog))
        assert found, path.name
        assert all(h.download_url or h.access_url for h in found), path.name
        assert all(h.media_type for h in found if h.download_url), path.name
    broken = {"conformsTo": "https://project-open-data.cio.gov/v1.1/schema", "dataset": [{}]}
    assert not validator.is_valid(broken)


def test_data_json_is_valid_dcat_us(client: TestClient, dcat_folder: Path) -> None:
    response = client.get("/data.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    catalog = response.json()
    errors = [
        e.message for e in catalog_validator(dcat_folder / "non-federal-v1.1").iter_errors(catalog)
    ]
    assert errors == []
    assert catalog["@type"] == "dcat:Catalog"
    assert catalog["@context"] == "https://project-open-data.cio.gov/v1.1/schema/catalog.jsonld"
    for dataset in catalog["dataset"]:
        # The fields DCAT-US requires, and a keyword, a modified date, absolute identifiers.
        assert dataset["keyword"]
        assert dataset["modified"]
        assert dataset["publisher"]["name"]
        assert dataset["contactPoint"]["fn"]
        assert urlsplit(dataset["identifier"]).scheme == "http"


def test_every_dataset_of_the_inventory_is_listed_and_only_public_ones_download(
    client: TestClient, published: Context
) -> None:
    entries = {
        d["identifier"].rsplit("/", 1)[-1]: d for d in client.get("/data.json").json()["dataset"]
    }
    inventory = {d.id: d.access_level for d in open_data.inventory(published)}
    assert inventory == {PUBLIC_DATASET: "public", INTERNAL_DATASET: "non-public"}
    for dataset_id, level in inventory.items():
        assert entries[dataset_id]["accessLevel"] == level
    hidden = entries[INTERNAL_DATASET]
    assert "distribution" not in hidden
    assert "landingPage" not in hidden
    assert hidden["rights"]
    assert len(hidden["rights"]) <= 255
    assert "created_at" not in json.dumps(hidden)  # no column, no number of the dataset
    shown = entries[PUBLIC_DATASET]
    assert shown["keyword"] == ["311", "service requests", "potholes"]
    assert shown["theme"] == ["City Services"]
    assert shown["accrualPeriodicity"] == "R/P1D"
    assert shown["license"] == "https://creativecommons.org/publicdomain/zero/1.0/"
    assert shown["contactPoint"]["hasEmail"] == "mailto:opendata@millbrook.example.org"
    assert shown["publisher"]["subOrganizationOf"]["name"] == "Town of Millbrook"
    formats = {d.get("mediaType") or d["format"] for d in shown["distribution"]}
    assert formats == {"text/csv", "application/json", "application/vnd.apache.parquet", "API"}
    # Published measures are datasets too, under their own theme; a measure over data that
    # is not public, and not approved, is not.
    assert entries[MEASURE]["theme"] == ["Performance measures"]
    points = public_series(published, MEASURE).points
    first = min(p.period_start for p in points)
    last = max(p.period_end for p in points) - dt.timedelta(days=1)
    assert entries[MEASURE]["temporal"] == f"{first.isoformat()}/{last.isoformat()}"
    assert INTERNAL_MEASURE not in entries


def test_a_harvester_downloads_every_distribution(client: TestClient) -> None:
    catalog = client.get("/data.json").json()
    found = list(harvest(catalog))
    assert any(h.access_level == "non-public" and h.download_url is None for h in found)
    downloads = [h for h in found if h.download_url]
    assert len(downloads) >= 4
    for h in downloads:
        assert h.download_url is not None
        assert h.media_type is not None
        response = client.get(urlsplit(h.download_url).path)
        assert response.status_code == 200, h.download_url
        assert response.headers["content-type"].split(";")[0] == h.media_type, h.download_url
        assert response.content
    for h in found:
        if h.access_url:
            assert client.get(urlsplit(h.access_url).path).status_code == 200, h.access_url


def test_links_use_the_portal_address_when_set(
    published: Context,
    example_root: Path,
    admin: Actor,
    make_client: Callable[[Context], TestClient],
) -> None:
    path = example_root / "civicstat.yaml"
    spec = yaml.safe_load(path.read_text())
    spec["portal"]["url"] = "https://data.millbrook.example.org/"
    path.write_text(yaml.safe_dump(spec))
    workspace_service.apply(published, admin)
    catalog = make_client(published).get("/data.json").json()
    assert catalog["@id"] == "https://data.millbrook.example.org/data.json"
    for dataset in catalog["dataset"]:
        assert dataset["identifier"].startswith("https://data.millbrook.example.org/portal/")


def test_data_json_carries_its_validators(client: TestClient, published: Context) -> None:
    response = client.get("/data.json")
    etag = response.headers["etag"]
    assert etag.startswith('"')
    assert etag.endswith('"')
    assert response.headers["last-modified"].endswith(" GMT")
    assert "public" in response.headers["cache-control"]
    assert client.get("/data.json").headers["etag"] == etag  # stable while nothing changes


def test_a_switched_off_portal_publishes_no_catalog(
    published: Context,
    example_root: Path,
    admin: Actor,
    make_client: Callable[[Context], TestClient],
) -> None:
    path = example_root / "civicstat.yaml"
    spec = yaml.safe_load(path.read_text())
    spec["portal"]["enabled"] = False
    path.write_text(yaml.safe_dump(spec))
    workspace_service.apply(published, admin)
    client = make_client(published)
    for route in ("/data.json", "/datapackage.json", f"/portal/measures/{MEASURE}/data.csv"):
        assert client.get(route).status_code == 404, route
    listed = client.get("/api/3/action/package_list")
    assert listed.status_code == 404
    assert listed.json()["error"]["__type"] == "Not Found Error"
