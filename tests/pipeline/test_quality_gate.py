"""Quality checks gate publication: an error keeps the last good version, a warning reports."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from civicstat.governance.actors import Actor
from civicstat.metadata import data_versions
from civicstat.metadata.models import IngestRun, QualityResult
from civicstat.pipeline.runner import IngestError
from civicstat.services import ingest as ingest_service
from civicstat.services import workspace as workspace_service
from civicstat.services.context import Context

SOURCE = "service_requests"


def with_checks(root: Path, checks: list[dict[str, object]]) -> None:
    path = root / "sources" / "service_requests.yaml"
    spec = yaml.safe_load(path.read_text())
    spec["quality"] = checks
    path.write_text(yaml.safe_dump(spec, sort_keys=False))


def test_a_failing_error_check_keeps_the_last_good_version(
    example_ctx: Context, example_root: Path, admin: Actor
) -> None:
    good = ingest_service.ingest(example_ctx, admin, SOURCE).result.version
    with_checks(example_root, [
        {"check": "unique", "columns": ["request_id"]},
        {"check": "accepted_values", "column": "district", "values": ["north", "south"]},
    ])  # fmt: skip
    workspace_service.apply(example_ctx, admin)
    data = example_root / "data" / "service_requests.csv"
    new_row = "SR-2026-99999,pothole,harbor,2025-06-30 08:00:00,2025-07-03 08:00:00,,public-works\n"
    data.write_text(data.read_text() + new_row)  # a district outside the accepted values

    with pytest.raises(IngestError, match="quality check\\(s\\) failed: accepted_values district"):
        ingest_service.ingest(example_ctx, admin, SOURCE)

    with example_ctx.db.session() as session:
        head = data_versions.current(session, SOURCE)
        run = session.scalars(select(IngestRun).order_by(IngestRun.id.desc())).first()
        results = (
            session.scalars(select(QualityResult).where(QualityResult.run_id == run.id)).all()
            if run
            else []
        )
    assert head is not None
    assert good is not None
    assert head.id == good.id
    assert {(r.check, r.passed) for r in results} == {("unique", True), ("accepted_values", False)}
    (failed,) = [r for r in results if not r.passed]
    assert failed.failing_rows > 0
    assert failed.severity == "error"


def test_a_failing_warn_check_publishes_and_reports(
    example_ctx: Context, example_root: Path, admin: Actor
) -> None:
    with_checks(example_root, [{"check": "freshness", "column": "created_at", "max_age_hours": 1,
                                "severity": "warn"}])  # fmt: skip
    workspace_service.apply(example_ctx, admin)

    result = ingest_service.ingest(example_ctx, admin, SOURCE).result

    assert result.status == "succeeded"
    assert any(w.startswith("check freshness created_at:") for w in result.warnings)
    with example_ctx.db.session() as session:
        (stored,) = session.scalars(select(QualityResult)).all()
    assert (stored.check, stored.passed, stored.severity) == ("freshness", False, "warn")
