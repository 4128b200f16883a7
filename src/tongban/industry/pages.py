"""Pages of 一业一证: find the industry by what you are opening, answer a few questions, see
the one checklist (which permits, what to bring, how long) next to applying for each."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from tongban.access import PUBLIC
from tongban.deps import DbSession
from tongban.errors import DomainError
from tongban.industry import service as industry
from tongban.industry.service import Checklist
from tongban.onething.views import VIA
from tongban.portal.rendering import render

router = APIRouter(include_in_schema=False, dependencies=[Depends(PUBLIC)])
LABELS = {
    "permits": "许可证件",
    "applications": "申请次数",
    "forms": "申请表",
    "materials": "申请材料",
    "days": "办理时间（工作日）",
}


@router.get("/industries", response_class=HTMLResponse)
def industries_page(
    request: Request, db: DbSession, q: Annotated[str | None, Query(max_length=50)] = None
) -> Response:
    rows = industry.industries(db, q)
    return render(request, "industry/list.html", rows=rows, q=q or "")


@router.get("/industries/{code}", response_class=HTMLResponse)
def industry_page(request: Request, db: DbSession, code: str) -> Response:
    """一单告知: the questions; once all are answered, the one checklist."""
    row = industry.industry(db, code)
    keys = [q.key for q in row.entry.questions]
    given = {k: request.query_params[k] for k in keys if request.query_params.get(k)}
    checklist: Checklist | None = None
    error = None
    if len(given) == len(keys):
        try:
            checklist = industry.checklist(db, code, given)
        except DomainError as exc:
            if exc.status != 422:
                raise
            error = "请从选项中作答"
    return render(
        request,
        "industry/guide.html",
        status_code=422 if error else 200,
        ind=row.entry,
        answers={k: request.query_params.get(k, "") for k in keys},
        checklist=checklist,
        metrics=industry.metrics(checklist) if checklist else None,
        labels=LABELS,
        via=VIA,
        error=error,
    )
