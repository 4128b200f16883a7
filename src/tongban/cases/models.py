"""Tables of applications: the case, and its history as an event log."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tongban.crypto.service import register_encrypted
from tongban.db import Base, UTCDateTime, utcnow


class Case(Base):
    """办件: one application of one matter, from submission to the result in hand."""

    __tablename__ = "cases"
    __table_args__ = (UniqueConstraint("created_by", "idempotency_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str | None] = mapped_column(String(24), unique=True)
    matter_code: Mapped[str] = mapped_column(String(12), index=True)
    matter_name: Mapped[str] = mapped_column(String(500))
    channel: Mapped[str] = mapped_column(String(10))  # web | app | wechat | alipay | window
    status: Mapped[str] = mapped_column(String(24), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"), index=True)
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), index=True)
    created_by: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    idempotency_key: Mapped[str | None] = mapped_column(String(100))
    hall_key: Mapped[str | None] = mapped_column(String(60), index=True)
    department_key: Mapped[str] = mapped_column(String(60), index=True)
    form_enc: Mapped[str] = mapped_column(Text)  # the form's values, encrypted (personal data)
    materials: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accepted_on: Mapped[date | None] = mapped_column(Date)
    due_date: Mapped[date | None] = mapped_column(Date, index=True)
    paused_since: Mapped[date | None] = mapped_column(Date)  # 补正: the clock stops
    resume_to: Mapped[str | None] = mapped_column(String(24))
    license_identifier: Mapped[str | None] = mapped_column(String(120))
    warned_on: Mapped[date | None] = mapped_column(Date)  # 预警: 80% of the time used
    overdue_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseEvent(Base):
    """Every transition: who, when, why. The case's history is this log."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    action: Mapped[str] = mapped_column(String(24))
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str] = mapped_column(String(24))
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(Text)


register_encrypted(Case, "form_enc", "case.form")
