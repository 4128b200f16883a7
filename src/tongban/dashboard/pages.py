"""/dashboard: the leader's page. Charts are drawn on the server as SVG (no script, no
charting library), so they print, work without JavaScript and read in elder mode."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from tongban.cases.views import CHANNELS
from tongban.dashboard import charts, service
from tongban.dashboard.api import LEADERS
from tongban.deps import DbSession
from tongban.licenses import service as licenses
from tongban.portal.i18n import N_, Words
from tongban.portal.rendering import render

router = APIRouter(include_in_schema=False)
PeriodDays = Annotated[int, Query(ge=7, le=92)]
REDUCTION_LABELS = Words(
    {"materials": N_("申请材料"), "days": N_("办理时间（工作日）"), "trips": N_("跑动次数")}
)
RESOLUTION_LABELS = Words(
    {"license": N_("电子证照调取"), "department": N_("部门共享"), "upload": N_("申请人上传")}
)


@router.get("/dashboard", response_class=HTMLResponse, dependencies=[Depends(LEADERS)])
def dashboard_page(request: Request, db: DbSession, days: PeriodDays = 30) -> Response:
    figures = service.dashboard(db, licenses.today(), days)
    return render(
        request,
        "dashboard/leader.html",
        d=figures,
        period=days,
        daily=charts.daily_columns(figures.days, list(CHANNELS)),
        channels=CHANNELS,
        reduction_labels=REDUCTION_LABELS,
        resolution_labels=RESOLUTION_LABELS,
    )
