"""Raw retention and documents kept with datasets."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from civicstat.governance.actors import Actor, Role
from civicstat.metadata import data_versions
from civicstat.metadata.models import AuditEvent, RawFile, utcnow
from civicstat.services import ingest as ingest_service
from civicstat.services import lake as lake_service
from civicstat.services import workspace as workspace_service
from civicstat.services.context import Context
from civicstat.services.errors import InvalidInput, PermissionDenied

SOURCE = "service_requests"


def keep_raw_for(root: Path, days: int) -> None:
    path = root / "sources" / "service_requests.yaml"
    spec = yaml.safe_load(path.read_text())
    spec["retention"] = {"raw_days": days}
    path.write_text(yaml.safe_dump(spec, sort_keys=False))


def test_prune_deletes_raw_payloads_past_retention_and_keeps_their_record(
    example_ctx: Context, example_root: Path, admin: Actor
) -> None:
    keep_raw_for(example_root, 30)
    workspace_service.apply(example_ctx, admin)
    ingest_service.ingest(example_ctx, admin, SOURCE)
    with example_ctx.db.session() as session:
        (raw,) = session.scalars(select(RawFile)).all()
    assert example_ctx.lake.path(raw.lake_path).exists()

    early = lake_service.prune(example_ctx, admin, now=utcnow() + dt.timedelta(days=29))
    late = lake_service.prune(example_ctx, admin, now=utcnow() + dt.timedelta(days=31))

    assert (early.files, late.files, late.bytes) == (0, 1, raw.size)
    assert not example_ctx.lake.path(raw.lake_path).exists()
    with example_ctx.db.session() as session:
        kept = session.get_one(RawFile, raw.id)
        head = data_versions.current(session, SOURCE)
        events = session.scalars(select(AuditEvent.action)).all()
    assert kept.deleted_at is not None
    assert kept.sha256 == raw.sha256  # what arrived stays known
    assert head is not None  # the curated version is untouched
    assert all(example_ctx.lake.path(f).exists() for f in head.files)
    assert "lake:prune" in events


def test_a_document_is_kept_as_is_with_its_dataset(
    example_ctx: Context, tmp_path: Path, admin: Actor
) -> None:
    pdf = tmp_path / "data-dictionary.pdf"
    pdf.write_bytes(b"%PDF-1.4\n% a tiny document\n%%EOF\n")

    document = lake_service.add_document(example_ctx, admin, SOURCE, pdf, "Data dictionary")

    listed = lake_service.documents(example_ctx, admin, SOURCE)
    assert [d.id for d in listed] == [document.id]
    assert document.content_type == "application/pdf"
    assert document.sha256 == hashlib.sha256(pdf.read_bytes()).hexdigest()
    assert example_ctx.lake.path(document.lake_path).read_bytes() == pdf.read_bytes()
    assert document.lake_path.startswith(f"raw/documents/{SOURCE}/")


def test_only_documents_are_accepted_and_only_from_those_allowed(
    example_ctx: Context, tmp_path: Path, admin: Actor
) -> None:
    script = tmp_path / "run.sh"
    script.write_text("#!/bin/sh\n")
    with pytest.raises(InvalidInput, match="is not a document type"):
        lake_service.add_document(example_ctx, admin, SOURCE, script)
    viewer = Actor("user", "vera", Role.VIEWER, None, 99)
    pdf = tmp_path / "x.pdf"
    pdf.write_bytes(b"%PDF-1.4\n")
    with pytest.raises(PermissionDenied):
        lake_service.add_document(example_ctx, viewer, SOURCE, pdf)
