"""GET /api/v1/dashboard: the leader's figures as JSON (the page draws the same document)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from tongban.access import allow
from tongban.dashboard import service
from tongban.dashboard.schemas import Dashboard
from tongban.deps import DbSession
from tongban.identity.schemas import Role
from tongban.licenses import service as licenses

router = APIRouter(prefix="/api/v1", tags=["dashboard"])
LEADERS = allow(Role.ADMIN, Role.SUPERVISOR)
PeriodDays = Annotated[int, Query(ge=7, le=92, description="days of the daily chart, to today")]


@router.get(
    "/dashboard",
    response_model=Dashboard,
    dependencies=[Depends(LEADERS)],
    summary="Cases per day and channel, deadlines met, exemptions, reductions, ratings",
)
def dashboard(db: DbSession, days: PeriodDays = 30) -> Dashboard:
    return service.dashboard(db, licenses.today(), days)
