"""Staff pages of pre-review: overrule a finding, ask for 补正 from the findings (the panel
itself is part of the case pages)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from tongban.cases.staff_pages import STAFF
from tongban.cases.views import back_with
from tongban.deps import DbSession, RowId
from tongban.errors import DomainError
from tongban.identity.service import Principal
from tongban.licenses.api import registry_of
from tongban.portal.csrf import verify_csrf
from tongban.prereview import service as prereview

router = APIRouter(include_in_schema=False)


def _back(case_id: int) -> str:
    return f"/staff/cases/{case_id}"


@router.post("/staff/cases/{case_id}/prereview/overrule")
def overrule(
    request: Request,
    db: DbSession,
    case_id: RowId,
    principal: Annotated[Principal, Depends(STAFF)],
    rule: Annotated[str, Form(max_length=80)],
    reason: Annotated[str, Form(max_length=500)] = "",
    field: Annotated[str, Form(max_length=120)] = "",
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    verify_csrf(request, csrf_token)
    try:
        prereview.overrule(
            db, registry_of(request), principal, case_id, rule, field or None, reason
        )
    except DomainError as exc:
        if exc.status >= 500:
            raise
        db.rollback()
        return back_with(_back(case_id), exc)
    return RedirectResponse(_back(case_id), status_code=303)


@router.post("/staff/cases/{case_id}/prereview/correction")
def correction(
    request: Request,
    db: DbSession,
    case_id: RowId,
    principal: Annotated[Principal, Depends(STAFF)],
    note: Annotated[str, Form(max_length=500)] = "",
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    verify_csrf(request, csrf_token)
    try:
        prereview.request_correction(db, registry_of(request), principal, case_id, note or None)
    except DomainError as exc:
        if exc.status >= 500:
            raise
        db.rollback()
        return back_with(_back(case_id), exc)
    return RedirectResponse(_back(case_id), status_code=303)
