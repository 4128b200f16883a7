"""Working days: which days count, and deadlines counted in them.

Promised time limits (承诺办结时限) are working days. A weekday is a working day unless it is
a public holiday; a weekend day is not, unless it is an adjusted workday (调休). The calendar
lives in the database, seeded from `chinesecalendar` (which knows 2004 to its last published
year) and updated by an administrator each year when the State Council publishes the next
one. A deadline that runs into a year the calendar does not know is an error, never a guess.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from tongban.db import utcnow
from tongban.errors import DomainError
from tongban.workdays.models import CalendarDay, CalendarYear

_CACHE_SECONDS = 60.0


class CalendarUnknown(DomainError):
    def __init__(self, year: int) -> None:
        super().__init__(
            code="calendar_year_unknown",
            title=f"{year}年的节假日安排尚未录入，无法计算期限",
            title_en=f"The holidays of {year} are not in the calendar yet: no deadline can be set",
            status=409,
            detail="an administrator enters the year with PUT /api/v1/calendar/{year}",
        )


@dataclass(frozen=True)
class Calendar:
    years: frozenset[int]
    holidays: frozenset[date]
    workdays: frozenset[date]

    def is_workday(self, day: date) -> bool:
        if day.year not in self.years:
            raise CalendarUnknown(day.year)
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5

    def add_working_days(self, start: date, days: int) -> date:
        """The day `days` working days after `start` (the start day itself does not count)."""
        if days < 0:
            raise ValueError("days must not be negative")
        day = start
        counted = 0
        while counted < days:
            day += timedelta(days=1)
            if self.is_workday(day):
                counted += 1
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after `start` up to and including `end` (0 when end <= start)."""
        count = 0
        day = start
        while day < end:
            day += timedelta(days=1)
            if self.is_workday(day):
                count += 1
        return count


_cache: dict[str, tuple[float, Calendar]] = {}
_lock = threading.Lock()


def calendar(session: Session, *, fresh: bool = False) -> Calendar:
    """The calendar, read once a minute per process (it is a few hundred rows)."""
    bind = session.get_bind()
    key = str(bind.engine.url)
    now = time.monotonic()
    cached = _cache.get(key)
    if not fresh and cached is not None and now - cached[0] < _CACHE_SECONDS:
        return cached[1]
    years = frozenset(session.scalars(select(CalendarYear.year)))
    rows = session.execute(select(CalendarDay.day, CalendarDay.kind)).all()
    loaded = Calendar(
        years=years,
        holidays=frozenset(d for d, kind in rows if kind == "holiday"),
        workdays=frozenset(d for d, kind in rows if kind == "workday"),
    )
    with _lock:
        _cache[key] = (now, loaded)
    return loaded


def forget() -> None:
    with _lock:
        _cache.clear()


@dataclass(frozen=True)
class Special:
    day: date
    kind: str  # holiday | workday
    name: str


def set_year(session: Session, year: int, days: Iterable[Special], source: str) -> int:
    """Replace what the calendar says of a year; returns how many special days it has."""
    specials = list(days)
    twice = {day for day, n in Counter(s.day for s in specials).items() if n > 1}
    wrong = [
        s
        for s in specials
        if s.day.year != year or s.kind not in ("holiday", "workday") or s.day in twice
    ]
    if wrong:
        from tongban.errors import FieldError, validation_failed

        raise validation_failed(
            [FieldError("days", f"{s.day} 不属于{year}年或类型有误", "wrong_day") for s in wrong]
        )
    session.execute(
        delete(CalendarDay).where(
            CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31)
        )
    )
    session.add_all(CalendarDay(day=s.day, kind=s.kind, name=s.name[:60]) for s in specials)
    row = session.get(CalendarYear, year)
    if row is None:
        session.add(CalendarYear(year=year, source=source))
    else:
        row.source, row.updated_at = source, utcnow()
    session.flush()
    forget()
    return len(specials)


def seed_from_chinesecalendar(session: Session) -> list[int]:
    """Every year `chinesecalendar` knows that the database does not yet; returns them."""
    from importlib.metadata import version

    import chinese_calendar

    source = f"chinesecalendar {version('chinesecalendar')}"
    known = set(session.scalars(select(CalendarYear.year)))
    by_year: dict[int, list[Special]] = {}
    for day, name in chinese_calendar.holidays.items():
        if day.weekday() < 5:  # a holiday on a weekend changes nothing
            by_year.setdefault(day.year, []).append(Special(day, "holiday", _name(name)))
    for day, name in chinese_calendar.workdays.items():
        if day.weekday() >= 5:
            by_year.setdefault(day.year, []).append(Special(day, "workday", _name(name)))
    years = sorted({d.year for d in chinese_calendar.holidays} - known)
    for year in years:
        set_year(session, year, by_year.get(year, []), source)
    return years


_CHINESE = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日",
}


def _name(value: object) -> str:
    text = str(getattr(value, "value", value) or "")
    return _CHINESE.get(text, text)


def known_years(session: Session) -> list[int]:
    return list(session.scalars(select(CalendarYear.year).order_by(CalendarYear.year)))


def year_days(session: Session, year: int) -> list[CalendarDay]:
    if session.get(CalendarYear, year) is None:
        raise CalendarUnknown(year)
    return list(
        session.scalars(
            select(CalendarDay)
            .where(CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31))
            .order_by(CalendarDay.day)
        )
    )


def count_days(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(CalendarDay)) or 0)
