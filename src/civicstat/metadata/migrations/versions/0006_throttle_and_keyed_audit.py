"""throttle and keyed audit: sign-in attempts kept for a window (client throttling, decaying
lockout), after which attempt a user's failures count again, and the scheme and key id of each
audit record (rows written before stay "sha256": unkeyed)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-14
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_in_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("username", sa.String(length=150), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_attempts")),
        sqlite_autoincrement=True,  # numbers never reused: users.failures_after compares
    )
    with op.batch_alter_table("sign_in_attempts", schema=None) as batch_op:
        for column in ("at", "username", "client"):
            batch_op.create_index(
                batch_op.f(f"ix_sign_in_attempts_{column}"), [column], unique=False
            )
    # Plain ADD COLUMN on both stores: a batch rebuild of users would trip the foreign keys
    # of its sessions on SQLite, and one of audit_events would drop its triggers.
    op.add_column("users", sa.Column("failures_after", sa.Integer(), nullable=True))
    op.add_column(
        "audit_events",
        sa.Column("scheme", sa.String(length=16), server_default="sha256", nullable=False),
    )
    op.add_column("audit_events", sa.Column("key_id", sa.String(length=16), nullable=True))


def downgrade() -> None:
    # Keyed records keep their hashes; an older CivicStat reads them as a broken chain.
    # Plain DROP COLUMN (SQLite 3.35 or later), for the reasons given in upgrade().
    op.drop_column("audit_events", "key_id")
    op.drop_column("audit_events", "scheme")
    op.drop_column("users", "failures_after")
    with op.batch_alter_table("sign_in_attempts", schema=None) as batch_op:
        for column in ("client", "username", "at"):
            batch_op.drop_index(batch_op.f(f"ix_sign_in_attempts_{column}"))
    op.drop_table("sign_in_attempts")
