"""政务智能办: pre-reviews of cases (verdict, encrypted findings) and staff overrules.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-28 14:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "prereviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("trigger", sa.String(length=12), nullable=False),
        sa.Column("verdict", sa.String(length=20), nullable=True),
        sa.Column("findings_enc", sa.Text(), nullable=True),
        sa.Column("failed_rules", sa.JSON(), nullable=False),
        sa.Column("rules", sa.Integer(), nullable=False),
        sa.Column("documents", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_prereviews_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prereviews")),
    )
    with op.batch_alter_table("prereviews", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_prereviews_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_prereviews_status"), ["status"], unique=False)
    op.create_table(
        "prereview_overrules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("prereview_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("matter_code", sa.String(length=12), nullable=False),
        sa.Column("rule", sa.String(length=80), nullable=False),
        sa.Column("field", sa.String(length=120), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_prereview_overrules_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["prereview_id"],
            ["prereviews.id"],
            name=op.f("fk_prereview_overrules_prereview_id_prereviews"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prereview_overrules")),
    )
    with op.batch_alter_table("prereview_overrules", schema=None) as batch_op:
        for column in ("prereview_id", "case_id", "matter_code", "rule"):
            batch_op.create_index(
                batch_op.f(f"ix_prereview_overrules_{column}"), [column], unique=False
            )


def downgrade() -> None:
    op.drop_table("prereview_overrules")
    op.drop_table("prereviews")
