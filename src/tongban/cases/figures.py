"""The cases' figures a leader asks for first: how many were handed in each day and by which
channel, how many were decided within their promised time, and how many materials the
applicants did not have to hand over. Read-only grouped queries over the cases' own tables."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tongban.cases.models import CHINA, Case

CHANNELS = ("web", "app", "wechat", "alipay", "window")
# Open and on the clock (补正 stops it, so a case waiting for the applicant is not late).
OPEN = ("submitted", "accepted", "under_review")


@dataclass(frozen=True)
class DeadlineFigures:
    decided: int  # cases decided in the period that had a promised day
    on_time: int  # of those, decided on or before it
    open_overdue: int  # still open past their day
    open_warned: int  # still open, 80% of their time used (预警)

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.decided if self.decided else None


@dataclass(frozen=True)
class MaterialFigures:
    total: int  # materials of the cases handed in in the period
    by_resolution: dict[str, int]  # license | department | upload

    @property
    def exempt(self) -> int:
        return self.total - self.by_resolution.get("upload", 0)

    @property
    def exempt_rate(self) -> float | None:
        return self.exempt / self.total if self.total else None


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=CHINA).astimezone(UTC)


def daily_by_channel(session: Session, first: date, last: date) -> list[dict[str, object]]:
    """Cases handed in on each day from `first` to `last` (Beijing days), per channel; every
    day is listed, a quiet one with zeros. One grouped count per day, each read from the
    index on (submitted_at, channel): a Beijing day is a range of UTC instants, which both
    databases compare alike, where grouping by a computed local day would not be portable."""
    days = []
    day = first
    while day <= last:
        counts = dict(
            session.execute(
                select(Case.channel, func.count())
                .where(
                    Case.submitted_at >= _day_start(day),
                    Case.submitted_at < _day_start(day + timedelta(days=1)),
                )
                .group_by(Case.channel)
            ).all()
        )
        per_channel = {c: int(counts.get(c, 0)) for c in CHANNELS}
        days.append({"day": day, "channels": per_channel, "total": sum(per_channel.values())})
        day += timedelta(days=1)
    return days


def deadlines(session: Session, first: date, today: date) -> DeadlineFigures:
    """Of the cases decided from `first` to `today` (Beijing days), those decided on or before
    their due day; and the open cases past or near their day."""
    in_period = (
        Case.decided_on >= first,
        Case.decided_on <= today,
        Case.due_date.is_not(None),
    )
    decided = session.scalar(select(func.count()).where(*in_period))
    on_time = session.scalar(
        select(func.count()).where(*in_period, Case.decided_on <= Case.due_date)
    )
    open_overdue = session.scalar(
        select(func.count()).where(Case.status.in_(OPEN), Case.due_date < today)
    )
    open_warned = session.scalar(
        select(func.count()).where(
            Case.status.in_(OPEN), Case.warned_on.is_not(None), Case.due_date >= today
        )
    )
    return DeadlineFigures(
        int(decided or 0), int(on_time or 0), int(open_overdue or 0), int(open_warned or 0)
    )


def materials(session: Session, first: date, last: date) -> MaterialFigures:
    """How the materials of the cases handed in from `first` to `last` were met: from an
    e-license, from a department's shared data, or uploaded by the applicant (免提交 is the
    first two). The counts each case keeps (`Case.materials_*`), summed."""
    row = session.execute(
        select(
            func.coalesce(func.sum(Case.materials_license), 0),
            func.coalesce(func.sum(Case.materials_department), 0),
            func.coalesce(func.sum(Case.materials_upload), 0),
        ).where(
            Case.submitted_at >= _day_start(first),
            Case.submitted_at < _day_start(last + timedelta(days=1)),
        )
    ).one()
    by_resolution = {
        k: int(v) for k, v in zip(("license", "department", "upload"), row, strict=True) if v
    }
    return MaterialFigures(sum(by_resolution.values()), by_resolution)
