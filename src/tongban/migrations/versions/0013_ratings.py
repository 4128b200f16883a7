"""好差评: ratings of cases and counter visits, the tickets bad ratings open, their steps.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 11:41:09.684148
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ratings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=6), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("visit_id", sa.Integer(), nullable=True),
        sa.Column("rater_person_id", sa.Integer(), nullable=False),
        sa.Column("rater_account", sa.Integer(), nullable=True),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("indicators", sa.JSON(), nullable=False),
        sa.Column("comment_enc", sa.Text(), nullable=True),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("department_key", sa.String(length=60), nullable=True),
        sa.Column("hall_key", sa.String(length=60), nullable=True),
        sa.Column("matter_code", sa.String(length=12), nullable=True),
        sa.Column("matter_name", sa.String(length=500), nullable=True),
        sa.Column("staff_account", sa.Integer(), nullable=True),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("excluded", sa.Boolean(), nullable=False),
        sa.Column("changes", sa.Integer(), nullable=False),
        sa.Column("rated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_ratings_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["rater_account"], ["accounts.id"], name=op.f("fk_ratings_rater_account_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["rater_person_id"], ["persons.id"], name=op.f("fk_ratings_rater_person_id_persons")
        ),
        sa.ForeignKeyConstraint(
            ["staff_account"], ["accounts.id"], name=op.f("fk_ratings_staff_account_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["counter_visits.id"], name=op.f("fk_ratings_visit_id_counter_visits")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ratings")),
        sa.UniqueConstraint(
            "subject", "subject_id", "rater_person_id", name=op.f("uq_ratings_subject")
        ),
    )
    with op.batch_alter_table("ratings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ratings_case_id"), ["case_id"], unique=False)
        batch_op.create_index("ix_ratings_figures", ["excluded", "level"], unique=False)
        batch_op.create_index(
            "ix_ratings_figures_department_key",
            ["excluded", "department_key", "level"],
            unique=False,
        )
        batch_op.create_index(
            "ix_ratings_figures_hall_key", ["excluded", "hall_key", "level"], unique=False
        )
        batch_op.create_index(
            "ix_ratings_figures_matter_code", ["excluded", "matter_code", "level"], unique=False
        )
        batch_op.create_index(
            "ix_ratings_figures_month", ["excluded", "month", "level"], unique=False
        )
        batch_op.create_index(
            "ix_ratings_figures_staff_account", ["excluded", "staff_account", "level"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_ratings_rater_person_id"), ["rater_person_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_ratings_visit_id"), ["visit_id"], unique=False)

    op.create_table(
        "rating_tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rating_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("resolution", sa.String(length=16), nullable=True),
        sa.Column("unit_kind", sa.String(length=10), nullable=False),
        sa.Column("unit_key", sa.String(length=60), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=True),
        sa.Column("verification", sa.Text(), nullable=True),
        sa.Column("measures", sa.Text(), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("step_since", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("late_steps", sa.Integer(), nullable=False),
        sa.Column("escalated_on", sa.Date(), nullable=True),
        sa.Column("escalated_status", sa.String(length=16), nullable=True),
        sa.Column("reopened", sa.Integer(), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_on_time", sa.Boolean(), nullable=True),
        sa.Column("appeal_reason", sa.Text(), nullable=True),
        sa.Column("appeal_from", sa.String(length=16), nullable=True),
        sa.Column("appeal_decision", sa.String(length=10), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["rating_id"], ["ratings.id"], name=op.f("fk_rating_tickets_rating_id_ratings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rating_tickets")),
        sa.UniqueConstraint("rating_id", name=op.f("uq_rating_tickets_rating_id")),
    )
    with op.batch_alter_table("rating_tickets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rating_tickets_due_on"), ["due_on"], unique=False)
        batch_op.create_index(batch_op.f("ix_rating_tickets_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_rating_tickets_unit_key"), ["unit_key"], unique=False)

    op.create_table(
        "rating_ticket_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["rating_tickets.id"],
            name=op.f("fk_rating_ticket_events_ticket_id_rating_tickets"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rating_ticket_events")),
    )
    with op.batch_alter_table("rating_ticket_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rating_ticket_events_ticket_id"), ["ticket_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("rating_ticket_events")
    op.drop_table("rating_tickets")
    op.drop_table("ratings")
