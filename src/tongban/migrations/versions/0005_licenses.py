"""电子证照库: licenses (one row per version, the signed document encrypted), their history,
the serial counters, and grants of use (用证授权) with every use.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 02:29:53.347677
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "license_serials",
        sa.Column("type_id", sa.Integer(), nullable=False),
        sa.Column("issuer_id", sa.Integer(), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["issuer_id"], ["departments.id"], name=op.f("fk_license_serials_issuer_id_departments")
        ),
        sa.ForeignKeyConstraint(
            ["type_id"], ["license_types.id"], name=op.f("fk_license_serials_type_id_license_types")
        ),
        sa.PrimaryKeyConstraint("type_id", "issuer_id", name=op.f("pk_license_serials")),
    )
    op.create_table(
        "licenses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("identifier", sa.String(length=120), nullable=False),
        sa.Column("serial", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("type_id", sa.Integer(), nullable=False),
        sa.Column("issuer_id", sa.Integer(), nullable=False),
        sa.Column("holder_kind", sa.String(length=10), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("enterprise_id", sa.Integer(), nullable=True),
        sa.Column("license_number", sa.String(length=60), nullable=False),
        sa.Column("paper_number", sa.String(length=60), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("matter_code", sa.String(length=12), nullable=True),
        sa.Column("status", sa.String(length=2), nullable=False),
        sa.Column("current", sa.Boolean(), nullable=False),
        sa.Column("superseded_by", sa.Integer(), nullable=True),
        sa.Column("kid", sa.String(length=8), nullable=False),
        sa.Column("document_enc", sa.Text(), nullable=False),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprises.id"],
            name=op.f("fk_licenses_enterprise_id_enterprises"),
        ),
        sa.ForeignKeyConstraint(
            ["issuer_id"], ["departments.id"], name=op.f("fk_licenses_issuer_id_departments")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_licenses_person_id_persons")
        ),
        sa.ForeignKeyConstraint(
            ["superseded_by"], ["licenses.id"], name=op.f("fk_licenses_superseded_by_licenses")
        ),
        sa.ForeignKeyConstraint(
            ["type_id"], ["license_types.id"], name=op.f("fk_licenses_type_id_license_types")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_licenses")),
        sa.UniqueConstraint("identifier", name=op.f("uq_licenses_identifier")),
    )
    with op.batch_alter_table("licenses", schema=None) as batch_op:
        batch_op.create_index(
            "ix_licenses_enterprise_current", ["enterprise_id", "current"], unique=False
        )
        batch_op.create_index("ix_licenses_person_current", ["person_id", "current"], unique=False)
        batch_op.create_index("ix_licenses_status_until", ["status", "valid_until"], unique=False)
        batch_op.create_index(
            "ix_licenses_type_issuer_serial", ["type_id", "issuer_id", "serial"], unique=False
        )

    op.create_table(
        "license_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("license_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("from_status", sa.String(length=2), nullable=True),
        sa.Column("to_status", sa.String(length=2), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["license_id"], ["licenses.id"], name=op.f("fk_license_events_license_id_licenses")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_license_events")),
    )
    with op.batch_alter_table("license_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_license_events_license_id"), ["license_id"], unique=False
        )

    op.create_table(
        "license_grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("holder_person_id", sa.Integer(), nullable=True),
        sa.Column("holder_enterprise_id", sa.Integer(), nullable=True),
        sa.Column("granted_by", sa.Integer(), nullable=False),
        sa.Column("grantee_kind", sa.String(length=12), nullable=False),
        sa.Column("grantee", sa.String(length=80), nullable=False),
        sa.Column("grantee_name", sa.String(length=200), nullable=False),
        sa.Column("license_ids", sa.JSON(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=True),
        sa.Column("purpose", sa.String(length=500), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("max_uses", sa.Integer(), nullable=True),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["granted_by"], ["accounts.id"], name=op.f("fk_license_grants_granted_by_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["holder_enterprise_id"],
            ["enterprises.id"],
            name=op.f("fk_license_grants_holder_enterprise_id_enterprises"),
        ),
        sa.ForeignKeyConstraint(
            ["holder_person_id"],
            ["persons.id"],
            name=op.f("fk_license_grants_holder_person_id_persons"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_license_grants")),
    )
    with op.batch_alter_table("license_grants", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_license_grants_grantee"), ["grantee"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_license_grants_holder_enterprise_id"),
            ["holder_enterprise_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_license_grants_holder_person_id"), ["holder_person_id"], unique=False
        )

    op.create_table(
        "license_uses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("grant_id", sa.Integer(), nullable=False),
        sa.Column("license_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=False),
        sa.Column("actor_name", sa.String(length=100), nullable=False),
        sa.Column("purpose", sa.String(length=500), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["accounts.id"], name=op.f("fk_license_uses_actor_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["grant_id"],
            ["license_grants.id"],
            name=op.f("fk_license_uses_grant_id_license_grants"),
        ),
        sa.ForeignKeyConstraint(
            ["license_id"], ["licenses.id"], name=op.f("fk_license_uses_license_id_licenses")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_license_uses")),
    )
    with op.batch_alter_table("license_uses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_license_uses_grant_id"), ["grant_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("license_uses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_license_uses_grant_id"))

    op.drop_table("license_uses")
    with op.batch_alter_table("license_grants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_license_grants_holder_person_id"))
        batch_op.drop_index(batch_op.f("ix_license_grants_holder_enterprise_id"))
        batch_op.drop_index(batch_op.f("ix_license_grants_grantee"))

    op.drop_table("license_grants")
    with op.batch_alter_table("license_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_license_events_license_id"))

    op.drop_table("license_events")
    with op.batch_alter_table("licenses", schema=None) as batch_op:
        batch_op.drop_index("ix_licenses_type_issuer_serial")
        batch_op.drop_index("ix_licenses_status_until")
        batch_op.drop_index("ix_licenses_person_current")
        batch_op.drop_index("ix_licenses_enterprise_current")

    op.drop_table("licenses")
    op.drop_table("license_serials")
