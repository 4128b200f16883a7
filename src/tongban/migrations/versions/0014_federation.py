"""跨省通办: peer regions, agreed license types, the outbox and inbox of signed messages,
consents to share data, licenses of other regions, forwarded cases, peer departments.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 15:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "federation_peers",
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("root_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("trust_list", sa.JSON(), nullable=False),
        sa.Column("trust_next_update", sa.DateTime(timezone=True), nullable=False),
        sa.Column("trust_fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_list", sa.JSON(), nullable=True),
        sa.Column("status_fetched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("share_records", sa.Boolean(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_federation_peers_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("region_code", name=op.f("pk_federation_peers")),
    )
    op.create_table(
        "federation_agreements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("peer_region", sa.String(length=6), nullable=False),
        sa.Column("local_type_key", sa.String(length=80), nullable=False),
        sa.Column("peer_type_code", sa.String(length=21), nullable=False),
        sa.Column("peer_type_name", sa.String(length=200), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["peer_region"],
            ["federation_peers.region_code"],
            name=op.f("fk_federation_agreements_peer_region_federation_peers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_agreements")),
        sa.UniqueConstraint("peer_region", "local_type_key", name="uq_federation_agreements_local"),
        sa.UniqueConstraint("peer_region", "peer_type_code", name="uq_federation_agreements_peer"),
    )
    op.create_table(
        "federation_outbox",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("peer_region", sa.String(length=6), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("stream", sa.String(length=100), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("body_enc", sa.Text(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("receipt", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_outbox")),
        sa.UniqueConstraint(
            "peer_region", "stream", "seq", name=op.f("uq_federation_outbox_peer_region")
        ),
    )
    with op.batch_alter_table("federation_outbox", schema=None) as batch_op:
        batch_op.create_index("ix_federation_outbox_due", ["status", "next_attempt_at"])
        batch_op.create_index(batch_op.f("ix_federation_outbox_peer_region"), ["peer_region"])
    op.create_table(
        "federation_out_streams",
        sa.Column("peer_region", sa.String(length=6), nullable=False),
        sa.Column("stream", sa.String(length=100), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("peer_region", "stream", name=op.f("pk_federation_out_streams")),
    )
    op.create_table(
        "federation_inbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("peer_region", sa.String(length=6), nullable=False),
        sa.Column("message_id", sa.String(length=32), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("stream", sa.String(length=100), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("envelope_enc", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reply_enc", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_inbox")),
        sa.UniqueConstraint(
            "peer_region", "message_id", name=op.f("uq_federation_inbox_peer_region")
        ),
    )
    with op.batch_alter_table("federation_inbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_federation_inbox_order", ["status", "peer_region", "stream", "seq"]
        )
    op.create_table(
        "federation_in_streams",
        sa.Column("peer_region", sa.String(length=6), nullable=False),
        sa.Column("stream", sa.String(length=100), nullable=False),
        sa.Column("applied_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("peer_region", "stream", name=op.f("pk_federation_in_streams")),
    )
    op.create_table(
        "federation_consents",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("peer_region", sa.String(length=6), nullable=False),
        sa.Column("with_record", sa.Boolean(), nullable=False),
        sa.Column("purpose", sa.String(length=200), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_federation_consents_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_federation_consents_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_consents")),
    )
    with op.batch_alter_table("federation_consents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_federation_consents_person_id"), ["person_id"])
    op.create_table(
        "federation_received_consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("peer_region", sa.String(length=6), nullable=False),
        sa.Column("consent_id", sa.String(length=32), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("purpose", sa.String(length=200), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_federation_received_consents_person_id_persons"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_received_consents")),
        sa.UniqueConstraint(
            "peer_region", "consent_id", name=op.f("uq_federation_received_consents_peer_region")
        ),
    )
    with op.batch_alter_table("federation_received_consents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_federation_received_consents_person_id"), ["person_id"]
        )
    op.create_table(
        "peer_licenses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("identifier", sa.String(length=120), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("type_code", sa.String(length=21), nullable=False),
        sa.Column("type_name", sa.String(length=200), nullable=False),
        sa.Column("local_type_key", sa.String(length=80), nullable=True),
        sa.Column("holder_kind", sa.String(length=10), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("enterprise_id", sa.Integer(), nullable=True),
        sa.Column("issuer_name", sa.String(length=200), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=2), nullable=False),
        sa.Column("status_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=12), nullable=False),
        sa.Column("document_enc", sa.Text(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprises.id"],
            name=op.f("fk_peer_licenses_enterprise_id_enterprises"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_peer_licenses_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_peer_licenses")),
        sa.UniqueConstraint("identifier", name=op.f("uq_peer_licenses_identifier")),
    )
    with op.batch_alter_table("peer_licenses", schema=None) as batch_op:
        batch_op.create_index(
            "ix_peer_licenses_enterprise_type", ["enterprise_id", "local_type_key"]
        )
        batch_op.create_index("ix_peer_licenses_person_type", ["person_id", "local_type_key"])
        batch_op.create_index(batch_op.f("ix_peer_licenses_region_code"), ["region_code"])
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("remote_region", sa.String(length=6), nullable=True))
        batch_op.add_column(sa.Column("remote_number", sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column("exchange_ref", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("origin_region", sa.String(length=6), nullable=True))
        batch_op.add_column(sa.Column("origin_case", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("origin_hall", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("origin_results", sa.JSON(), nullable=True))
        batch_op.create_index(batch_op.f("ix_cases_remote_region"), ["remote_region"])
        batch_op.create_unique_constraint(batch_op.f("uq_cases_exchange_ref"), ["exchange_ref"])
        batch_op.create_unique_constraint(
            batch_op.f("uq_cases_origin_region"), ["origin_region", "origin_case"]
        )
    with op.batch_alter_table("departments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("region", sa.String(length=6), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("departments", schema=None) as batch_op:
        batch_op.drop_column("region")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_cases_origin_region"), type_="unique")
        batch_op.drop_constraint(batch_op.f("uq_cases_exchange_ref"), type_="unique")
        batch_op.drop_index(batch_op.f("ix_cases_remote_region"))
        batch_op.drop_column("origin_results")
        batch_op.drop_column("origin_hall")
        batch_op.drop_column("origin_case")
        batch_op.drop_column("origin_region")
        batch_op.drop_column("exchange_ref")
        batch_op.drop_column("remote_number")
        batch_op.drop_column("remote_region")
    op.drop_table("peer_licenses")
    op.drop_table("federation_received_consents")
    op.drop_table("federation_consents")
    op.drop_table("federation_in_streams")
    op.drop_table("federation_inbox")
    op.drop_table("federation_out_streams")
    op.drop_table("federation_outbox")
    op.drop_table("federation_agreements")
    op.drop_table("federation_peers")
