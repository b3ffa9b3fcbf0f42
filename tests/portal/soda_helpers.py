"""The example workspace with what the SODA tests need besides its 311 requests: a public
``places`` dataset holding personal data (a name left out, an address generalised),
coordinates, numbers and cells a spreadsheet would run; an internal ``staff_notes`` one;
and the app on a real HTTP server."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import yaml

import app_server
from civicstat.governance.actors import Actor
from civicstat.services import ingest
from civicstat.services import workspace as workspace_service
from civicstat.services.context import Context
from civicstat.settings import Settings
from civicstat.web.app import create_app

SECRET_NAME = "Zq9Secretname"
PLACES = [
    # place_id, owner_name, street_address, latitude, longitude, visits, note, active
    ("P1", SECRET_NAME, "1234 Main St, Apt 5", 37.77, -122.41, 12, "=HYPERLINK(1)", "true"),
    ("P2", "Ann Other", "56 Elm Ave", 37.78, -122.42, -3, "+1+1", "false"),
    ("P3", "Bo Third", "78 Oak Rd", 37.79, -122.43, 40, "@SUM(A1)", "true"),
    ("P4", "Cy Fourth", "910 Pine St", "", "", 5, "-2+3", ""),
    ("P5", "Di Fifth", "1111 Main St", 37.70, -122.40, 0, "plain, with comma", "true"),
]
PLACE_COLUMNS = [
    {"name": "place_id", "type": "string", "description": "Id"},
    {"name": "owner_name", "type": "string", "pii": "name"},
    {"name": "street_address", "type": "string", "pii": "address", "masking": "generalise"},
    {"name": "latitude", "type": "float"},
    {"name": "longitude", "type": "float"},
    {"name": "visits", "type": "integer"},
    {"name": "note", "type": "string"},
    {"name": "active", "type": "boolean"},
]
PUBLIC_REQUEST_COLUMNS = [
    "request_id", "request_type", "district", "created_at", "due_at", "closed_at", "department",
]  # fmt: skip


def _source(root: Path, source_id: str, columns: list[dict[str, str]], **more: object) -> None:
    spec = yaml.safe_load((root / "sources" / "service_requests.yaml").read_text())
    spec |= {"id": source_id, "title": source_id.replace("_", " ").title(), "columns": columns}
    spec["description"] = f"The {source_id} of the SODA tests."
    spec["options"] = {"path": f"data/{source_id}.csv"}
    spec |= more
    (root / "sources" / f"{source_id}.yaml").write_text(yaml.safe_dump(spec))


def add_places(root: Path) -> None:
    with (root / "data" / "places.csv").open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow([c["name"] for c in PLACE_COLUMNS])
        writer.writerows(PLACES)
    _source(root, "places", PLACE_COLUMNS, catalog={"keywords": ["places"], "themes": ["Maps"]})


def add_staff_notes(root: Path) -> None:
    """An internal dataset: the public must not learn it exists."""
    (root / "data" / "staff_notes.csv").write_text("note_id,body\nN1,hello\n")
    columns = [{"name": "note_id", "type": "string"}, {"name": "body", "type": "string"}]
    _source(root, "staff_notes", columns, classification="internal")
    spec = yaml.safe_load((root / "sources" / "staff_notes.yaml").read_text())
    spec.pop("catalog", None)
    (root / "sources" / "staff_notes.yaml").write_text(yaml.safe_dump(spec))


def add_big(root: Path, rows: int) -> None:
    """A public dataset of ``rows`` rows, more than any one page holds."""
    with (root / "data" / "big.csv").open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["row_id", "value"])
        writer.writerows((f"R{i:06d}", i % 97) for i in range(rows))
    columns = [{"name": "row_id", "type": "string"}, {"name": "value", "type": "integer"}]
    _source(root, "big", columns)


def publish(ctx: Context, root: Path, admin: Actor, *, big: int = 0) -> Context:
    add_places(root)
    add_staff_notes(root)
    if big:
        add_big(root, big)
    workspace_service.apply(ctx, admin)
    for source in ("service_requests", "places", "staff_notes", *(["big"] if big else [])):
        ingest.ingest(ctx, admin, source, recompute=False)
    return ctx


def requests_csv(root: Path) -> list[dict[str, str]]:
    with (root / "data" / "service_requests.csv").open(newline="") as source:
        return list(csv.DictReader(source))


def serve(ctx: Context, database_url: str) -> Iterator[str]:
    """The app on a real HTTP server in a thread, as ``civicstat serve`` runs it; yields
    its ``host:port``."""
    yield from app_server.serve(
        create_app(Settings(workspace=ctx.root, database_url=database_url), ctx)
    )
