"""HTTP API of the working-day calendar: read a year (public), enter a year (administrators)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from tongban.access import PUBLIC, allow
from tongban.audit.service import record
from tongban.deps import DbSession
from tongban.identity.schemas import Role
from tongban.identity.service import Principal
from tongban.workdays import service
from tongban.workdays.models import CalendarYear
from tongban.workdays.schemas import DayIn, YearIn, YearOut

router = APIRouter(prefix="/api/v1", tags=["calendar 工作日"])
Year = Annotated[int, Path(ge=2004, le=2100)]


def _year_out(db: DbSession, year: int) -> YearOut:
    days = service.year_days(db, year)
    row = db.get(CalendarYear, year)
    assert row is not None
    return YearOut(
        year=year,
        source=row.source,
        days=[DayIn(date=d.day, kind=d.kind, name=d.name) for d in days],
    )


@router.get(
    "/calendar/{year}",
    response_model=YearOut,
    dependencies=[Depends(PUBLIC)],
    summary="A year's public holidays on weekdays and adjusted workdays (调休)",
)
def read_year(db: DbSession, year: Year) -> YearOut:
    return _year_out(db, year)


@router.put(
    "/calendar/{year}",
    response_model=YearOut,
    summary="Enter a year's holidays and adjusted workdays as the State Council published them",
)
def put_year(
    db: DbSession,
    year: Year,
    body: YearIn,
    principal: Annotated[Principal, Depends(allow(Role.ADMIN))],
) -> YearOut:
    count = service.set_year(
        db,
        year,
        [service.Special(d.date, d.kind, d.name) for d in body.days],
        f"admin:{principal.username}",
    )
    record(
        db,
        actor=f"account:{principal.account_id}",
        actor_role=Role.ADMIN.value,
        action="calendar.set_year",
        subject_type="calendar_year",
        subject_id=str(year),
        details={"days": count},
    )
    return _year_out(db, year)
