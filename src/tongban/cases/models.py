"""Tables of applications: the case, and its history as an event log."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from tongban.crypto.service import register_encrypted
from tongban.db import Base, UTCDateTime, utcnow
from tongban.onething import models as _bundle_tables  # noqa: F401  (bundle_cases, for the FK)

DECISIONS = ("approved", "denied")
# Statuses on the staff queue (the partial indexes hold only these rows).
QUEUED = ("submitted", "accepted", "under_review", "correction_requested")
OPEN_SQL = "status IN ('submitted', 'accepted', 'under_review', 'correction_requested')"
OPEN_HERE_SQL = f"{OPEN_SQL} AND remote_region IS NULL"  # not handled by another region
CHINA = timezone(timedelta(hours=8))  # Beijing time: no daylight saving


class Case(Base):
    """办件: one application of one matter, from submission to the result in hand."""

    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("created_by", "idempotency_key"),
        # A forwarded case is made once per origin case, however often its message arrives.
        UniqueConstraint("origin_region", "origin_case"),
        # The staff queue: only the open cases, by department (those handled here) and by
        # hall, nearest deadline first; a page of it is the first rows of one index range.
        Index(
            "ix_cases_open_department",
            "department_key",
            "due_date",
            "id",
            postgresql_where=text(OPEN_HERE_SQL),
            sqlite_where=text(OPEN_HERE_SQL),
        ),
        Index(
            "ix_cases_open_hall",
            "hall_key",
            "due_date",
            "id",
            postgresql_where=text(OPEN_SQL),
            sqlite_where=text(OPEN_SQL),
        ),
        # The dashboard's figures: each counted from an index alone.
        Index(
            "ix_cases_open_due",
            "due_date",
            "status",
            "warned_on",
            postgresql_where=text(OPEN_SQL),
            sqlite_where=text(OPEN_SQL),
        ),
        Index(
            "ix_cases_submitted_figures",
            "submitted_at",
            "channel",
            "materials_license",
            "materials_department",
            "materials_upload",
        ),
        Index("ix_cases_decided_due", "decided_on", "due_date"),
    )

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
    request_hash: Mapped[str | None] = mapped_column(String(64))  # what the key was used for
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
    # 代办: the relative's recorded authorization this case was made under.
    proxy_id: Mapped[int | None] = mapped_column(ForeignKey("proxy_authorizations.id"))
    # 综合受理: the counter visit at which window staff made it, and when the applicant signed.
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("counter_visits.id"), index=True)
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # 统一出件: pickup | post | electronic, where to post it, and the courier's or collector's note.
    delivery_method: Mapped[str | None] = mapped_column(String(12))
    delivery_address_enc: Mapped[str | None] = mapped_column(Text)
    delivery_detail: Mapped[str | None] = mapped_column(String(200))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # 一件事: the bundle case this is one task of (its department handles it as any case).
    bundle_case_id: Mapped[int | None] = mapped_column(ForeignKey("bundle_cases.id"), index=True)
    # 跨省通办, where it was accepted: the peer region that handles it (its status follows that
    # region's messages) and the number it has there.
    remote_region: Mapped[str | None] = mapped_column(String(6), index=True)
    remote_number: Mapped[str | None] = mapped_column(String(30))
    # The case's reference between the two regions (random, made when it is forwarded): the
    # name of its message stream both ways, never reused, even by a database restored here.
    exchange_ref: Mapped[str | None] = mapped_column(String(32), unique=True)
    # 跨省通办, where it is handled: the region whose counter accepted it, that region's case id
    # (the stream its messages travel on) and the accepting hall, as shown to staff.
    origin_region: Mapped[str | None] = mapped_column(String(6))
    origin_case: Mapped[str | None] = mapped_column(String(40))
    origin_hall: Mapped[str | None] = mapped_column(String(200))
    # The data elements the accepting region needs from the approval (its bundle's next task).
    origin_results: Mapped[list[str] | None] = mapped_column(JSON)
    # What the dashboard counts, kept by the attribute events below so that its figures are
    # grouped counts over an index, not a read of every case's materials and history: the
    # Beijing day of the decision, and how many materials were met by a license, by a
    # department's shared data, and by an upload.
    decided_on: Mapped[date | None] = mapped_column(Date)
    materials_license: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    materials_department: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    materials_upload: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def materials_counts(materials: list[dict[str, Any]] | None) -> tuple[int, int, int]:
    """(by license, by shared data, uploaded): how the 免提交 resolver met the materials."""
    counts = {"license": 0, "department": 0, "upload": 0}
    for item in materials or []:
        resolution = str(item.get("resolution", "upload"))
        counts[resolution if resolution in counts else "upload"] += 1
    return counts["license"], counts["department"], counts["upload"]


@event.listens_for(Case.materials, "set")
def _count_materials(case: Case, value: Any, _old: Any, _initiator: Any) -> None:
    counts = materials_counts(value)
    case.materials_license, case.materials_department, case.materials_upload = counts


@event.listens_for(Case.status, "set")
def _note_decision(case: Case, value: str, _old: Any, _initiator: Any) -> None:
    if value in DECISIONS and case.decided_on is None:
        case.decided_on = datetime.now(CHINA).date()


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


class CaseFile(Base):
    """One uploaded file of a material: kept encrypted in the file store, once per content."""

    __tablename__ = "case_files"
    __table_args__ = (UniqueConstraint("case_id", "material_key", "sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    material_key: Mapped[str] = mapped_column(String(60))  # "_signature": the pad signature
    sha256: Mapped[str] = mapped_column(String(64))  # of the plain content
    size: Mapped[int] = mapped_column(Integer)
    content_type: Mapped[str] = mapped_column(String(40))  # from the bytes, not the client
    filename: Mapped[str] = mapped_column(String(120))
    blob_ref: Mapped[str] = mapped_column(String(40), unique=True)
    uploaded_by: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ProxyAuthorization(Base):
    """代办: a person authorizes a relative to apply on their behalf, for some matters, until
    a date. Recorded by the person online, or by window staff from a signed paper form."""

    __tablename__ = "proxy_authorizations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    grantor_person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    agent_person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    relation: Mapped[str] = mapped_column(String(12))
    matters: Mapped[list[str]] = mapped_column(JSON, default=list)  # matter codes, or ["*"]
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CounterVisit(Base):
    """综合受理: one applicant served at one window, identified by code or by ID card."""

    __tablename__ = "counter_visits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hall_key: Mapped[str] = mapped_column(String(60), index=True)
    staff_account: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    identified_by: Mapped[str] = mapped_column(String(10))  # code | id_card
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


register_encrypted(Case, "form_enc", "case.form")
register_encrypted(Case, "delivery_address_enc", "case.delivery_address")
