"""Tables of pre-review: each run on a case (its verdict and findings), and staff overruling a
finding. Findings quote the applicant's data (names, ID numbers, what a document said), so
they are kept encrypted; the rule ids that failed are kept in clear for the per-rule counts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tongban.cases import models as _case_tables  # noqa: F401  (cases, for the FK)
from tongban.crypto.service import register_encrypted
from tongban.db import Base, UTCDateTime, utcnow


class Prereview(Base):
    """One pre-review of a case: queued at submission (预审中), run by the worker."""

    __tablename__ = "prereviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    # pending -> done | failed (the worker retries a failed one up to MAX_ATTEMPTS)
    status: Mapped[str] = mapped_column(String(10), index=True)
    trigger: Mapped[str] = mapped_column(String(12))  # submission | resubmission | manual
    verdict: Mapped[str | None] = mapped_column(String(20))  # pass | needs_correction
    findings_enc: Mapped[str | None] = mapped_column(Text)
    failed_rules: Mapped[list[str]] = mapped_column(JSON, default=list)
    rules: Mapped[int] = mapped_column(Integer, default=0)  # how many rules ran
    documents: Mapped[int] = mapped_column(Integer, default=0)  # how many files were read
    seconds: Mapped[float | None] = mapped_column(Float)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(200))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PrereviewOverrule(Base):
    """Staff set a finding aside, with a reason: logged, and counted per rule to find the rules
    that are wrong."""

    __tablename__ = "prereview_overrules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prereview_id: Mapped[int] = mapped_column(ForeignKey("prereviews.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    matter_code: Mapped[str] = mapped_column(String(12), index=True)
    rule: Mapped[str] = mapped_column(String(80), index=True)
    field: Mapped[str | None] = mapped_column(String(120))
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


register_encrypted(Prereview, "findings_enc", "prereview.findings")
