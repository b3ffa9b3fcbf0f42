"""Shared by the open data feed tests: the example workspace with one dataset that is not
public (and a measure over it, not approved), ingested and served."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft4Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from civicstat.governance.actors import Actor
from civicstat.services import ingest
from civicstat.services import workspace as workspace_service
from civicstat.services.context import Context

INTERNAL_DATASET = "staff_notes"
INTERNAL_MEASURE = "staff-notes-received"
PUBLIC_DATASET = "service_requests"
MEASURE = "pct-requests-closed-on-time"


def add_internal_dataset(root: Path) -> None:
    """A copy of the 311 source classified internal, and a measure counting its rows."""
    spec = yaml.safe_load((root / "sources" / "service_requests.yaml").read_text())
    spec |= {"id": INTERNAL_DATASET, "title": "Staff notes", "classification": "internal"}
    spec.pop("catalog", None)
    (root / "sources" / f"{INTERNAL_DATASET}.yaml").write_text(yaml.safe_dump(spec))
    measure = {
        "id": INTERNAL_MEASURE,
        "title": "Staff notes received",
        "dataset": INTERNAL_DATASET,
        "kind": "count",
        "time": "created_at",
        "grain": "month",
    }
    (root / "measures" / f"{INTERNAL_MEASURE}.yaml").write_text(yaml.safe_dump(measure))


def publish_example(ctx: Context, root: Path, admin: Actor) -> Context:
    """Apply the example with the internal dataset, and ingest both sources."""
    add_internal_dataset(root)
    workspace_service.apply(ctx, admin)
    ingest.ingest(ctx, admin, PUBLIC_DATASET)
    ingest.ingest(ctx, admin, INTERNAL_DATASET)
    return ctx


def catalog_validator(folder: Path) -> Draft4Validator:
    """The non-federal v1.1 catalog schema, its $refs resolved from the folder (no network)."""
    schemas = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
    registry: Registry[Any] = Registry().with_resources(
        (s["id"].rstrip("#"), Resource.from_contents(s, default_specification=DRAFT4))
        for s in schemas
    )
    catalog = next(s for s in schemas if s["id"].endswith("/catalog.json#"))
    return Draft4Validator(catalog, registry=registry, format_checker=FormatChecker())
