"""随申码: SM2 signing keys (region and departments), issued codes, scans, single uses, hall
queues; photos and the attributes scenes release (medical-insurance voucher, registration
status, credit class).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 01:30:17.169811
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(length=8), nullable=False),
        sa.Column("purpose", sa.String(length=10), nullable=False),
        sa.Column("owner", sa.String(length=80), nullable=False),
        sa.Column("alg", sa.String(length=10), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("public_key", sa.String(length=130), nullable=False),
        sa.Column("private_key_enc", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_signing_keys")),
    )
    with op.batch_alter_table("signing_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_signing_keys_purpose"), ["purpose"], unique=False)
        batch_op.create_index(
            "uq_signing_keys_active",
            ["purpose", "owner"],
            unique=True,
            sqlite_where=sa.text("status = 'active'"),
            postgresql_where=sa.text("status = 'active'"),
        )

    op.create_table(
        "hall_queue_counters",
        sa.Column("hall_key", sa.String(length=60), nullable=False),
        sa.Column("service_date", sa.Date(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["hall_key"], ["halls.key"], name=op.f("fk_hall_queue_counters_hall_key_halls")
        ),
        sa.PrimaryKeyConstraint("hall_key", "service_date", name=op.f("pk_hall_queue_counters")),
    )
    op.create_table(
        "photos",
        sa.Column("ref", sa.String(length=40), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(length=40), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_photos_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("ref", name=op.f("pk_photos")),
    )
    with op.batch_alter_table("photos", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_photos_person_id"), ["person_id"], unique=False)

    op.create_table(
        "code_issues",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=24), nullable=False),
        sa.Column("subject_type", sa.String(length=10), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("enterprise_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("kid", sa.String(length=8), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("issued_by", sa.Integer(), nullable=True),
        sa.Column("token", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprises.id"],
            name=op.f("fk_code_issues_enterprise_id_enterprises"),
        ),
        sa.ForeignKeyConstraint(
            ["issued_by"], ["accounts.id"], name=op.f("fk_code_issues_issued_by_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_code_issues_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_code_issues")),
        sa.UniqueConstraint("ref", name=op.f("uq_code_issues_ref")),
    )
    with op.batch_alter_table("code_issues", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_code_issues_enterprise_id"), ["enterprise_id"], unique=False
        )
        batch_op.create_index("ix_code_issues_kid_expires", ["kid", "expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_code_issues_person_id"), ["person_id"], unique=False)

    op.create_table(
        "code_scans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("scene", sa.String(length=30), nullable=False),
        sa.Column("verifier_id", sa.Integer(), nullable=False),
        sa.Column("verifier_name", sa.String(length=100), nullable=False),
        sa.Column("place", sa.String(length=60), nullable=True),
        sa.Column("outcome", sa.String(length=40), nullable=False),
        sa.Column("ref", sa.String(length=24), nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("enterprise_id", sa.Integer(), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=100), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=True),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("response_enc", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprises.id"],
            name=op.f("fk_code_scans_enterprise_id_enterprises"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_code_scans_person_id_persons")
        ),
        sa.ForeignKeyConstraint(
            ["verifier_id"], ["accounts.id"], name=op.f("fk_code_scans_verifier_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_code_scans")),
        sa.UniqueConstraint(
            "verifier_id", "idempotency_key", name=op.f("uq_code_scans_verifier_id")
        ),
    )
    with op.batch_alter_table("code_scans", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_code_scans_at"), ["at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_code_scans_enterprise_id"), ["enterprise_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_code_scans_person_id"), ["person_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_code_scans_ref"), ["ref"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_code_scans_verifier_id"), ["verifier_id"], unique=False
        )

    op.create_table(
        "code_uses",
        sa.Column("ref", sa.String(length=24), nullable=False),
        sa.Column("scene", sa.String(length=30), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("ref", "scene", name=op.f("pk_code_uses")),
    )
    op.create_table(
        "queue_tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hall_key", sa.String(length=60), nullable=False),
        sa.Column("service_date", sa.Date(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=8), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("enterprise_id", sa.Integer(), nullable=True),
        sa.Column("scan_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprises.id"],
            name=op.f("fk_queue_tickets_enterprise_id_enterprises"),
        ),
        sa.ForeignKeyConstraint(
            ["hall_key"], ["halls.key"], name=op.f("fk_queue_tickets_hall_key_halls")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_queue_tickets_person_id_persons")
        ),
        sa.ForeignKeyConstraint(
            ["scan_id"], ["code_scans.id"], name=op.f("fk_queue_tickets_scan_id_code_scans")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queue_tickets")),
        sa.UniqueConstraint(
            "hall_key", "service_date", "seq", name=op.f("uq_queue_tickets_hall_key")
        ),
    )
    with op.batch_alter_table("queue_tickets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_queue_tickets_hall_key"), ["hall_key"], unique=False)

    with op.batch_alter_table("enterprises", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "registration_status", sa.String(length=10), nullable=False, server_default="存续"
            )
        )
        batch_op.add_column(sa.Column("credit_class", sa.String(length=2), nullable=True))

    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.add_column(sa.Column("medical_voucher_enc", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.drop_column("medical_voucher_enc")

    with op.batch_alter_table("enterprises", schema=None) as batch_op:
        batch_op.drop_column("credit_class")
        batch_op.drop_column("registration_status")

    with op.batch_alter_table("queue_tickets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_queue_tickets_hall_key"))

    op.drop_table("queue_tickets")
    op.drop_table("code_uses")
    with op.batch_alter_table("code_scans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_code_scans_verifier_id"))
        batch_op.drop_index(batch_op.f("ix_code_scans_ref"))
        batch_op.drop_index(batch_op.f("ix_code_scans_person_id"))
        batch_op.drop_index(batch_op.f("ix_code_scans_enterprise_id"))
        batch_op.drop_index(batch_op.f("ix_code_scans_at"))

    op.drop_table("code_scans")
    with op.batch_alter_table("code_issues", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_code_issues_person_id"))
        batch_op.drop_index("ix_code_issues_kid_expires")
        batch_op.drop_index(batch_op.f("ix_code_issues_enterprise_id"))

    op.drop_table("code_issues")
    with op.batch_alter_table("photos", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_photos_person_id"))

    op.drop_table("photos")
    op.drop_table("hall_queue_counters")
    with op.batch_alter_table("signing_keys", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_signing_keys_active",
            sqlite_where=sa.text("status = 'active'"),
            postgresql_where=sa.text("status = 'active'"),
        )
        batch_op.drop_index(batch_op.f("ix_signing_keys_purpose"))

    op.drop_table("signing_keys")
