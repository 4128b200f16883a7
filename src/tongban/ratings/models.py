"""Tables of 好差评: a rating of a finished case (一事一评) or of a counter visit (一次一评), the
ticket a bad rating opens, and every step of that ticket."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from tongban.cases import models as _case_tables  # noqa: F401  (cases, counter_visits: FKs)
from tongban.crypto.service import register_encrypted
from tongban.db import Base, UTCDateTime, utcnow


class Rating(Base):
    """One person's rating of one case or one visit; changed in place within the change
    window, so there is never a second row for the same rater and subject."""

    __tablename__ = "ratings"
    # The figures group counted ratings by a unit (or none) and their level: with these the
    # counting reads an index in order, never the table.
    __table_args__ = (
        UniqueConstraint("subject", "subject_id", "rater_person_id"),
        Index("ix_ratings_figures", "excluded", "level"),
        *(
            Index(f"ix_ratings_figures_{column}", "excluded", column, "level")
            for column in ("department_key", "hall_key", "matter_code", "month", "staff_account")
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject: Mapped[str] = mapped_column(String(6))  # case | visit
    subject_id: Mapped[int] = mapped_column(Integer)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("counter_visits.id"), index=True)
    rater_person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    # The account that gave it; none when the person tapped the hall pad at the window.
    rater_account: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    level: Mapped[int] = mapped_column(Integer)  # 5 非常满意 … 1 非常不满意
    indicators: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    comment_enc: Mapped[str | None] = mapped_column(Text)  # the rater's words: personal data
    channel: Mapped[str] = mapped_column(String(8))  # web app wechat alipay pad sms scan
    # What the statistics group by, copied at rating time (the case or visit does not change).
    department_key: Mapped[str | None] = mapped_column(String(60))
    hall_key: Mapped[str | None] = mapped_column(String(60))
    matter_code: Mapped[str | None] = mapped_column(String(12))
    matter_name: Mapped[str | None] = mapped_column(String(500))
    staff_account: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM, Beijing time
    # An appeal upheld by a supervisor takes a malicious or mistaken rating out of the figures.
    excluded: Mapped[bool] = mapped_column(Boolean, default=False)
    changes: Mapped[int] = mapped_column(Integer, default=0)
    rated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RatingTicket(Base):
    """差评整改: a bad rating's closed loop, one step at a time, each with a due day."""

    __tablename__ = "rating_tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rating_id: Mapped[int] = mapped_column(ForeignKey("ratings.id"), unique=True)
    # verifying -> rectifying -> answering -> awaiting_reply -> closed; appealed beside them
    status: Mapped[str] = mapped_column(String(16), index=True)
    resolution: Mapped[str | None] = mapped_column(String(16))
    # The unit that answers for it: a case's department, a visit's hall.
    unit_kind: Mapped[str] = mapped_column(String(10))  # department | hall
    unit_key: Mapped[str] = mapped_column(String(60), index=True)
    category: Mapped[str | None] = mapped_column(String(16))
    verification: Mapped[str | None] = mapped_column(Text)
    measures: Mapped[str | None] = mapped_column(Text)  # 整改措施: published, no personal data
    answer: Mapped[str | None] = mapped_column(Text)
    opened_on: Mapped[date] = mapped_column(Date)
    step_since: Mapped[date] = mapped_column(Date)  # the day the current step began
    # The current step's due day; none while the calendar does not know the year yet.
    due_on: Mapped[date | None] = mapped_column(Date, index=True)
    late_steps: Mapped[int] = mapped_column(Integer, default=0)
    escalated_on: Mapped[date | None] = mapped_column(Date)
    escalated_status: Mapped[str | None] = mapped_column(String(16))
    reopened: Mapped[int] = mapped_column(Integer, default=0)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_on_time: Mapped[bool | None] = mapped_column(Boolean)
    appeal_reason: Mapped[str | None] = mapped_column(Text)
    appeal_from: Mapped[str | None] = mapped_column(String(16))
    appeal_decision: Mapped[str | None] = mapped_column(String(10))  # upheld | rejected
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TicketEvent(Base):
    """Every step of a ticket: who, when, what they wrote, and the next due day."""

    __tablename__ = "rating_ticket_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("rating_tickets.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    action: Mapped[str] = mapped_column(String(16))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)
    due_on: Mapped[date | None] = mapped_column(Date)
    late: Mapped[bool] = mapped_column(Boolean, default=False)


register_encrypted(Rating, "comment_enc", "rating.comment")
