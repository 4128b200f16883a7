"""The applicant's pages: apply in steps, my cases, one case, and 代办 authorizations. Every
page works without JavaScript: plain forms that post and redirect, with a refusal shown on the
page it came from."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from tongban.access import AUTHENTICATED
from tongban.cases import proxies
from tongban.cases import service as cases
from tongban.cases.api import file_response, store_of
from tongban.cases.form import build_form, form_for
from tongban.cases.models import Case
from tongban.cases.views import (
    RESOLUTIONS,
    STATUS,
    back_with,
    bundle_names_en,
    case_context,
    department_name_en,
    form_data,
    matter_names_en,
    named,
    posted_form,
    posted_id,
    posted_text,
    refusal_text,
    with_labels_en,
)
from tongban.catalog.service import matter_case_facts
from tongban.common.masking import mask_name
from tongban.deps import DbSession, RowId
from tongban.errors import DomainError
from tongban.identity.models import Enterprise, Person
from tongban.identity.service import Principal
from tongban.licenses import service as licenses
from tongban.licenses.api import registry_of
from tongban.licenses.resolver import Applicant
from tongban.portal.csrf import verify_csrf
from tongban.portal.i18n import Words, gettext, requested_language, speaking
from tongban.portal.rendering import render

router = APIRouter(include_in_schema=False)
Posted = Annotated[FormData, Depends(form_data)]
ProxyId = Annotated[int | None, Query(ge=1, le=2**31 - 1)]


# -- applying ----------------------------------------------------------------------------------


def _choices(session: Session, principal: Principal) -> dict[str, Any]:
    """For whom the caller may apply besides themselves: relatives who authorized them, and
    enterprises they act for."""
    held = [
        proxies.out(session, principal, p)
        for p in proxies.mine(session, principal)
        if p.agent_person_id == principal.person_id and proxies.is_active(p)
    ]
    enterprises = [
        {"uscc": e.uscc, "name": e.name}
        for e in (
            session.get(Enterprise, i) for i in licenses.agent_enterprises(session, principal)
        )
        if e is not None
    ]
    return {"held": held, "enterprises": enterprises}


def _apply_page(
    request: Request,
    db: DbSession,
    principal: Principal,
    code: str,
    *,
    uscc: str | None,
    proxy: int | None,
    key: str | None = None,
    errors: list[Any] | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    form = form_for(db, registry_of(request), principal, code, uscc=uscc, proxy=proxy)
    matter = matter_case_facts(db, code)
    return render(
        request,
        "cases/apply.html",
        status_code=422 if errors else 200,
        matter=matter,
        matter_name=named(matter.name, matter_names_en(db, [code]).get(code)),
        department=named(matter.department_name, department_name_en(db, matter.department_key)),
        form=with_labels_en(db, form),
        proxy=proxy,
        uscc=uscc,
        **_choices(db, principal),
        relations=Words(proxies.RELATIONS),
        resolutions=RESOLUTIONS,
        # The page's own key: a double click or a resent form makes one draft, not two.
        key=key or secrets.token_urlsafe(12),
        errors=errors or [],
        values={k: str(v) for k, v in (values or {}).items()},
    )


@router.get("/matters/{code}/apply", response_class=HTMLResponse)
def apply_page(
    request: Request,
    db: DbSession,
    code: str,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
    proxy: ProxyId = None,
    uscc: Annotated[str | None, Query(max_length=18)] = None,
) -> Response:
    return _apply_page(request, db, principal, code, uscc=uscc or None, proxy=proxy)


@router.post("/matters/{code}/apply", response_class=HTMLResponse)
def apply_submit(
    request: Request,
    db: DbSession,
    code: str,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
    data: Posted,
) -> Response:
    verify_csrf(request, posted_text(data, "csrf_token", 100))
    proxy = posted_id(data, "proxy")
    uscc = posted_text(data, "uscc", 18)
    key = posted_text(data, "idempotency_key", 100)
    values = posted_form(db, data, code)
    try:
        case = cases.create_case(
            db,
            registry_of(request),
            principal,
            cases.CreateRequest(
                code, values, "web", uscc, submit=False, idempotency_key=key, proxy=proxy
            ),
        )
    except DomainError as exc:
        if exc.code == "idempotency_key_reused":  # sent again after going back: the draft
            return RedirectResponse(f"/me/cases/{exc.extra['case']}", status_code=303)
        if exc.status != 422:
            raise
        db.rollback()
        return _apply_page(
            request,
            db,
            principal,
            code,
            uscc=uscc,
            proxy=proxy,
            key=key,
            errors=exc.errors,
            values=values,
        )
    return RedirectResponse(f"/me/cases/{case.id}", status_code=303)


# -- my cases ----------------------------------------------------------------------------------


@router.get("/me/cases", response_class=HTMLResponse)
def my_cases_page(
    request: Request, db: DbSession, principal: Annotated[Principal, Depends(AUTHENTICATED)]
) -> Response:
    rows = [c for c in cases.my_cases(db, principal) if c.bundle_case_id is None]
    # 一件事: one line per bundle, its tasks inside it.
    from tongban.onething import service as bundles

    mine = bundles.my_bundle_cases(db, principal)
    bundle_en = bundle_names_en(db, mine)
    with speaking(requested_language(request)):  # the line is worded now, in the page's words
        grouped = [
            (
                b,
                bundles.status_line(b, bundles.tasks_of(db, b), gettext),
                named(b.bundle_name, bundle_en[b.id]),
            )
            for b in mine
        ]
    english = matter_names_en(db, [c.matter_code for c in rows])
    return render(
        request,
        "cases/mine.html",
        rows=[
            (c, STATUS[c.status], named(c.matter_name, english.get(c.matter_code))) for c in rows
        ],
        bundles=grouped,
    )


@router.get("/me/cases/{case_id}", response_class=HTMLResponse)
def my_case_page(
    request: Request,
    db: DbSession,
    case_id: RowId,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
    error: Annotated[str | None, Query(max_length=60)] = None,
) -> Response:
    case = cases.get_case(db, principal, case_id)
    if cases.APPLICANT not in cases.roles_on(db, principal, case):
        return RedirectResponse(f"/staff/cases/{case.id}", status_code=303)
    return render(
        request,
        "cases/case.html",
        **case_context(request, db, principal, case),
        error=refusal_text(error),
    )


def _case_form(db: DbSession, case: Case, request: Request) -> dict[str, Any]:
    applicant = Applicant(case.person_id, case.enterprise_id)
    return build_form(db, registry_of(request), case.matter_code, applicant, licenses.today())


def _edit_page(
    request: Request,
    db: DbSession,
    case: Case,
    values: dict[str, Any],
    errors: list[Any],
) -> Response:
    return render(
        request,
        "cases/edit.html",
        status_code=422 if errors and request.method == "POST" else 200,
        case=case,
        matter_name=named(
            case.matter_name, matter_names_en(db, [case.matter_code]).get(case.matter_code)
        ),
        status=STATUS[case.status],
        form=with_labels_en(db, _case_form(db, case, request)),
        values={k: str(v) for k, v in values.items()},
        errors=errors,
    )


@router.get("/me/cases/{case_id}/edit", response_class=HTMLResponse)
def edit_page(
    request: Request,
    db: DbSession,
    case_id: RowId,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
    check: bool = False,
) -> Response:
    """The form to change; with `check`, each field that stops the submission says why."""
    case = cases.get_case(db, principal, case_id)
    if not cases.may_edit(db, principal, case):
        return RedirectResponse(f"/me/cases/{case.id}", status_code=303)
    registry = registry_of(request)
    problems = cases.form_problems(db, registry, case) if check else []
    return _edit_page(request, db, case, cases.form_of(db, registry, case), problems)


@router.post("/me/cases/{case_id}/edit", response_class=HTMLResponse)
def edit_submit(
    request: Request,
    db: DbSession,
    case_id: RowId,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
    data: Posted,
) -> Response:
    verify_csrf(request, posted_text(data, "csrf_token", 100))
    case = cases.get_case(db, principal, case_id)
    values = posted_form(db, data, case.matter_code)
    try:
        cases.update_form(db, registry_of(request), principal, case_id, values)
    except DomainError as exc:
        if exc.status != 422:
            raise
        db.rollback()
        return _edit_page(request, db, cases.get_case(db, principal, case_id), values, exc.errors)
    return RedirectResponse(f"/me/cases/{case_id}", status_code=303)


def _step(db: DbSession, case_id: int, run: Callable[[], object]) -> Response:
    """One step from the case page; a refusal comes back to the page (and changes nothing)."""
    try:
        run()
    except DomainError as exc:
        if exc.status >= 500 or exc.status == 404:
            raise
        db.rollback()
        if any(e.field.startswith("form.") for e in exc.errors):
            # The form is incomplete: show it with each field's problem beside it.
            return RedirectResponse(f"/me/cases/{case_id}/edit?check=1", status_code=303)
        return back_with(f"/me/cases/{case_id}", exc)
    return RedirectResponse(f"/me/cases/{case_id}", status_code=303)


@router.post("/me/cases/{case_id}/materials")
def upload_page(
    request: Request,
    db: DbSession,
    case_id: RowId,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
    material: Annotated[str, Form(max_length=60)],
    file: Annotated[UploadFile, File()],
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    verify_csrf(request, csrf_token)
    registry = registry_of(request)

    def run() -> None:
        data = file.file.read(registry.settings.max_upload_mb * 1024 * 1024 + 1)
        upload = cases.Upload(material, file.filename, data)
        cases.upload(db, registry, store_of(request), principal, case_id, upload)

    return _step(db, case_id, run)


@router.post("/me/cases/{case_id}/files/{file_id}/delete")
def delete_file_page(
    request: Request,
    db: DbSession,
    case_id: RowId,
    file_id: RowId,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    verify_csrf(request, csrf_token)

    def run() -> None:
        cases.remove_file(db, principal, case_id, file_id)

    return _step(db, case_id, run)


@router.get("/cases/{case_id}/files/{file_id}")
def file_page(
    request: Request,
    db: DbSession,
    case_id: RowId,
    file_id: RowId,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
) -> Response:
    """An uploaded file from a page (the applicant's or staff's; staff reads are logged)."""
    row, data = cases.read_file(
        db, registry_of(request), store_of(request), principal, case_id, file_id
    )
    return file_response(row, data)


@router.post("/me/cases/{case_id}/delivery")
def delivery_page(
    request: Request,
    db: DbSession,
    case_id: RowId,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
    method: Annotated[str, Form(max_length=12)],
    address: Annotated[str, Form(max_length=200)] = "",
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    verify_csrf(request, csrf_token)

    def run() -> None:
        cases.choose_delivery(db, registry_of(request), principal, case_id, method, address)

    return _step(db, case_id, run)


@router.post("/me/cases/{case_id}/act")
def applicant_act(
    request: Request,
    db: DbSession,
    case_id: RowId,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
    action: Annotated[str, Form(max_length=30)],
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    verify_csrf(request, csrf_token)

    def run() -> None:
        if action not in ("submit", "resubmit"):
            raise DomainError(
                code="transition_not_allowed",
                title="不能进行此操作",
                title_en="Not allowed",
                status=409,
            )
        cases.transition(db, registry_of(request), principal, case_id, action, None)

    return _step(db, case_id, run)


# -- 代办: authorizing a relative -----------------------------------------------------------------


@router.get("/me/proxies", response_class=HTMLResponse)
def proxies_page(
    request: Request,
    db: DbSession,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
    error: Annotated[str | None, Query(max_length=60)] = None,
) -> Response:
    rows = [proxies.out(db, principal, p) for p in proxies.mine(db, principal)]
    return render(
        request,
        "cases/proxies.html",
        rows=rows,
        relations=Words(proxies.RELATIONS),
        error=refusal_text(error),
    )


@router.post("/me/proxies")
def proxies_give(
    request: Request,
    db: DbSession,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
    agent_id_number: Annotated[str, Form(max_length=18)],
    agent_name: Annotated[str, Form(max_length=100)],
    relation: Annotated[str, Form(max_length=12)],
    days: Annotated[int, Form(ge=1, le=365)] = 90,
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    verify_csrf(request, csrf_token)
    me = db.get(Person, principal.person_id) if principal.person_id else None
    if me is None:
        raise DomainError(
            code="no_person",
            title="该账号不能授权代办",
            title_en="This account cannot authorize anyone",
            status=403,
        )
    try:
        proxies.authorize(
            db,
            registry_of(request).keyring,
            principal,
            me,
            proxies.ProxyRequest(agent_id_number, agent_name, relation, ["*"], days),
            f"授权{mask_name(agent_name)}代办",
        )
    except DomainError as exc:
        if exc.status != 422:
            raise
        db.rollback()
        return back_with("/me/proxies", exc)
    return RedirectResponse("/me/proxies", status_code=303)


@router.post("/me/proxies/{proxy_id}/withdraw")
def proxies_withdraw(
    request: Request,
    db: DbSession,
    proxy_id: RowId,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    verify_csrf(request, csrf_token)
    proxies.withdraw(db, principal, proxy_id)
    return RedirectResponse("/me/proxies", status_code=303)
