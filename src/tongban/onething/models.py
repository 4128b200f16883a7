"""Tables of a bundle being run: the parent case and its own events. Its tasks are ordinary
cases (`cases.bundle_case_id`), so each department handles its matter as it handles any."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tongban.crypto.service import register_encrypted
from tongban.db import Base, UTCDateTime, utcnow


class BundleCase(Base):
    """一件事办件: one application for a bundle; one form, one submission, one delivery."""

    __tablename__ = "bundle_cases"
    __table_args__ = (UniqueConstraint("created_by", "idempotency_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str | None] = mapped_column(String(24), unique=True)
    bundle_code: Mapped[str] = mapped_column(String(40), index=True)
    bundle_name: Mapped[str] = mapped_column(String(500))
    bundle_version: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(10))
    # draft -> in_progress -> completed (every task ended) -> delivered (统一发证)
    status: Mapped[str] = mapped_column(String(24), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), index=True)
    created_by: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    idempotency_key: Mapped[str | None] = mapped_column(String(100))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    hall_key: Mapped[str | None] = mapped_column(String(60), index=True)  # the one counter
    answers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # The plan as it was when the case was made: tasks, what each waits for, what each
    # provides, the critical path. A later catalog edit does not move a running case.
    plan: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    form_enc: Mapped[str] = mapped_column(Text)  # the merged form, encrypted
    delivery_method: Mapped[str] = mapped_column(String(12))
    delivery_address_enc: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # bundle | industry (一业一证: the tasks are permits and end in one comprehensive license)
    # | industry_change (permits added to a license: a new version) | industry_renewal
    kind: Mapped[str] = mapped_column(String(20), default="bundle", server_default="bundle")
    # 一业一证: the license this case issued (or the new version it made), the license version
    # it changes, and the permits the license carries after it, with their scopes.
    license_identifier: Mapped[str | None] = mapped_column(String(120), index=True)
    amends: Mapped[str | None] = mapped_column(String(120))
    carried: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BundleEvent(Base):
    """What happened to the bundle as a whole; each task keeps its own events too."""

    __tablename__ = "bundle_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bundle_case_id: Mapped[int] = mapped_column(ForeignKey("bundle_cases.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    action: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(24))
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(Text)


register_encrypted(BundleCase, "form_enc", "bundle.form")
register_encrypted(BundleCase, "delivery_address_enc", "bundle.delivery_address")
