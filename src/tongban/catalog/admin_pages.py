"""The administrator's guide editor: the words of a guide and its promised time, changed in a
form and published as a new version through the same checks as a catalog load."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from tongban.access import allow
from tongban.cases.views import form_data, posted_text
from tongban.catalog import service
from tongban.catalog.schemas import MATTER_CODE_RE
from tongban.deps import DbSession
from tongban.errors import DomainError, FieldError
from tongban.identity.schemas import Role
from tongban.identity.service import Principal
from tongban.portal.csrf import verify_csrf
from tongban.portal.i18n import N_
from tongban.portal.rendering import render

router = APIRouter(include_in_schema=False)
ADMIN = allow(Role.ADMIN)
Posted = Annotated[FormData, Depends(form_data)]
MatterCodePath = Annotated[str, Path(pattern=MATTER_CODE_RE)]


def _edit_page(
    request: Request,
    db: DbSession,
    code: str,
    values: service.GuideEdit | None = None,
    errors: list[FieldError] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    entry = service.matter_entry(db, code)
    shown = values or service.GuideEdit(
        name=entry.name,
        name_en=entry.name_en,
        promised_days=entry.promised_limit.working_days,
        acceptance_conditions=list(entry.acceptance_conditions),
        description=entry.description,
        result=entry.result,
    )
    guide = service.get_guide(db, code)
    return render(
        request,
        "catalog/edit.html",
        status_code=status_code,
        guide=guide,
        values=shown,
        statutory=entry.statutory_limit.working_days if entry.statutory_limit else None,
        errors=errors or [],
        by_field=_by_form_field(errors or []),
        saved=request.query_params.get("saved"),
    )


@router.get("/admin/matters/{code}/edit", response_class=HTMLResponse)
def edit_page(
    request: Request,
    db: DbSession,
    code: MatterCodePath,
    principal: Annotated[Principal, Depends(ADMIN)],
) -> Response:
    return _edit_page(request, db, code)


@router.post("/admin/matters/{code}/edit", response_class=HTMLResponse)
def edit_submit(
    request: Request,
    db: DbSession,
    code: MatterCodePath,
    principal: Annotated[Principal, Depends(ADMIN)],
    data: Posted,
) -> Response:
    verify_csrf(request, posted_text(data, "csrf_token", 100))
    entry = service.matter_entry(db, code)
    statutory = entry.statutory_limit.working_days if entry.statutory_limit else None
    edit, problems = _posted_edit(data, statutory)
    if not problems:
        try:
            guide, published = service.edit_guide(db, code, edit, f"account:{principal.account_id}")
        except DomainError as exc:
            if exc.status != 422:
                raise
            db.rollback()
            problems = exc.errors
        else:
            saved = guide.version if published else "unchanged"
            return RedirectResponse(f"/admin/matters/{code}/edit?saved={saved}", status_code=303)
    return _edit_page(request, db, code, edit, problems, status_code=422)


# Where an entry's own checks name a field (`promised_limit.working_days`), the form's name.
FORM_FIELDS = {
    "promised_limit": "promised_days",
    "statutory_limit": "promised_days",
    "acceptance_conditions": "acceptance_conditions",
}


def _by_form_field(errors: list[FieldError]) -> dict[str, str]:
    found: dict[str, str] = {}
    for e in errors:
        head = e.field.split(".")[0]
        found.setdefault(FORM_FIELDS.get(head, head), e.message)
    return found


def _posted_edit(
    data: FormData, statutory: int | None
) -> tuple[service.GuideEdit, list[FieldError]]:
    problems: list[FieldError] = []
    days_text = posted_text(data, "promised_days", 5) or ""
    if not days_text.isdigit() or not 0 <= int(days_text) <= 365:
        problems.append(
            FieldError("promised_days", N_("承诺时限应为 0 到 365 之间的整数"), "invalid")
        )
    elif statutory is not None and int(days_text) > statutory:
        problems.append(FieldError("promised_days", N_("承诺时限不得超过法定时限"), "too_long"))
    conditions = [
        line.strip()
        for line in (posted_text(data, "acceptance_conditions", 5000) or "").splitlines()
        if line.strip()
    ]
    edit = service.GuideEdit(
        name=posted_text(data, "name", 200) or "",
        name_en=posted_text(data, "name_en", 300) or "",
        promised_days=int(days_text) if days_text.isdigit() else 0,
        acceptance_conditions=conditions,
        description=posted_text(data, "description", 2000),
        result=posted_text(data, "result", 200) or "",
    )
    for name, value in (("name", edit.name), ("name_en", edit.name_en), ("result", edit.result)):
        if not value:
            problems.append(FieldError(name, N_("此项必须填写"), "required"))
    return edit, problems
