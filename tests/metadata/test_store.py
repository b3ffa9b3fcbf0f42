"""The metadata store behaves the same on SQLite (default) and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select, text, update

from civicstat.domain.observations import ObservationRow
from civicstat.governance import audit
from civicstat.governance.actors import Actor
from civicstat.metadata import data_versions, observations
from civicstat.metadata.db import Database, alembic_config, current_revision, head_revision
from civicstat.metadata.models import (
    AuditEvent,
    Base,
    Definition,
    Observation,
    Revision,
    SpecObject,
)
from civicstat.services import workspace as workspace_service
from civicstat.services.context import Context


def test_migrations_build_exactly_the_models(database_url: str) -> None:
    db = Database(database_url)
    db.migrate()
    assert current_revision(db.engine) == head_revision(db.engine)
    with db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    db.dispose()
    assert diff == [], "models changed without a migration"


def test_migrating_twice_is_harmless(database_url: str) -> None:
    db = Database(database_url)
    db.migrate()
    db.migrate()
    assert current_revision(db.engine) == head_revision(db.engine)
    db.dispose()


def test_applying_an_unchanged_workspace_creates_no_revision(
    example_ctx: Context, admin: Actor
) -> None:
    again = workspace_service.apply(example_ctx, admin)
    assert again.revision is None
    with example_ctx.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Revision)) == 1


def test_a_removed_objective_is_retired_and_keeps_its_definition(
    example_ctx: Context, example_root: Path, admin: Actor
) -> None:
    plan_path = example_root / "plan.yaml"
    plan = yaml.safe_load(plan_path.read_text())
    removed = plan["goals"][0]["objectives"].pop(0)
    plan_path.write_text(yaml.safe_dump(plan, sort_keys=False))

    result = workspace_service.apply(example_ctx, admin)

    assert result.revision is not None
    assert result.retired == [f"objective {removed['id']}"]
    with example_ctx.db.session() as session:
        row = session.scalar(select(SpecObject).where(SpecObject.key == removed["id"]))
        assert row is not None
        assert row.retired_revision_id == result.revision.id
        kept = session.get(Definition, row.definition_hash)
        assert kept is not None
        assert kept.body["title"] == removed["title"]
        plan_now = example_ctx.applied_plan(session)
        assert plan_now is not None
        assert removed["id"] not in {o.id for _, o in plan_now.objectives()}


def test_a_changed_target_is_a_new_definition(
    example_ctx: Context, example_root: Path, admin: Actor
) -> None:
    plan_path = example_root / "plan.yaml"
    plan = yaml.safe_load(plan_path.read_text())
    objective = plan["goals"][0]["objectives"][0]
    objective["target"]["value"] = objective["target"]["value"] - 1
    plan_path.write_text(yaml.safe_dump(plan, sort_keys=False))

    result = workspace_service.apply(example_ctx, admin)

    assert result.changed == [f"objective {objective['id']}"]
    assert result.added == []
    assert result.retired == []
    with example_ctx.db.session() as session:
        hashes = session.scalars(
            select(Definition.hash).where(Definition.key == objective["id"])
        ).all()
        assert len(hashes) == 2  # the old definition is kept beside the new one


def test_publishing_versions_moves_the_head(database_url: str) -> None:
    db = Database(database_url)
    db.migrate()
    with db.write() as session:
        first = data_versions.publish(
            session, dataset_id="calls", files=["a.parquet"], columns=[], row_count=3, run_id=None
        )
    with db.write() as session:
        second = data_versions.publish(
            session, dataset_id="calls", files=["b.parquet"], columns=[], row_count=5, run_id=None
        )
    with db.session() as session:
        head = data_versions.current(session, "calls")
        assert head is not None
        assert (first.version, second.version, head.id, head.row_count) == (1, 2, second.id, 5)
    db.dispose()


def test_recomputing_supersedes_but_keeps_what_was_reported(database_url: str) -> None:
    db = Database(database_url)
    db.migrate()
    with db.write() as session:
        v1 = data_versions.publish(
            session, dataset_id="d", files=[], columns=[], row_count=0, run_id=None
        )
        v2 = data_versions.publish(
            session, dataset_id="d", files=[], columns=[], row_count=0, run_id=None
        )
    row = ObservationRow(dt.date(2026, 1, 1), dt.date(2026, 2, 1), "", 50.0, 1, 2, 2)
    kwargs = {"measure_id": "m", "grain": "month", "definition_hash": "h" * 64}
    with db.write() as session:
        assert observations.replace_current(session, data_version_id=v1.id, rows=[row], **kwargs)
    with db.write() as session:  # same definition and data: nothing to do
        assert not observations.replace_current(
            session, data_version_id=v1.id, rows=[row], **kwargs
        )
    restated = ObservationRow(dt.date(2026, 1, 1), dt.date(2026, 2, 1), "", 75.0, 3, 4, 4)
    with db.write() as session:
        assert observations.replace_current(
            session, data_version_id=v2.id, rows=[restated], **kwargs
        )
    with db.session() as session:
        assert [o.value for o in observations.current_series(session, "m")] == [75.0]
        history = session.scalars(select(Observation).order_by(Observation.id)).all()
        assert [(o.value, o.superseded_at is not None) for o in history] == [
            (50.0, True),
            (75.0, False),
        ]
    db.dispose()


def test_audit_chain_verifies_and_names_the_first_tampered_record(
    database_url: str, admin: Actor
) -> None:
    db = Database(database_url, audit_key=b"a test key for the audit chain!!")
    db.migrate()
    with db.write() as session:
        ids = [
            audit.record(session, admin, "test:event", "thing", str(i), n=i).id for i in range(5)
        ]
    with db.session() as session:
        assert audit.verify(session) is None
    # The application's connection may not change a record (triggers refuse it), so the
    # tamperer first removes the guard, as the database's owner could.
    with db.engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            connection.execute(text("DROP TRIGGER audit_events_no_update"))
        else:
            connection.execute(text("DROP TRIGGER audit_events_append_only ON audit_events"))
    with db.write() as session:
        session.execute(update(AuditEvent).where(AuditEvent.id == ids[2]).values(outcome="denied"))
    with db.session() as session:
        assert audit.verify(session) == ids[2]
    db.dispose()


def test_migration_0003_goes_down_and_up_again(database_url: str) -> None:
    """Downgrading drops what 0003 added (columns, table, triggers); upgrading restores it."""
    db = Database(database_url)
    db.migrate()
    config = alembic_config(db.engine)

    command.downgrade(config, "0002")
    assert current_revision(db.engine) == "0002"
    command.upgrade(config, "head")

    assert current_revision(db.engine) == head_revision(db.engine)
    with db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []
    db.dispose()
