"""accountability: performance agreements, review notes, commentary, action items, stat meetings

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _index(table: str, column: str) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.create_index(batch_op.f(f"ix_{table}_{column}"), [column], unique=False)


def upgrade() -> None:
    op.create_table(
        "performance_agreements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("department", sa.String(length=128), nullable=False),
        sa.Column("period", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("previous_id", sa.Integer(), nullable=True),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("drafted_by", sa.String(length=200), nullable=False),
        sa.Column("drafted_at", sa.DateTime(), nullable=False),
        sa.Column("signed_by", sa.String(length=200), nullable=True),
        sa.Column("signed_at", sa.DateTime(), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["previous_id"],
            ["performance_agreements.id"],
            name=op.f("fk_performance_agreements_previous_id_performance_agreements"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_performance_agreements")),
        sa.UniqueConstraint(
            "department", "period", "version", name=op.f("uq_performance_agreements_department")
        ),
    )
    op.create_table(
        "agreement_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agreement_id", sa.Integer(), nullable=False),
        sa.Column("quarter", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["performance_agreements.id"],
            name=op.f("fk_agreement_reviews_agreement_id_performance_agreements"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agreement_reviews")),
    )
    _index("agreement_reviews", "agreement_id")
    op.create_table(
        "objective_comments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("objective_id", sa.String(length=128), nullable=False),
        sa.Column("period", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("replaces_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["replaces_id"],
            ["objective_comments.id"],
            name=op.f("fk_objective_comments_replaces_id_objective_comments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_objective_comments")),
    )
    _index("objective_comments", "objective_id")
    op.create_table(
        "action_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("objective_id", sa.String(length=128), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("owner", sa.String(length=150), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_action_items")),
    )
    _index("action_items", "objective_id")
    op.create_table(
        "action_item_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("action_item_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("changed_by", sa.String(length=200), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["action_item_id"],
            ["action_items.id"],
            name=op.f("fk_action_item_changes_action_item_id_action_items"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_action_item_changes")),
    )
    _index("action_item_changes", "action_item_id")
    op.create_table(
        "stat_meetings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("attendees", sa.Text(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("objectives", sa.JSON(), nullable=False),
        sa.Column("actions", sa.JSON(), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stat_meetings")),
    )


def downgrade() -> None:
    op.drop_table("stat_meetings")
    for table, column in (
        ("action_item_changes", "action_item_id"),
        ("action_items", "objective_id"),
        ("objective_comments", "objective_id"),
        ("agreement_reviews", "agreement_id"),
    ):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{table}_{column}"))
        op.drop_table(table)
    op.drop_table("performance_agreements")
