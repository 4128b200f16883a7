"""Tables of the code: signing keys, issued codes, scans, single uses and hall queue tickets."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from tongban.crypto.service import register_encrypted
from tongban.db import Base, UTCDateTime, utcnow


class CodeIssue(Base):
    """One code handed out: whose it is. The code itself carries only `ref`."""

    __tablename__ = "code_issues"
    __table_args__ = (Index("ix_code_issues_kid_expires", "kid", "expires_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ref: Mapped[str] = mapped_column(String(24), unique=True)
    subject_type: Mapped[str] = mapped_column(String(10))  # person | enterprise
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"), index=True)
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # dynamic | paper
    channel: Mapped[str] = mapped_column(String(10))
    kid: Mapped[str] = mapped_column(String(8))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    issued_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    # Kept for paper codes only, so the holder can print the same code again.
    token: Mapped[str | None] = mapped_column(Text)


class CodeScan(Base):
    """Every scan, accepted or refused: what the holder sees under 谁扫了我的码."""

    __tablename__ = "code_scans"
    __table_args__ = (UniqueConstraint("verifier_id", "idempotency_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    scene: Mapped[str] = mapped_column(String(30))
    verifier_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    verifier_name: Mapped[str] = mapped_column(String(100))
    place: Mapped[str | None] = mapped_column(String(60))
    outcome: Mapped[str] = mapped_column(String(40))  # ok, or the refusal's code
    ref: Mapped[str | None] = mapped_column(String(24), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"), index=True)
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), index=True)
    attributes: Mapped[list[str]] = mapped_column(JSON, default=list)  # names released
    idempotency_key: Mapped[str | None] = mapped_column(String(100))
    # SM3 of what was asked (scene, code, ID number): a key reused for another request is
    # refused rather than answered with someone else's attributes.
    request_hash: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer, default=200)
    # The answer, kept (encrypted: it may hold an ID number) only for a retry within minutes.
    response_enc: Mapped[str | None] = mapped_column(Text)


class CodeUse(Base):
    """A code spent in a scene that allows one use: the primary key refuses a second."""

    __tablename__ = "code_uses"

    ref: Mapped[str] = mapped_column(String(24), primary_key=True)
    scene: Mapped[str] = mapped_column(String(30), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class HallQueueCounter(Base):
    """The last ticket number a hall gave out on a day (one row per hall and day)."""

    __tablename__ = "hall_queue_counters"

    hall_key: Mapped[str] = mapped_column(ForeignKey("halls.key"), primary_key=True)
    service_date: Mapped[date] = mapped_column(Date, primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)


class QueueTicket(Base):
    """大厅取号: a place in a hall's queue, taken by scanning a code at the entrance."""

    __tablename__ = "queue_tickets"
    __table_args__ = (UniqueConstraint("hall_key", "service_date", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hall_key: Mapped[str] = mapped_column(ForeignKey("halls.key"), index=True)
    service_date: Mapped[date] = mapped_column(Date)
    seq: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(8))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"))
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"))
    scan_id: Mapped[int] = mapped_column(ForeignKey("code_scans.id"))
    status: Mapped[str] = mapped_column(String(10), default="waiting")  # waiting | called | done
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


register_encrypted(CodeScan, "response_enc", "code_scan.response")
