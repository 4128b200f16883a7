"""Pages of 一业一证: find the industry by what you are opening, answer a few questions, see
the one checklist (which permits, what to bring, how long) next to applying for each."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from tongban.access import AUTHENTICATED, PUBLIC, current_principal
from tongban.cases.pages import Posted
from tongban.cases.views import back_with, posted_text, refusal_text
from tongban.catalog.models import LicenseType
from tongban.deps import DbSession
from tongban.errors import DomainError
from tongban.idcode.render import qr_svg
from tongban.identity.models import Enterprise
from tongban.identity.service import Principal
from tongban.industry import service as industry
from tongban.industry.service import Checklist
from tongban.licenses import service as licenses
from tongban.licenses.api import registry_of
from tongban.onething.views import VIA, english_names
from tongban.portal.csrf import verify_csrf
from tongban.portal.i18n import N_, Words, gettext, requested_language, speaking
from tongban.portal.rendering import render

router = APIRouter(include_in_schema=False)
LABELS = Words(
    {
        "permits": N_("许可证件"),
        "applications": N_("申请次数"),
        "forms": N_("申请表"),
        "materials": N_("申请材料"),
        "days": N_("办理时间（工作日）"),
    }
)


@router.get("/industries", response_class=HTMLResponse, dependencies=[Depends(PUBLIC)])
def industries_page(
    request: Request, db: DbSession, q: Annotated[str | None, Query(max_length=50)] = None
) -> Response:
    rows = industry.industries(db, q)
    return render(request, "industry/list.html", rows=rows, q=q or "")


@router.get("/industries/{code}", response_class=HTMLResponse, dependencies=[Depends(PUBLIC)])
def industry_page(request: Request, db: DbSession, code: str) -> Response:
    """一单告知: the questions; once all are answered, the one checklist."""
    row = industry.industry(db, code)
    keys = [q.key for q in row.entry.questions]
    given = {k: request.query_params[k] for k in keys if request.query_params.get(k)}
    amends = request.query_params.get("amends") or None
    checklist: Checklist | None = None
    error = None
    if len(given) == len(keys):
        try:
            checklist = industry.checklist(db, code, given)
        except DomainError as exc:
            if exc.status != 422:
                raise
            error = N_("请从选项中作答")
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
        error=error or refusal_text(request.query_params.get("error")),
        amends=amends[:120] if amends else None,
        enterprises=_enterprises(db, request),
        key=secrets.token_urlsafe(12),
        names=english_names(db, [t.code for t in checklist.plan.tasks] if checklist else []),
    )


def _enterprises(db: DbSession, request: Request) -> list[dict[str, str]]:
    """The enterprises the logged-in caller acts for (to apply in whose name)."""
    principal = current_principal(request, db)
    if principal is None:
        return []
    return [
        {"uscc": e.uscc, "name": e.name}
        for e in (db.get(Enterprise, i) for i in licenses.agent_enterprises(db, principal))
        if e is not None
    ]


@router.post("/industries/{code}/start")
def start(
    request: Request,
    db: DbSession,
    code: str,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
    data: Posted,
) -> Response:
    """一表申请 from the checklist: a new license, or (with `amends`) a change or a renewal."""
    verify_csrf(request, posted_text(data, "csrf_token", 100))
    row = industry.industry(db, code)
    answers = {
        q.key: str(data.get(f"a.{q.key}")) for q in row.entry.questions if data.get(f"a.{q.key}")
    }
    amends = posted_text(data, "amends", 120)
    try:
        bc = industry.apply(
            db,
            registry_of(request),
            principal,
            industry.ApplyRequest(
                industry=code,
                uscc=posted_text(data, "uscc", 18) or "",
                answers=answers,
                idempotency_key=posted_text(data, "idempotency_key", 100),
                delivery=posted_text(data, "delivery", 12),
                amends=amends,
                renew=posted_text(data, "renew", 5) == "1",
            ),
        )
    except DomainError as exc:
        if exc.code == "idempotency_key_reused":
            return RedirectResponse(f"/bundle-cases/{exc.extra['bundle_case']}", status_code=303)
        if exc.status not in (403, 404, 409, 422):
            raise
        db.rollback()
        return back_with(f"/industries/{code}", exc)
    return RedirectResponse(f"/bundle-cases/{bc.id}", status_code=303)


@router.post("/industries/{code}/cancel")
def cancel(
    request: Request,
    db: DbSession,
    code: str,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
    identifier: Annotated[str, Form(max_length=120)],
    uscc: Annotated[str, Form(max_length=18)],
    reason: Annotated[str, Form(max_length=500)] = "",
    back: Annotated[int, Form(ge=1, le=2**31 - 1)] = 1,
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    verify_csrf(request, csrf_token)
    try:
        industry.cancel_license(db, registry_of(request), principal, code, identifier, uscc, reason)
    except DomainError as exc:
        if exc.status >= 500:
            raise
        db.rollback()
        return back_with(f"/bundle-cases/{back}", exc)
    return RedirectResponse(f"/bundle-cases/{back}", status_code=303)


@router.get(
    "/industry-licenses/{identifier}",
    response_class=HTMLResponse,
    dependencies=[Depends(PUBLIC)],
)
def public_license_page(request: Request, db: DbSession, identifier: str) -> Response:
    """Where the comprehensive license's QR leads: every permit on one page."""
    view = industry.public_view(db, registry_of(request), identifier[:120])
    return render(request, "industry/license.html", lic=view, titles=_titles(db, view))


def _titles(db: DbSession, view: dict[str, Any]) -> dict[str, dict[str, str | None]]:
    """The license type's and the industry's names as the license has them, with the
    catalog's English beside them (a page in English shows those, through `| local`)."""
    by_name = {r.entry.name: r.entry for r in industry.industries(db)}
    entry = by_name.get(str(view["industry"] or ""))
    english = select(LicenseType.name_en).where(LicenseType.name == view["type"])
    type_en = db.scalars(english).first()
    return {
        "type": {"name": view["type"], "name_en": type_en},
        "industry": {"name": view["industry"], "name_en": entry.name_en if entry else None},
    }


def license_qr(request: Request, identifier: str) -> str:
    """The QR of a comprehensive license: the address of its public page."""
    # Made before the page renders: worded here in the language the page will speak.
    with speaking(requested_language(request)):
        title = gettext("行业综合许可证")
    return qr_svg(str(request.url_for("public_license_page", identifier=identifier)), title=title)
