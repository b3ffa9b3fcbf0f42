"""push idempotency keys belong to the client (API token) that sent them, per source

Revision ID: 0007
Revises: 0006
Create Date: 2027-01-20
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# Batches kept before this revision were sent by a token (the API takes nothing else) or
# have no token on record.
_BACKFILL = (
    "UPDATE push_batches SET client = CASE WHEN token_id IS NULL THEN 'unknown' "
    "ELSE 'token:' || CAST(token_id AS VARCHAR(20)) END"
)


def upgrade() -> None:
    with op.batch_alter_table("push_batches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("client", sa.String(length=200), nullable=True))
    op.execute(_BACKFILL)
    with op.batch_alter_table("push_batches", schema=None) as batch_op:
        batch_op.alter_column("client", existing_type=sa.String(length=200), nullable=False)
        batch_op.drop_constraint("uq_push_batches_source_id", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_push_batches_client"), ["client", "source_id", "idempotency_key"]
        )


def downgrade() -> None:
    # Per source again: of the batches that now share a key, the first one keeps it.
    op.execute(
        "DELETE FROM push_batches WHERE id NOT IN (SELECT min(id) FROM push_batches "
        "GROUP BY source_id, idempotency_key)"
    )
    with op.batch_alter_table("push_batches", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_push_batches_client"), type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_push_batches_source_id"), ["source_id", "idempotency_key"]
        )
        batch_op.drop_column("client")
