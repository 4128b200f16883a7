"""The cases' figures a leader asks for first: how many were handed in each day and by which
channel, how many were decided within their promised time, and how many materials the
applicants did not have to hand over. Read-only grouped queries over the cases' own tables."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tongban.cases.models import Case, CaseEvent

CHINA = timezone(timedelta(hours=8))
CHANNELS = ("web", "app", "wechat", "alipay", "window")
DECISIONS = ("approved", "denied")
# Open and on the clock (补正 stops it, so a case waiting for the applicant is not late).
OPEN = ("submitted", "accepted", "under_review")


@dataclass(frozen=True)
class DeadlineFigures:
    decided: int  # decided cases that had a promised day
    on_time: int  # of those, decided on or before it
    open_overdue: int  # still open past their day
    open_warned: int  # still open, 80% of their time used (预警)

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.decided if self.decided else None


@dataclass(frozen=True)
class MaterialFigures:
    total: int  # materials of the submitted cases
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
    day is listed, a quiet one with zeros."""
    rows = session.execute(
        select(Case.submitted_at, Case.channel).where(
            Case.submitted_at >= _day_start(first),
            Case.submitted_at < _day_start(last + timedelta(days=1)),
        )
    ).all()
    counts: Counter[tuple[date, str]] = Counter()
    for submitted_at, channel in rows:
        if submitted_at is not None:
            counts[(_beijing_day(submitted_at), channel)] += 1
    days = []
    day = first
    while day <= last:
        per_channel = {c: counts[(day, c)] for c in CHANNELS}
        days.append({"day": day, "channels": per_channel, "total": sum(per_channel.values())})
        day += timedelta(days=1)
    return days


def deadlines(session: Session, today: date) -> DeadlineFigures:
    """Decided within the promised time (the decision's Beijing day against the due day), and
    the open cases past or near their day."""
    decided_at = (
        select(CaseEvent.case_id, func.min(CaseEvent.at).label("at"))
        .where(CaseEvent.to_status.in_(DECISIONS))
        .group_by(CaseEvent.case_id)
        .subquery()
    )
    rows = session.execute(
        select(Case.due_date, decided_at.c.at)
        .join(decided_at, decided_at.c.case_id == Case.id)
        .where(Case.due_date.is_not(None))
    ).all()
    on_time = sum(1 for due, at in rows if _beijing_day(at) <= due)
    open_overdue = session.scalar(
        select(func.count()).where(Case.status.in_(OPEN), Case.due_date < today)
    )
    open_warned = session.scalar(
        select(func.count()).where(
            Case.status.in_(OPEN), Case.warned_on.is_not(None), Case.due_date >= today
        )
    )
    return DeadlineFigures(len(rows), on_time, int(open_overdue or 0), int(open_warned or 0))


def _beijing_day(moment: datetime) -> date:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(CHINA).date()


def materials(session: Session) -> MaterialFigures:
    """How the materials of every submitted case were met: from an e-license, from a
    department's shared data, or uploaded by the applicant (免提交 is the first two)."""
    counts: Counter[str] = Counter()
    for (items,) in session.execute(
        select(Case.materials).where(Case.submitted_at.is_not(None))
    ).all():
        for item in items or []:
            counts[str(item.get("resolution", "upload"))] += 1
    return MaterialFigures(sum(counts.values()), dict(counts))
