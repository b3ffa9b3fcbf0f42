"""Each published measure as an open dataset: its whole series (every period and slice,
small cells suppressed and marked) as CSV and as JSON with its definition."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from civicstat.services import open_feeds
from civicstat.services.open_feeds import PublishedMeasure
from civicstat.services.public import PublicSeries, public_series
from civicstat.web.deps import Ctx
from civicstat.web.downloads import Cell, to_csv
from civicstat.web.open_data._feeds import Links, iso, json_answer, validators

router = APIRouter(tags=["Measures"])

# The series' columns and their Table Schema types (see ``datapackage``).
COLUMNS: list[tuple[str, str, str]] = [
    ("period_start", "date", "First day of the period"),
    ("period_end", "date", "First day after the period (the period ends before it)"),
    ("slice", "string", "Empty for the whole; else the breakdown, as dimension=value"),
    ("value", "number", "The measure's value; empty when suppressed or not computable"),
    ("numerator", "number", "What was counted (share and rate measures); empty if suppressed"),
    ("denominator", "number", "What it was counted out of; empty if suppressed"),
    ("n", "integer", "Rows behind the value; empty if suppressed"),
    ("suppressed", "boolean", "true: a small cell, withheld so that no one can be singled out"),
]


@router.get("/portal/measures/{measure_id}/data.csv", summary="A published measure's series (CSV)")
def measure_csv(measure_id: str, ctx: Ctx) -> Response:
    """Every period and slice of a published measure; small cells are empty and marked."""
    measure, series = _read(ctx, measure_id)
    headers = validators(open_feeds.stamp(open_feeds.portal(ctx), measures=[measure]))
    headers["Content-Disposition"] = f'attachment; filename="{measure.id}.csv"'
    return Response(
        to_csv([c[0] for c in COLUMNS], rows(series)),
        media_type="text/csv; charset=utf-8",
        headers=headers,
    )


@router.get(
    "/portal/measures/{measure_id}/data.json", summary="A published measure's series (JSON)"
)
def measure_json(measure_id: str, request: Request, ctx: Ctx) -> Response:
    """The series with the measure's definition: what it counts, from which datasets."""
    measure, series = _read(ctx, measure_id)
    site = open_feeds.portal(ctx)
    links = Links.of(request, site)
    body = {
        "measure": definition(measure, links) | {"suppression_threshold": series.k},
        "columns": [{"name": n, "type": t, "description": d} for n, t, d in COLUMNS],
        "data": [p.model_dump(mode="json") for p in series.points],
    }
    return json_answer(body, open_feeds.stamp(site, measures=[measure]))


def definition(measure: PublishedMeasure, links: Links) -> dict[str, Any]:
    """What a measure is, for the open data consumer."""
    return {
        "id": measure.id,
        "title": measure.title,
        "description": measure.description,
        "kind": measure.kind,
        "method": measure.method,
        "unit": measure.unit,
        "grain": measure.grain,
        "in_words": measure.in_words,
        "definition": dict(measure.definition),
        "definition_hash": measure.definition_hash,
        "department": measure.department,
        "department_title": measure.department_title,
        "datasets": [
            {"id": d.id, "title": d.title} | ({"url": links.dataset_page(d.id)} if d.public else {})
            for d in measure.datasets
        ],
        "computed_at": iso(measure.computed_at),
        "first_day": iso(measure.first_day),
        "last_day": iso(measure.last_day),
        "page": links.measure_page(measure.id),
    }


def rows(series: PublicSeries) -> list[list[Cell]]:
    return [
        [
            p.period_start.isoformat(),
            p.period_end.isoformat(),
            p.slice,
            p.value,
            p.numerator,
            p.denominator,
            p.n,
            p.suppressed,
        ]
        for p in series.points
    ]


def _read(ctx: Ctx, measure_id: str) -> tuple[PublishedMeasure, PublicSeries]:
    measure = open_feeds.published_measure(ctx, measure_id)  # NotFound unless publishable
    return measure, public_series(ctx, measure_id)
