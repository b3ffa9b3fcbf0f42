"""Migration 0007: push idempotency keys become the sending token's, per source. Batches
kept before it stay answerable to the token that sent them, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from civicstat.metadata.db import Database, alembic_config, current_revision, head_revision
from civicstat.metadata.models import Base

BEFORE = "0006"
INSERT_TOKEN = (
    "INSERT INTO api_tokens (id, token_hash, name, scopes, created_by, created_at, expires_at) "
    "VALUES (:id, :hash, 'cad', '[]', 'operator:x', '2026-01-01', '2027-01-01')"
)
INSERT_BATCH = (
    "INSERT INTO push_batches (source_id, idempotency_key, token_id, body_sha256, response, "
    "created_at) VALUES ('cad_calls', :key, :token, 'ab', '{}', '2026-01-02')"
)


def test_batches_kept_before_0007_belong_to_the_token_that_sent_them(database_url: str) -> None:
    db = Database(database_url)
    config = alembic_config(db.engine)
    command.upgrade(config, BEFORE)
    with db.engine.begin() as connection:
        connection.execute(text(INSERT_TOKEN), {"id": 7, "hash": "h" * 64})
        connection.execute(text(INSERT_BATCH), {"key": "k-1", "token": 7})
        connection.execute(text(INSERT_BATCH), {"key": "k-2", "token": None})

    command.upgrade(config, "head")

    with db.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT idempotency_key, client FROM push_batches ORDER BY idempotency_key")
        ).all()
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert [tuple(r) for r in rows] == [("k-1", "token:7"), ("k-2", "unknown")]
    assert diff == []
    db.dispose()


def test_migration_0007_goes_down_and_up_again(database_url: str) -> None:
    """Going down keeps the first batch of a key shared by two tokens; up again works."""
    db = Database(database_url)
    db.migrate()
    with db.engine.begin() as connection:
        for token in (1, 2):
            connection.execute(text(INSERT_TOKEN), {"id": token, "hash": str(token) * 64})
            connection.execute(
                text(
                    "INSERT INTO push_batches (client, source_id, idempotency_key, token_id, "
                    "body_sha256, response, created_at) VALUES (:client, 'cad_calls', 'same', "
                    ":token, 'ab', '{}', '2026-01-02')"
                ),
                {"client": f"token:{token}", "token": token},
            )
    config = alembic_config(db.engine)

    command.downgrade(config, BEFORE)
    with db.engine.connect() as connection:
        kept = connection.execute(text("SELECT token_id FROM push_batches")).scalars().all()
    command.upgrade(config, "head")

    assert kept == [1]
    assert current_revision(db.engine) == head_revision(db.engine)
    with db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []
    db.dispose()
