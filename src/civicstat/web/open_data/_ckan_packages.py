"""The public catalog as CKAN describes it (package and organization dicts), and CKAN's
``package_search``: ``q`` words, ``fq`` filters (``organization:``, ``tags:``,
``groups:``, ``res_format:``, ``name:``, ``license_id:``), sorting and facets."""

from __future__ import annotations

import datetime as dt
import re
import shlex
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from civicstat.services.open_data import PublicDataset
from civicstat.services.open_feeds import Portal, PublishedMeasure
from civicstat.web.open_data._feeds import PERFORMANCE_THEME, Links

MEASURE_PREFIX = "measure-"
TIMES = {
    "metadata_modified",
    "metadata_created",
}  # filtered by a range: [2025-01-01T00:00:00Z TO *]
FACETS = {"organization", "owner_org", "tags", "groups", "res_format", "name", "license_id"}
FILTERS = FACETS | TIMES
SORTS = {"id", "name", "title_string", "metadata_modified", "metadata_created", "score"}
_FQ = re.compile(r'(-?)([A-Za-z_]+):(\[[^\]]*\]|"[^"]*"|\S+)')


class SearchQueryError(ValueError):
    """A ``q``, ``fq`` or ``sort`` this subset does not understand (CKAN: 409)."""


@dataclass(frozen=True)
class Organization:
    name: str
    title: str


def organization(found: Organization, count: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": found.name,
        "name": found.name,
        "title": found.title,
        "display_name": found.title,
        "description": "",
        "image_url": "",
        "type": "organization",
        "is_organization": True,
        "state": "active",
        "approval_status": "approved",
    }
    return out | ({"package_count": count} if count is not None else {})


def dataset_package(site: Portal, links: Links, found: PublicDataset) -> dict[str, Any]:
    resources = [
        _resource(found.id, f"{found.id}-{ext}", ext.upper(), links.download(found.id, ext), mime)
        for ext, mime in (("csv", "text/csv"), ("json", "application/json"),
                          ("parquet", "application/vnd.apache.parquet"))
    ]  # fmt: skip
    resources.append(
        _resource(found.id, f"{found.id}-api", "API", links.soda(found.id), "application/json")
    )
    contact = found.contact or site.contact
    extras = {
        "accrual_periodicity": found.accrual_periodicity,
        "frequency": str(found.frequency),
        "access_level": "public",
        "data_dictionary": links.datapackage(found.id),
        "row_count": str(found.row_count),
    }
    return _package(
        name=found.id,
        title=found.title,
        notes=found.description or "",
        url=links.dataset_page(found.id),
        license=found.license,
        maintainer=(contact.name, contact.email) if contact else None,
        author=site.publisher,
        created=found.issued or found.modified or site.applied_at,
        modified=found.modified or site.applied_at,
        org=Organization(found.department, found.department_title),
        tags=found.keywords,
        groups=found.themes,
        resources=resources,
        extras=extras,
    )


def measure_package(site: Portal, links: Links, found: PublishedMeasure) -> dict[str, Any]:
    name = MEASURE_PREFIX + found.id
    resources = [
        _resource(name, f"{name}-{ext}", ext.upper(), links.measure_data(found.id, ext), mime)
        for ext, mime in (("csv", "text/csv"), ("json", "application/json"))
    ]
    extras = {
        "measure_kind": found.kind,
        "unit": found.unit,
        "grain": found.grain,
        "definition_hash": found.definition_hash,
        "definition": found.in_words,
    }
    org = (
        Organization(found.department, found.department_title or found.department)
        if found.department
        else None
    )
    modified = found.computed_at or site.applied_at
    return _package(
        name=name,
        title=found.title,
        notes=found.description or found.in_words,
        url=links.measure_page(found.id),
        license=site.license,
        maintainer=(site.contact.name, site.contact.email) if site.contact else None,
        author=site.publisher,
        created=modified,
        modified=modified,
        org=org,
        tags=["performance measures", found.kind],
        groups=[PERFORMANCE_THEME],
        resources=resources,
        extras=extras,
    )


def _package(
    *,
    name: str,
    title: str,
    notes: str,
    url: str,
    license: str | None,
    maintainer: tuple[str, str] | None,
    author: str,
    created: dt.datetime,
    modified: dt.datetime,
    org: Organization | None,
    tags: Sequence[str],
    groups: Sequence[str],
    resources: list[dict[str, Any]],
    extras: dict[str, str],
) -> dict[str, Any]:
    unique_tags = list(dict.fromkeys(tags))
    return {
        "id": name,
        "name": name,
        "title": title,
        "notes": notes,
        "type": "dataset",
        "state": "active",
        "private": False,
        "url": url,
        "license_id": license,
        "license_title": license,
        "license_url": license,
        "author": author,
        "maintainer": maintainer[0] if maintainer else None,
        "maintainer_email": maintainer[1] if maintainer else None,
        "metadata_created": _ckan_time(created),
        "metadata_modified": _ckan_time(modified),
        "owner_org": org.name if org else None,
        "organization": organization(org) if org else None,
        "tags": [{"name": t, "display_name": t, "state": "active"} for t in unique_tags],
        "num_tags": len(unique_tags),
        "groups": [
            {"name": _slug(g), "title": g, "display_name": g} for g in dict.fromkeys(groups)
        ],
        "resources": [r | {"position": i} for i, r in enumerate(resources)],
        "num_resources": len(resources),
        "extras": [{"key": k, "value": v} for k, v in extras.items()],
    }


