"""``/data.json``: the inventory as a DCAT-US v1.1 catalog (Project Open Data), the file
that data.gov and state portals harvest. Public datasets come with their downloads;
datasets that are not public are listed as "non-public" with no download and a reason
(as the schema allows); publishable measures are datasets of their own."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from civicstat.services import open_data, open_feeds
from civicstat.services.open_data import ListedDataset, PublicDataset
from civicstat.services.open_feeds import Portal, PublishedMeasure
from civicstat.spec.models import Contact
from civicstat.web.deps import Ctx
from civicstat.web.open_data._feeds import PERFORMANCE_THEME, Links, iso, json_answer

router = APIRouter(tags=["DCAT-US"])

SCHEMA = "https://project-open-data.cio.gov/v1.1/schema"
CONTEXT = f"{SCHEMA}/catalog.jsonld"
NON_PUBLIC_RIGHTS = (
    "Not published: the city classifies this dataset above public (it holds internal, "
    "confidential or personal information). Ask the contact about access."
)
# DCAT-US's pattern for contactPoint.hasEmail.
_MAILTO = re.compile(r"^mailto:[\w\_\~\!\$\&\'\(\)\*\+\,\;\=\:.-]+@[\w.-]+\.[\w.-]+?$")
MEDIA_TYPES = {
    "csv": "text/csv",
    "json": "application/json",
    "parquet": "application/vnd.apache.parquet",
}


@router.get("/data.json", summary="DCAT-US v1.1 catalog (data.json)")
def data_json(request: Request, ctx: Ctx) -> Response:
    """Every dataset of the inventory and every published measure, as DCAT-US v1.1."""
    site = open_feeds.portal(ctx)
    public = {d.id: d for d in open_data.catalog(ctx)}
    listed = open_data.inventory(ctx)
    measures = open_feeds.published_measures(ctx)
    links = Links.of(request, site)
    entries = [
        _public(site, links, public[d.id]) if d.id in public else _non_public(site, links, d)
        for d in listed
    ]
    entries += [_measure(site, links, m) for m in measures]
    body = {
        "@context": CONTEXT,
        "@id": links.at("/data.json"),
        "@type": "dcat:Catalog",
        "conformsTo": SCHEMA,
        "describedBy": f"{SCHEMA}/catalog.json",
        "dataset": entries,
    }
    found = open_feeds.stamp(site, public.values(), measures)
    return json_answer(body, found)


def keywords(keywords: list[str], themes: list[str], department_title: str) -> list[str]:
    """At least one keyword (DCAT-US wants one): the themes, else the department."""
    return list(keywords) or list(themes) or [department_title]


def publisher(site: Portal, department_title: str | None) -> dict[str, Any]:
    city = {"@type": "org:Organization", "name": site.publisher}
    if not department_title or department_title == site.publisher:
        return city
    return {"@type": "org:Organization", "name": department_title, "subOrganizationOf": city}


def contact_point(site: Portal, contact: Contact | None) -> dict[str, str]:
    found = contact or site.contact
    if found is None:
        return {"@type": "vcard:Contact", "fn": site.publisher}
    point = {"@type": "vcard:Contact", "fn": found.name}
    if _MAILTO.match(f"mailto:{found.email}"):
        point["hasEmail"] = f"mailto:{found.email}"
    return point


def _common(site: Portal, links: Links, listed: ListedDataset | PublicDataset) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "@type": "dcat:Dataset",
        "title": listed.title,
        "description": listed.description or listed.title,
        "keyword": keywords(listed.keywords, listed.themes, listed.department_title),
        "modified": iso(listed.modified.replace(microsecond=0) if listed.modified else None)
        or iso(site.applied_at.replace(microsecond=0)),
        "publisher": publisher(site, listed.department_title),
        "identifier": links.dataset_page(listed.id),
    }
    if listed.themes:
        entry["theme"] = list(dict.fromkeys(listed.themes))
    return entry


def _non_public(site: Portal, links: Links, listed: ListedDataset) -> dict[str, Any]:
    return _common(site, links, listed) | {
        "contactPoint": contact_point(site, None),
        "accessLevel": "non-public",
        "rights": NON_PUBLIC_RIGHTS,
    }


def _public(site: Portal, links: Links, found: PublicDataset) -> dict[str, Any]:
    dictionary = links.datapackage(found.id)
    distributions: list[dict[str, Any]] = [
        {
            "@type": "dcat:Distribution",
            "title": f"{found.title} ({extension.upper()})",
            "downloadURL": links.download(found.id, extension),
            "mediaType": media_type,
            "format": extension.upper(),
            "describedBy": dictionary,
            "describedByType": "application/json",
        }
        for extension, media_type in MEDIA_TYPES.items()
    ]
    distributions.append(
        {
            "@type": "dcat:Distribution",
            "title": f"{found.title} (SODA API)",
            "description": "Query the rows with Socrata's SODA API: $select, $where, $order, "
            "$limit and $offset.",
            "accessURL": links.soda(found.id),
            "format": "API",
            "describedBy": dictionary,
            "describedByType": "application/json",
        }
    )
    entry = _common(site, links, found) | {
        "contactPoint": contact_point(site, found.contact),
        "accessLevel": "public",
        "landingPage": links.dataset_page(found.id),
        "accrualPeriodicity": found.accrual_periodicity,
        "describedBy": dictionary,
        "describedByType": "application/json",
        "distribution": distributions,
    }
    if found.issued is not None:
        entry["issued"] = iso(found.issued.replace(microsecond=0))
    if found.license:
        entry["license"] = found.license
    return entry


def _measure(site: Portal, links: Links, measure: PublishedMeasure) -> dict[str, Any]:
    definition = links.measure_data(measure.id, "json")
    modified = measure.computed_at or site.applied_at
    department = measure.department_title or site.publisher
    entry: dict[str, Any] = {
        "@type": "dcat:Dataset",
        "title": measure.title,
        "description": measure.description or measure.in_words,
        "keyword": ["performance measures", measure.kind, department],
        "modified": iso(modified.replace(microsecond=0)),
        "publisher": publisher(site, measure.department_title),
        "contactPoint": contact_point(site, None),
        "identifier": links.measure_page(measure.id),
        "accessLevel": "public",
        "landingPage": links.measure_page(measure.id),
        "theme": [PERFORMANCE_THEME],
        "describedBy": definition,
        "describedByType": "application/json",
        "distribution": [
            {
                "@type": "dcat:Distribution",
                "title": f"{measure.title} ({extension.upper()})",
                "downloadURL": links.measure_data(measure.id, extension),
                "mediaType": MEDIA_TYPES[extension],
                "format": extension.upper(),
                "describedBy": definition,
                "describedByType": "application/json",
            }
            for extension in ("csv", "json")
        ],
    }
    if site.license:
        entry["license"] = site.license
    if measure.first_day and measure.last_day:
        entry["temporal"] = f"{measure.first_day.isoformat()}/{measure.last_day.isoformat()}"
    return entry
