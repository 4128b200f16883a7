"""一件事: bundles in the catalog, bundle cases and their events, cases as a bundle's tasks.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28 10:27:30.460479
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bundles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("audience", sa.String(length=20), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bundles")),
        sa.UniqueConstraint("code", name=op.f("uq_bundles_code")),
    )
    op.create_table(
        "bundle_cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=24), nullable=True),
        sa.Column("bundle_code", sa.String(length=40), nullable=False),
        sa.Column("bundle_name", sa.String(length=500), nullable=False),
        sa.Column("bundle_version", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=100), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=True),
        sa.Column("hall_key", sa.String(length=60), nullable=True),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.Column("form_enc", sa.Text(), nullable=False),
        sa.Column("delivery_method", sa.String(length=12), nullable=False),
        sa.Column("delivery_address_enc", sa.Text(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["accounts.id"], name=op.f("fk_bundle_cases_created_by_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprises.id"],
            name=op.f("fk_bundle_cases_enterprise_id_enterprises"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_bundle_cases_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bundle_cases")),
        sa.UniqueConstraint(
            "created_by", "idempotency_key", name=op.f("uq_bundle_cases_created_by")
        ),
        sa.UniqueConstraint("number", name=op.f("uq_bundle_cases_number")),
    )
    with op.batch_alter_table("bundle_cases", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bundle_cases_bundle_code"), ["bundle_code"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_bundle_cases_enterprise_id"), ["enterprise_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_bundle_cases_hall_key"), ["hall_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_bundle_cases_person_id"), ["person_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_bundle_cases_status"), ["status"], unique=False)

    op.create_table(
        "bundle_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bundle_case_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["bundle_case_id"],
            ["bundle_cases.id"],
            name=op.f("fk_bundle_events_bundle_case_id_bundle_cases"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bundle_events")),
    )
    with op.batch_alter_table("bundle_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bundle_events_bundle_case_id"), ["bundle_case_id"], unique=False
        )

    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("bundle_case_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_cases_bundle_case_id"), ["bundle_case_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_cases_bundle_case_id_bundle_cases"),
            "bundle_cases",
            ["bundle_case_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_cases_bundle_case_id_bundle_cases"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_cases_bundle_case_id"))
        batch_op.drop_column("bundle_case_id")

    with op.batch_alter_table("bundle_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bundle_events_bundle_case_id"))

    op.drop_table("bundle_events")
    with op.batch_alter_table("bundle_cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bundle_cases_status"))
        batch_op.drop_index(batch_op.f("ix_bundle_cases_person_id"))
        batch_op.drop_index(batch_op.f("ix_bundle_cases_hall_key"))
        batch_op.drop_index(batch_op.f("ix_bundle_cases_enterprise_id"))
        batch_op.drop_index(batch_op.f("ix_bundle_cases_bundle_code"))

    op.drop_table("bundle_cases")
    op.drop_table("bundles")
