"""Alembic environment: runs migrations on the engine handed over in the config."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from civicstat.metadata.models import Base

engine: Engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
