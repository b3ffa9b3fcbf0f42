"""central repository: quarantine, quality results, source state and locks,
api tokens, push batches, documents; run and version details

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_table(
        "documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.String(length=128), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("lake_path", sa.String(length=1000), nullable=False),
        sa.Column("original_name", sa.String(length=500), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("content_type", sa.String(length=200), nullable=False),
        sa.Column("added_by", sa.String(length=200), nullable=False),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_documents")),
    )
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_documents_dataset_id"), ["dataset_id"], unique=False)

    op.create_table(
        "source_locks",
        sa.Column("source_id", sa.String(length=128), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("acquired_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("source_id", name=op.f("pk_source_locks")),
    )
    op.create_table(
        "source_state",
        sa.Column("source_id", sa.String(length=128), nullable=False),
        sa.Column("high_water_mark", sa.String(length=100), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("source_id", name=op.f("pk_source_state")),
    )
    op.create_table(
        "push_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.String(length=128), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("token_id", sa.Integer(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("body_sha256", sa.String(length=64), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["ingest_runs.id"], name=op.f("fk_push_batches_run_id_ingest_runs")
        ),
        sa.ForeignKeyConstraint(
            ["token_id"], ["api_tokens.id"], name=op.f("fk_push_batches_token_id_api_tokens")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_batches")),
        sa.UniqueConstraint("source_id", "idempotency_key", name=op.f("uq_push_batches_source_id")),
    )
    op.create_table(
        "quality_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.String(length=128), nullable=False),
        sa.Column("check", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=500), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("failing_rows", sa.BigInteger(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["ingest_runs.id"], name=op.f("fk_quality_results_run_id_ingest_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_results")),
    )
    with op.batch_alter_table("quality_results", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_quality_results_run_id"), ["run_id"], unique=False)

    op.create_table(
        "quarantined_rows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.String(length=128), nullable=False),
        sa.Column("file", sa.String(length=500), nullable=False),
        sa.Column("line", sa.BigInteger(), nullable=True),
        sa.Column("column", sa.String(length=200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["ingest_runs.id"], name=op.f("fk_quarantined_rows_run_id_ingest_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantined_rows")),
    )
    with op.batch_alter_table("quarantined_rows", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_quarantined_rows_run_id"), ["run_id"], unique=False)

    with op.batch_alter_table("data_versions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("checksum", sa.String(length=80), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("inputs", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )

    with op.batch_alter_table("ingest_runs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("trigger", sa.String(length=16), nullable=False, server_default="manual")
        )
        batch_op.add_column(
            sa.Column("rows_quarantined", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("warnings", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )

    with op.batch_alter_table("raw_files", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deleted_at", sa.DateTime(), nullable=True))


def downgrade() -> None:

    with op.batch_alter_table("raw_files", schema=None) as batch_op:
        batch_op.drop_column("deleted_at")

    with op.batch_alter_table("ingest_runs", schema=None) as batch_op:
        batch_op.drop_column("warnings")
        batch_op.drop_column("rows_quarantined")
        batch_op.drop_column("trigger")

    with op.batch_alter_table("data_versions", schema=None) as batch_op:
        batch_op.drop_column("inputs")
        batch_op.drop_column("checksum")

    with op.batch_alter_table("quarantined_rows", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quarantined_rows_run_id"))

    op.drop_table("quarantined_rows")
    with op.batch_alter_table("quality_results", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quality_results_run_id"))

    op.drop_table("quality_results")
    op.drop_table("push_batches")
    op.drop_table("source_state")
    op.drop_table("source_locks")
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_documents_dataset_id"))

    op.drop_table("documents")
    op.drop_table("api_tokens")