def _resource(package: str, id_: str, fmt: str, url: str, mimetype: str) -> dict[str, Any]:
    return {
        "id": id_,
        "package_id": package,
        "name": f"{package} ({fmt})",
        "format": fmt,
        "mimetype": mimetype,
        "url": url,
        "state": "active",
        "url_type": None,
    }


def search(
    packages: list[dict[str, Any]], q: str, fq: str, sort: str | None
) -> list[dict[str, Any]]:
    """The packages matching every word of ``q`` and every filter of ``fq``, sorted; a
    word of ``q`` written ``field:value`` (``tags:311``) is a filter, as in Solr."""
    words, filters = [], _filters(fq)
    for word in _words(q):
        fielded = _FQ.fullmatch(word)
        if fielded and fielded.group(2) in FILTERS:
            filters += _filters(word)
        else:
            words.append(word)
    found = [
        p
        for p in packages
        if all(w in _text(p) for w in words)
        and all(_matches(p, field, value) is not negate for negate, field, value in filters)
    ]
    return _sorted(found, sort)


def facets(
    packages: list[dict[str, Any]], fields: Sequence[str], limit: int
) -> dict[str, Counter[str]]:
    out: dict[str, Counter[str]] = {}
    for field in fields:
        if field not in FACETS:
            raise SearchQueryError(f"cannot facet on {field!r}")
        counts: Counter[str] = Counter()
        for package in packages:
            counts.update(set(_values(package, field)))
        out[field] = Counter(dict(counts.most_common(limit)))
    return out


def _words(q: str) -> list[str]:
    text = q.strip()
    if text in ("", "*:*"):
        return []
    try:
        return [w.lower() for w in shlex.split(text) if w not in ("AND", "&&")]
    except ValueError as error:
        raise SearchQueryError("unbalanced quotes in q") from error


def _filters(fq: str) -> list[tuple[bool, str, str]]:
    out = []
    rest = _FQ.sub(" ", fq).replace("AND", " ").replace("+", " ").strip()
    if rest:
        raise SearchQueryError("fq understands field:value filters joined by spaces or AND")
    for negate, field, value in _FQ.findall(fq):
        if field not in FILTERS:
            raise SearchQueryError(f"cannot filter on {field!r}")
        out.append((negate == "-", field, value.strip('"')))
    return out


def _values(package: dict[str, Any], field: str) -> list[str]:
    if field in ("organization", "owner_org"):
        return [package["owner_org"]] if package["owner_org"] else []
    if field == "tags":
        return [t["name"] for t in package["tags"]]
    if field == "groups":
        return [g["name"] for g in package["groups"]]
    if field == "res_format":
        return [r["format"] for r in package["resources"]]
    return [package[field]] if package.get(field) else []


def _matches(package: dict[str, Any], field: str, value: str) -> bool:
    if field in TIMES:
        return _in_range(package[field], value)
    return value.lower() in (v.lower() for v in _values(package, field))


def _in_range(stamp: str, value: str) -> bool:
    """Whether a CKAN time is in a Solr range ``[from TO to]`` (``*``: open, ``NOW``)."""
    low, sep, high = value.strip("[]").partition(" TO ")
    if not sep:
        raise SearchQueryError("a time filter is a range: [2025-01-01T00:00:00Z TO *]")
    at = dt.datetime.fromisoformat(stamp)
    return _bound(low, at) <= at <= _bound(high, at)


def _bound(text: str, open_end: dt.datetime) -> dt.datetime:
    text = text.strip()
    if text == "*":
        return open_end
    if text.startswith("NOW"):
        return dt.datetime.now(dt.UTC).replace(tzinfo=None)
    try:
        found = dt.datetime.fromisoformat(text.removesuffix("Z"))
    except ValueError:
        raise SearchQueryError("a range bound is an ISO 8601 time, * or NOW") from None
    return found.astimezone(dt.UTC).replace(tzinfo=None) if found.tzinfo else found


def _text(package: dict[str, Any]) -> str:
    parts = [package["name"], package["title"], package["notes"] or ""]
    parts += [t["name"] for t in package["tags"]] + [g["title"] for g in package["groups"]]
    if package["organization"]:
        parts.append(package["organization"]["title"])
    return " ".join(parts).lower()


def _sorted(packages: list[dict[str, Any]], sort: str | None) -> list[dict[str, Any]]:
    """Sorted by name, then by each key of ``sort`` (``metadata_modified desc, name asc``);
    ``score`` (relevance) is not ranked here, so it keeps the order."""
    found = sorted(packages, key=lambda p: p["name"])
    for part in reversed((sort or "").split(",")):
        field, _, direction = part.strip().partition(" ")
        if not field:
            continue
        if field not in SORTS or direction.strip() not in ("", "asc", "desc"):
            raise SearchQueryError("sort: id, name, title_string, metadata_modified or "
                                   "metadata_created, then asc or desc")  # fmt: skip
        if field != "score":
            key = "title" if field == "title_string" else field
            found.sort(key=itemgetter(key), reverse=direction.strip() == "desc")
    return found


def _ckan_time(value: dt.datetime) -> str:
    """CKAN's timestamps: UTC, with no zone suffix."""
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.isoformat(timespec="microseconds")


def _slug(text: str) -> str:
    return "-".join(re.findall(r"[a-z0-9]+", text.lower())) or "group"
