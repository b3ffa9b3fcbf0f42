"""Searching the public catalog as the portal's dataset list does: full text over each
dataset's title, description, keywords, themes and columns (names and descriptions), and
facets with counts (department, keyword, theme, classification, update frequency).

Every word of the query must appear (case-insensitive, anywhere in those texts); a facet
filter keeps datasets with that value. The counts are those of the datasets found.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from pydantic import BaseModel

from civicstat.services import open_data
from civicstat.services.context import Context
from civicstat.services.open_data import PublicDataset

FACETS = ("department", "keyword", "theme", "classification", "frequency")
CLASSIFICATION = "public"  # the only one the public catalog holds


class FacetValue(BaseModel):
    value: str
    label: str
    count: int
    selected: bool


class Facet(BaseModel):
    name: str  # the query parameter
    values: list[FacetValue]


class CatalogSearch(BaseModel):
    query: str
    filters: dict[str, str]
    total: int  # public datasets in the catalog
    found: list[PublicDataset]
    facets: list[Facet]


@dataclass(frozen=True)
class Filters:
    department: str = ""
    keyword: str = ""
    theme: str = ""
    classification: str = ""
    frequency: str = ""

    def as_dict(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in FACETS if getattr(self, name)}


def search(ctx: Context, query: str = "", filters: Filters | None = None) -> CatalogSearch:
    """The public datasets matching the query and the facet filters, with facet counts."""
    wanted = filters or Filters()
    every = open_data.catalog(ctx)
    terms = query.lower().split()
    found = [
        d
        for d in every
        if all(t in _text(d) for t in terms)
        and all(value in _values(d, name) for name, value in wanted.as_dict().items())
    ]
    return CatalogSearch(
        query=query,
        filters=wanted.as_dict(),
        total=len(every),
        found=found,
        facets=[_facet(name, found, every, wanted) for name in FACETS],
    )


def _text(d: PublicDataset) -> str:
    parts = [d.id, d.title, d.description or "", d.department_title, *d.keywords, *d.themes]
    for c in d.columns:
        parts += [c.name, c.description or ""]
    return "\n".join(parts).lower()


def _values(d: PublicDataset, name: str) -> list[str]:
    if name == "department":
        return [d.department]
    if name == "keyword":
        return list(d.keywords)
    if name == "theme":
        return list(d.themes)
    if name == "classification":
        return [CLASSIFICATION]
    return [str(d.frequency)]


def _label(every: list[PublicDataset], name: str, value: str) -> str:
    if name == "department":
        return next((d.department_title for d in every if d.department == value), value)
    return value.capitalize() if name in ("classification", "frequency") else value


def _facet(
    name: str, found: list[PublicDataset], every: list[PublicDataset], wanted: Filters
) -> Facet:
    counts = Counter(v for d in found for v in set(_values(d, name)))
    chosen = getattr(wanted, name)
    if chosen and chosen not in counts:
        counts[chosen] = 0  # a filter that finds nothing still shows, to be removed
    values = [
        FacetValue(value=v, label=_label(every, name, v), count=n, selected=v == chosen)
        for v, n in sorted(counts.items(), key=lambda vn: (-vn[1], vn[0].lower()))
    ]
    return Facet(name=name, values=values)
