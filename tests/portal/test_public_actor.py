"""The public on the portal and the open data API: public datasets only, public columns
only, personal data left out unless generalised; everything else answers like nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from civicstat.governance.actors import ANONYMOUS, PUBLIC, Actor
from civicstat.governance.columns import visible_columns
from civicstat.governance.permissions import (
    DATASET_EXPORT,
    DATASET_READ,
    DATASET_UNMASK,
    MEASURE_READ,
    PLAN_READ,
    Resource,
    allowed,
)
from civicstat.services import datasets, open_data
from civicstat.services import workspace as workspace_service
from civicstat.services.context import Context
from civicstat.services.errors import NotFound, PermissionDenied
from civicstat.spec.models import Classification, Frequency, Masking, PiiKind, Source


def _resource(level: Classification) -> Resource:
    return Resource("dataset", "d", "customer-service", level)


@pytest.mark.parametrize("level", list(Classification))
def test_the_public_reads_and_downloads_public_datasets_only(level: Classification) -> None:
    public = level is Classification.PUBLIC
    assert allowed(PUBLIC, DATASET_READ, _resource(level)) is public
    assert allowed(PUBLIC, DATASET_EXPORT, _resource(level)) is public
    assert not allowed(PUBLIC, DATASET_UNMASK, _resource(level))
    # Someone not signed in on the staff app still reads nothing.
    assert not allowed(ANONYMOUS, DATASET_READ, _resource(level))


def test_the_public_has_no_other_action() -> None:
    assert not allowed(PUBLIC, PLAN_READ, Resource("plan", "plan"))
    assert not allowed(PUBLIC, MEASURE_READ, Resource("measure", "m", "customer-service"))
    assert not PUBLIC.is_authenticated


def _source(**column: object) -> Source:
    return Source.model_validate(
        {
            "id": "requests",
            "title": "Requests",
            "owner": "customer-service",
            "classification": "public",
            "columns": [{"name": "id", "type": "string"}, {"name": "c", "type": "string"} | column],
        }
    )


@pytest.mark.parametrize(
    ("column", "seen"),
    [
        ({}, None),
        ({"classification": "internal"}, "dropped"),
        ({"pii": "name"}, "dropped"),  # redacted for staff: left out for the public
        ({"pii": "address", "masking": "hash"}, "dropped"),
        ({"pii": "address", "masking": "generalise"}, Masking.GENERALISE),
        ({"pii": "name", "masking": "drop"}, "dropped"),
    ],
)
def test_public_columns(column: dict[str, object], seen: object) -> None:
    source = _source(**column)
    stored = [{"name": "id", "type": "string"}, {"name": "c", "type": "string"}]
    views = {v.name: v for v in visible_columns(PUBLIC, source, stored, {})}
    if seen == "dropped":
        assert set(views) == {"id"}
    else:
        assert views["c"].masking == seen


def test_an_undeclared_column_is_never_public() -> None:
    source = _source()
    stored = [{"name": "id", "type": "string"}, {"name": "extra", "type": "string"}]
    assert [v.name for v in visible_columns(PUBLIC, source, stored, {})] == ["id"]


def test_generalising_by_pii_kind_from_governance() -> None:
    source = _source(pii="address")
    stored = [{"name": "id", "type": "string"}, {"name": "c", "type": "string"}]
    by_kind = {PiiKind.ADDRESS: Masking.GENERALISE}
    assert [v.name for v in visible_columns(PUBLIC, source, stored, by_kind)] == ["id", "c"]


def _add_internal_source(root: Path) -> None:
    spec = yaml.safe_load((root / "sources" / "service_requests.yaml").read_text())
    spec |= {"id": "staff_notes", "title": "Staff notes", "classification": "internal"}
    spec.pop("catalog", None)
    (root / "sources" / "staff_notes.yaml").write_text(yaml.safe_dump(spec))


def test_catalog_lists_public_datasets_with_their_description(
    example_ctx: Context, example_root: Path, admin: Actor
) -> None:
    _add_internal_source(example_root)
    workspace_service.apply(example_ctx, admin)
    listed = open_data.catalog(example_ctx)
    assert [d.id for d in listed] == ["service_requests"]
    found = listed[0]
    assert found.keywords == ["311", "service requests", "potholes"]
    assert found.themes == ["City Services"]
    # Defaults from the portal section of civicstat.yaml; the frequency from the schedule.
    assert found.license == "https://creativecommons.org/publicdomain/zero/1.0/"
    assert found.contact is not None
    assert found.contact.email == "opendata@millbrook.example.org"
    assert found.frequency is Frequency.DAILY
    assert found.accrual_periodicity == "R/P1D"
    assert found.version is None
    assert found.row_count == 0
    assert [c.name for c in found.columns][:2] == ["request_id", "request_type"]
    assert open_data.dataset(example_ctx, "service_requests") == found


def test_a_dataset_that_is_not_public_answers_like_a_missing_one(
    example_ctx: Context, example_root: Path, admin: Actor
) -> None:
    _add_internal_source(example_root)
    workspace_service.apply(example_ctx, admin)
    for dataset_id in ("staff_notes", "no_such_dataset"):
        with pytest.raises(NotFound) as found:
            open_data.dataset(example_ctx, dataset_id)
        assert str(found.value) == f"no dataset {dataset_id!r}"
        with pytest.raises(PermissionDenied):
            datasets.rows(example_ctx, PUBLIC, dataset_id)
    listed = {d.id: d.access_level for d in open_data.inventory(example_ctx)}
    assert listed == {"service_requests": "public", "staff_notes": "non-public"}


def test_a_switched_off_portal_publishes_nothing(
    example_ctx: Context, example_root: Path, admin: Actor
) -> None:
    path = example_root / "civicstat.yaml"
    spec = yaml.safe_load(path.read_text())
    spec["portal"]["enabled"] = False
    path.write_text(yaml.safe_dump(spec))
    workspace_service.apply(example_ctx, admin)
    assert open_data.catalog(example_ctx) == []
    assert open_data.inventory(example_ctx) == []
    with pytest.raises(NotFound):
        open_data.dataset(example_ctx, "service_requests")


def test_a_restricted_dataset_is_not_even_listed(
    example_ctx: Context, example_root: Path, admin: Actor
) -> None:
    """The inventory names internal and confidential datasets as non-public; a restricted
    one's very existence is withheld, as from staff not cleared for it."""
    _add_internal_source(example_root)
    path = example_root / "sources" / "staff_notes.yaml"
    path.write_text(
        path.read_text().replace("classification: internal", "classification: restricted")
    )
    workspace_service.apply(example_ctx, admin)
    assert [d.id for d in open_data.inventory(example_ctx)] == ["service_requests"]
