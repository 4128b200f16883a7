"""City scale: the staff queue's partial indexes (open cases only, by hall and by department,
by deadline), the columns the dashboard counts instead of reading every case (the decision's
day, how the materials were met), the indexes those counts are read from, and the index of the
licenses the status list names.

The new columns are filled from what the cases hold: the materials' resolutions, and the
Beijing day of the first decision in the case's event log. In batches of 5,000 cases, in the
migration's one transaction.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 15:00:00.000000
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

OPEN = "status IN ('submitted', 'accepted', 'under_review', 'correction_requested')"
OPEN_HERE = f"{OPEN} AND remote_region IS NULL"
SUBMITTED_FIGURES = [
    "submitted_at",
    "channel",
    "materials_license",
    "materials_department",
    "materials_upload",
]
NOT_VALID = "status <> '01'"
BATCH = 5_000
BEIJING = timezone(timedelta(hours=8))


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("decided_on", sa.Date(), nullable=True))
        for name in ("materials_license", "materials_department", "materials_upload"):
            batch_op.add_column(sa.Column(name, sa.Integer(), server_default="0", nullable=False))
    _fill_case_figures()
    with op.batch_alter_table("cases", schema=None) as batch_op:
        for name, columns, where in (
            ("ix_cases_open_department", ["department_key", "due_date", "id"], OPEN_HERE),
            ("ix_cases_open_hall", ["hall_key", "due_date", "id"], OPEN),
            ("ix_cases_open_due", ["due_date", "status", "warned_on"], OPEN),
        ):
            batch_op.create_index(
                name, columns, postgresql_where=sa.text(where), sqlite_where=sa.text(where)
            )
        batch_op.create_index("ix_cases_submitted_figures", SUBMITTED_FIGURES)
        batch_op.create_index("ix_cases_decided_due", ["decided_on", "due_date"])
    with op.batch_alter_table("licenses", schema=None) as batch_op:
        batch_op.create_index(
            "ix_licenses_not_valid",
            ["identifier"],
            postgresql_where=sa.text(NOT_VALID),
            sqlite_where=sa.text(NOT_VALID),
        )


def _fill_case_figures() -> None:
    bind = op.get_bind()
    cases = sa.table(
        "cases",
        sa.column("id", sa.Integer),
        sa.column("materials", sa.JSON),
        sa.column("decided_on", sa.Date),
        sa.column("materials_license", sa.Integer),
        sa.column("materials_department", sa.Integer),
        sa.column("materials_upload", sa.Integer),
    )
    events = sa.table(
        "case_events",
        sa.column("case_id", sa.Integer),
        sa.column("to_status", sa.String),
        sa.column("at", sa.DateTime),
    )
    last = 0
    while True:
        rows = bind.execute(
            sa.select(cases.c.id, cases.c.materials)
            .where(cases.c.id > last)
            .order_by(cases.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        first, last = rows[0][0], rows[-1][0]
        decided = dict(
            bind.execute(
                sa.select(events.c.case_id, sa.func.min(events.c.at))
                .where(
                    events.c.case_id.between(first, last),
                    events.c.to_status.in_(("approved", "denied")),
                )
                .group_by(events.c.case_id)
            ).all()
        )
        updates = [
            _figures_of(case_id, materials, decided.get(case_id)) for case_id, materials in rows
        ]
        bind.execute(
            cases.update()
            .where(cases.c.id == sa.bindparam("case_id"))
            .values(
                decided_on=sa.bindparam("decided"),
                materials_license=sa.bindparam("license"),
                materials_department=sa.bindparam("department"),
                materials_upload=sa.bindparam("upload"),
            ),
            updates,
        )


def _figures_of(case_id: int, materials: Any, decided_at: Any) -> dict[str, Any]:
    """The counts as `cases.models.materials_counts` makes them (copied: a migration does not
    import the models, which change after it)."""
    if isinstance(materials, str):  # a driver that hands JSON back as text
        materials = json.loads(materials)
    counts = {"license": 0, "department": 0, "upload": 0}
    for item in materials or []:
        resolution = str(item.get("resolution", "upload"))
        counts[resolution if resolution in counts else "upload"] += 1
    return {"case_id": case_id, "decided": _beijing_day(decided_at), **counts}


def _beijing_day(value: datetime | str | None) -> date | None:
    if value is None:
        return None
    # SQLite may hand the bare column back as text.
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(BEIJING).date()


def downgrade() -> None:
    with op.batch_alter_table("licenses", schema=None) as batch_op:
        batch_op.drop_index("ix_licenses_not_valid")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_decided_due")
        batch_op.drop_index("ix_cases_submitted_figures")
        batch_op.drop_index("ix_cases_open_due")
        batch_op.drop_index("ix_cases_open_hall")
        batch_op.drop_index("ix_cases_open_department")
        for name in ("materials_upload", "materials_department", "materials_license", "decided_on"):
            batch_op.drop_column(name)
