"""办件 continued: uploaded material files, relatives' authorizations (代办), counter visits
(综合受理), and the case's delivery choice (统一出件).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28 04:09:53.490833
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "counter_visits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hall_key", sa.String(length=60), nullable=False),
        sa.Column("staff_account", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("identified_by", sa.String(length=10), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_counter_visits_person_id_persons")
        ),
        sa.ForeignKeyConstraint(
            ["staff_account"],
            ["accounts.id"],
            name=op.f("fk_counter_visits_staff_account_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_counter_visits")),
    )
    with op.batch_alter_table("counter_visits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_counter_visits_hall_key"), ["hall_key"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_counter_visits_person_id"), ["person_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_counter_visits_staff_account"), ["staff_account"], unique=False
        )

    op.create_table(
        "proxy_authorizations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("grantor_person_id", sa.Integer(), nullable=False),
        sa.Column("agent_person_id", sa.Integer(), nullable=False),
        sa.Column("relation", sa.String(length=12), nullable=False),
        sa.Column("matters", sa.JSON(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_person_id"],
            ["persons.id"],
            name=op.f("fk_proxy_authorizations_agent_person_id_persons"),
        ),
        sa.ForeignKeyConstraint(
            ["grantor_person_id"],
            ["persons.id"],
            name=op.f("fk_proxy_authorizations_grantor_person_id_persons"),
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"],
            ["accounts.id"],
            name=op.f("fk_proxy_authorizations_recorded_by_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proxy_authorizations")),
    )
    with op.batch_alter_table("proxy_authorizations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_proxy_authorizations_agent_person_id"), ["agent_person_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_proxy_authorizations_grantor_person_id"),
            ["grantor_person_id"],
            unique=False,
        )

    op.create_table(
        "case_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("material_key", sa.String(length=60), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(length=40), nullable=False),
        sa.Column("filename", sa.String(length=120), nullable=False),
        sa.Column("blob_ref", sa.String(length=40), nullable=False),
        sa.Column("uploaded_by", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_files_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by"], ["accounts.id"], name=op.f("fk_case_files_uploaded_by_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_files")),
        sa.UniqueConstraint("blob_ref", name=op.f("uq_case_files_blob_ref")),
        sa.UniqueConstraint(
            "case_id", "material_key", "sha256", name=op.f("uq_case_files_case_id")
        ),
    )
    with op.batch_alter_table("case_files", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_files_case_id"), ["case_id"], unique=False)

    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("request_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("proxy_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("visit_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("signed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("delivery_method", sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column("delivery_address_enc", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("delivery_detail", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_cases_visit_id"), ["visit_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_cases_proxy_id_proxy_authorizations"),
            "proxy_authorizations",
            ["proxy_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_cases_visit_id_counter_visits"), "counter_visits", ["visit_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_cases_visit_id_counter_visits"), type_="foreignkey")
        batch_op.drop_constraint(
            batch_op.f("fk_cases_proxy_id_proxy_authorizations"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_cases_visit_id"))
        batch_op.drop_column("delivered_at")
        batch_op.drop_column("delivery_detail")
        batch_op.drop_column("delivery_address_enc")
        batch_op.drop_column("delivery_method")
        batch_op.drop_column("signed_at")
        batch_op.drop_column("visit_id")
        batch_op.drop_column("proxy_id")
        batch_op.drop_column("request_hash")

    with op.batch_alter_table("case_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_files_case_id"))

    op.drop_table("case_files")
    with op.batch_alter_table("proxy_authorizations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_proxy_authorizations_grantor_person_id"))
        batch_op.drop_index(batch_op.f("ix_proxy_authorizations_agent_person_id"))

    op.drop_table("proxy_authorizations")
    with op.batch_alter_table("counter_visits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_counter_visits_staff_account"))
        batch_op.drop_index(batch_op.f("ix_counter_visits_person_id"))
        batch_op.drop_index(batch_op.f("ix_counter_visits_hall_key"))

    op.drop_table("counter_visits")
