"""Staff pages of applications: the queue by deadline, a case with its actions, the window's
console (identify, prefilled form, scan materials, pad signature, submit) and its receipt."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tongban.access import allow
from tongban.cases import counter
from tongban.cases import files as case_files
from tongban.cases import service as cases
from tongban.cases.api import store_of
from tongban.cases.form import build_form
from tongban.cases.pages import Posted
from tongban.cases.views import (
    CHANNELS,
    NEEDS_REASON,
    RESOLUTIONS,
    STATUS,
    back_with,
    case_context,
    element_labels_en,
    matter_names_en,
    named,
    posted_form,
    posted_text,
    posted_values,
    refusal_code,
    refusal_text,
    with_labels_en,
)
from tongban.catalog.service import hall_names, matter_case_facts
from tongban.deps import DbSession, RowId, kept_on_refusal
from tongban.errors import DomainError
from tongban.idcode.api import codes_of
from tongban.idcode.render import qr_svg
from tongban.identity.schemas import Role
from tongban.identity.service import Principal
from tongban.licenses import service as licenses
from tongban.licenses.api import registry_of
from tongban.licenses.resolver import Applicant
from tongban.portal.csrf import verify_csrf
from tongban.portal.rendering import render

router = APIRouter(include_in_schema=False)
STAFF = allow(Role.WINDOW_STAFF, Role.REVIEWER)
WINDOW = allow(Role.WINDOW_STAFF)
ErrorCode = Annotated[str | None, Query(max_length=60)]


@router.get("/staff/queue", response_class=HTMLResponse)
def queue_page(
    request: Request,
    db: DbSession,
    principal: Annotated[Principal, Depends(STAFF)],
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    size = cases.QUEUE_PAGE
    rows, total = cases.queue_page(db, principal, page, size)
    english = matter_names_en(db, [c.matter_code for c in rows])
    return render(
        request,
        "cases/queue.html",
        rows=[
            (c, STATUS[c.status], named(c.matter_name, english.get(c.matter_code))) for c in rows
        ],
        total=total,
        page=page,
        pages=max(1, -(-total // size)),
        first=(page - 1) * size + 1,
        channels=CHANNELS,
        halls=hall_names(db, sorted({c.hall_key for c in rows if c.hall_key})),
    )


@router.get("/staff/cases/{case_id}", response_class=HTMLResponse)
def staff_case_page(
    request: Request,
    db: DbSession,
    case_id: RowId,
    principal: Annotated[Principal, Depends(STAFF)],
    error: ErrorCode = None,
) -> Response:
    case = cases.get_case(db, principal, case_id)
    cases.read_as_staff(db, principal, case)
    provides = cases.results_wanted(db, case)
    english = element_labels_en(db, [key for key, _ in provides])
    return render(
        request,
        "cases/staff_case.html",
        **case_context(request, db, principal, case),
        counter=cases.COUNTER in cases.roles_on(db, principal, case),
        needs_reason=NEEDS_REASON,
        provides=[(key, {"label": label, "label_en": english.get(key)}) for key, label in provides],
        error=refusal_text(error),
    )


@router.post("/staff/cases/{case_id}/act")
def staff_act(
    request: Request,
    db: DbSession,
    case_id: RowId,
    principal: Annotated[Principal, Depends(STAFF)],
    action: Annotated[str, Form(max_length=30)],
    data: Posted,
    reason: Annotated[str, Form(max_length=1000)] = "",
    detail: Annotated[str, Form(max_length=200)] = "",
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    verify_csrf(request, csrf_token)
    # 一件事: what an approval provides to the matters after it, posted as r.<data element>.
    wanted = [(key, "string") for key, _ in _provides(db, principal, case_id)]
    result = posted_values(data, wanted, "r.")
    try:
        cases.transition(
            db,
            registry_of(request),
            principal,
            case_id,
            action,
            reason or None,
            detail or None,
            result or None,
        )
    except DomainError as exc:
        if exc.status >= 500 or exc.status == 404:
            raise
        db.rollback()
        return back_with(f"/staff/cases/{case_id}", exc)
    return RedirectResponse(f"/staff/cases/{case_id}", status_code=303)


def _provides(db: DbSession, principal: Principal, case_id: int) -> list[tuple[str, str]]:
    return cases.results_wanted(db, cases.get_case(db, principal, case_id))


@router.post("/staff/cases/{case_id}/materials")
def staff_upload(
    request: Request,
    db: DbSession,
    case_id: RowId,
    principal: Annotated[Principal, Depends(WINDOW)],
    material: Annotated[str, Form(max_length=60)],
    file: Annotated[UploadFile, File()],
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    """The window scans a material, or saves the pad signature (material `_signature`)."""
    verify_csrf(request, csrf_token)
    registry = registry_of(request)
    data = file.file.read(registry.settings.max_upload_mb * 1024 * 1024 + 1)
    try:
        if material == case_files.SIGNATURE_KEY:
            cases.sign_at_pad(db, registry, store_of(request), principal, case_id, data)
        else:
            upload = cases.Upload(material, file.filename, data)
            cases.upload(db, registry, store_of(request), principal, case_id, upload)
    except DomainError as exc:
        if exc.status >= 500 or exc.status == 404:
            raise
        db.rollback()
        return back_with(f"/staff/cases/{case_id}", exc)
    return RedirectResponse(f"/staff/cases/{case_id}", status_code=303)


@router.get("/staff/cases/{case_id}/license.pdf")
def result_copy(
    request: Request,
    db: DbSession,
    case_id: RowId,
    principal: Annotated[Principal, Depends(STAFF)],
) -> Response:
    data, name = cases.result_copy(db, registry_of(request), principal, case_id)
    return Response(
        data,
        media_type="application/pdf",
        headers={"content-disposition": f'inline; filename="{name}"', "cache-control": "no-store"},
    )


@router.get("/staff/cases/{case_id}/receipt", response_class=HTMLResponse)
def receipt(
    request: Request,
    db: DbSession,
    case_id: RowId,
    principal: Annotated[Principal, Depends(STAFF)],
) -> Response:
    """受理回执: what was handed in, by when it will be done, and how to follow it."""
    case = cases.get_case(db, principal, case_id)
    if case.number is None:
        raise DomainError(
            code="not_submitted",
            title="办件尚未提交，不能打印回执",
            title_en="The case has not been submitted",
            status=409,
        )
    cases.read_as_staff(db, principal, case)
    return render(
        request,
        "cases/receipt.html",
        **case_context(request, db, principal, case),
        qr=qr_svg(f"{request.app.state.settings.region_code}:{case.number}"),
        person=counter.person_label(db, registry_of(request), case.person_id),
    )


# -- 综合受理: the window's console -------------------------------------------------------------


@router.get("/window", response_class=HTMLResponse)
def console(request: Request, principal: Annotated[Principal, Depends(WINDOW)]) -> Response:
    return render(request, "cases/window.html", visit=None, error=None, refused=None, form=None)


@router.post("/window", response_class=HTMLResponse)
def console_identify(
    request: Request,
    db: DbSession,
    principal: Annotated[Principal, Depends(WINDOW)],
    code: Annotated[str, Form(max_length=400)] = "",
    id_number: Annotated[str, Form(max_length=18)] = "",
    name: Annotated[str, Form(max_length=100)] = "",
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    verify_csrf(request, csrf_token)
    try:
        # A refused code or ID card is logged (the paper code's and the window's limits).
        with kept_on_refusal(db):
            visit = counter.start_visit(
                db,
                codes_of(request),
                principal,
                hall=None,
                code=code.strip() or None,
                id_number=id_number.strip() or None,
                name=name.strip() or None,
            )
    except DomainError as exc:
        if exc.status >= 500:
            raise
        return render(
            request,
            "cases/window.html",
            status_code=exc.status,
            visit=None,
            error=refusal_text(refusal_code(exc)) if exc.errors else None,
            refused=None if exc.errors else exc,
            form=None,
        )
    return RedirectResponse(f"/window/visits/{visit.id}", status_code=303)


def _console(
    request: Request,
    db: DbSession,
    principal: Principal,
    visit_id: int,
    matter: str | None,
    uscc: str | None = None,
    **extra: Any,
) -> Response:
    visit = counter.open_visit(db, principal, visit_id)
    registry = registry_of(request)
    acts_for = counter.acts_for(db, visit.person_id)
    form, enterprise_id = None, None
    if matter:
        if uscc:
            kind = matter_case_facts(db, matter).kind
            try:
                enterprise_id = counter.visit_enterprise(db, visit, uscc, kind)
            except DomainError as exc:
                extra.setdefault("refused", exc)
        counter.read_for_visit(db, principal, visit, "综合受理：查看预填申请表")
        if enterprise_id is not None or not uscc:  # no form for an enterprise refused above
            applicant = Applicant(visit.person_id, enterprise_id)
            form = with_labels_en(db, build_form(db, registry, matter, applicant, licenses.today()))
    context: dict[str, Any] = {"key": secrets.token_urlsafe(12), "errors": [], "values": {}}
    context.update({k: v for k, v in extra.items() if v is not None})
    refused = context.pop("refused", None)
    return render(
        request,
        "cases/window.html",
        status_code=422 if context["errors"] else 403 if refused else 200,
        visit=counter.visit_out(db, registry, visit),
        matter=matter,
        form=form,
        helped=_helped(form) if form else None,
        acts_for=acts_for,
        uscc=uscc if enterprise_id is not None else None,
        resolutions=RESOLUTIONS,
        error=None,
        refused=refused,
        **context,
    )


def _helped(form: dict[str, Any]) -> dict[str, Any]:
    """帮办 at a glance, the fields still to ask for as fields (their labels in two languages)."""
    helped = counter.assisted(form)
    helped["to_ask"] = [f for f in form["fields"] if f["value"] is None and f["required"]]
    return helped


@router.get("/window/visits/{visit_id}", response_class=HTMLResponse)
def console_visit(
    request: Request,
    db: DbSession,
    visit_id: RowId,
    principal: Annotated[Principal, Depends(WINDOW)],
    matter: Annotated[str | None, Query(pattern=r"^[0-9A-Z]{12}$")] = None,
    uscc: Annotated[str | None, Query(max_length=18)] = None,
) -> Response:
    return _console(request, db, principal, visit_id, matter, uscc or None)


@router.post("/window/visits/{visit_id}/cases", response_class=HTMLResponse)
def console_create(
    request: Request,
    db: DbSession,
    visit_id: RowId,
    principal: Annotated[Principal, Depends(WINDOW)],
    data: Posted,
) -> Response:
    verify_csrf(request, posted_text(data, "csrf_token", 100))
    matter = posted_text(data, "matter", 12) or ""
    key = posted_text(data, "idempotency_key", 100)
    uscc = posted_text(data, "uscc", 18)
    values = posted_form(db, data, matter)
    try:
        case = cases.create_case(
            db,
            registry_of(request),
            principal,
            cases.CreateRequest(
                matter, values, "window", uscc=uscc, idempotency_key=key, visit=visit_id
            ),
        )
    except DomainError as exc:
        if exc.code == "idempotency_key_reused":
            return RedirectResponse(f"/staff/cases/{exc.extra['case']}", status_code=303)
        if exc.status not in (403, 422):
            raise
        db.rollback()
        return _console(
            request,
            db,
            principal,
            visit_id,
            matter,
            uscc,
            key=key,
            errors=exc.errors,
            refused=None if exc.errors else exc,
            values={k: str(v) for k, v in values.items()},
        )
    return RedirectResponse(f"/staff/cases/{case.id}", status_code=303)
