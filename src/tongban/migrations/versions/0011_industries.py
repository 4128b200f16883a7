"""一业一证: industries in the catalog; an industry case's kind, license and permits.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28 11:15:48.579626
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "industries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_industries")),
        sa.UniqueConstraint("code", name=op.f("uq_industries_code")),
    )
    with op.batch_alter_table("bundle_cases", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=20), server_default="bundle", nullable=False)
        )
        batch_op.add_column(sa.Column("license_identifier", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("amends", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("carried", sa.JSON(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_bundle_cases_license_identifier"), ["license_identifier"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("bundle_cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bundle_cases_license_identifier"))
        batch_op.drop_column("carried")
        batch_op.drop_column("amends")
        batch_op.drop_column("license_identifier")
        batch_op.drop_column("kind")
    op.drop_table("industries")
