"""Pages of 一件事: the bundles, a bundle's guide (questions, then what applies, what to bring,
how long), the metrics with a before/after chart, and a bundle case: the merged form and
materials while a draft, then its tasks as a timeline. Plain forms, no JavaScript needed."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tongban.access import AUTHENTICATED, PUBLIC
from tongban.cases import service as cases
from tongban.cases.api import store_of
from tongban.cases.pages import Posted
from tongban.cases.views import (
    ACTIONS,
    STATUS,
    back_with,
    posted_text,
    posted_values,
    refusal_text,
)
from tongban.catalog.schemas import BundleIn, IndustryIn
from tongban.catalog.service import get_bundle, get_industry, hall_names
from tongban.deps import DbSession, RowId
from tongban.errors import DomainError, NotFound
from tongban.identity.service import Principal
from tongban.licenses.api import registry_of
from tongban.onething import service as onething
from tongban.onething.plan import Plan
from tongban.onething.views import (
    AUDIENCE,
    BUNDLE_ACTIONS,
    VIA,
    bundle_case_out,
    english_names,
)
from tongban.portal.csrf import verify_csrf
from tongban.portal.i18n import N_, Words, gettext
from tongban.portal.rendering import render

router = APIRouter(include_in_schema=False)
BundleCode = Annotated[str, Query(pattern=r"^[a-z][a-z0-9-]{1,39}$")]
METRIC_LABELS = Words(
    {
        "steps": N_("办理环节"),
        "days": N_("办理时间（工作日）"),
        "materials": N_("申请材料"),
        "trips": N_("跑动次数"),
    }
)


@router.get("/bundles", response_class=HTMLResponse, dependencies=[Depends(PUBLIC)])
def bundles_page(request: Request, db: DbSession) -> Response:
    overview = onething.overview(db)
    by_code = {m["bundle"]: m for m in overview["bundles"]}
    rows = [(row.entry, by_code[row.entry.code]) for row in onething.bundles(db)]
    return render(request, "onething/list.html", rows=rows, audience=AUDIENCE)


@router.get("/bundles/metrics", response_class=HTMLResponse, dependencies=[Depends(PUBLIC)])
def metrics_page(request: Request, db: DbSession) -> Response:
    overview = onething.overview(db)
    english = {row.entry.code: row.entry.name_en for row in onething.bundles(db)}
    overview["bundles"] = [m | {"name_en": english.get(m["bundle"])} for m in overview["bundles"]]
    return render(
        request,
        "onething/metrics.html",
        overview=overview,
        labels=METRIC_LABELS,
        charts=[_chart(m) for m in overview["bundles"]],
        names=english_names(db, [p["code"] for m in overview["bundles"] for p in m["per_matter"]]),
    )


def _chart(m: dict[str, Any]) -> list[dict[str, Any]]:
    """Bars of one bundle's before and after, each metric scaled to its own before."""
    bars = []
    for key in METRIC_LABELS:
        before, after = m["before"][key], m["after"][key]
        scale = max(before, after, 1)
        bars.append(
            {
                "key": key,
                "before": before,
                "after": after,
                "before_width": round(300 * before / scale, 1),
                "after_width": round(300 * after / scale, 1),
                "reduction": m["reduction"][key],
            }
        )
    return bars


def _answers(request: Request, plan_questions: list[str]) -> dict[str, str] | None:
    given = {k: request.query_params[k] for k in plan_questions if request.query_params.get(k)}
    return given if len(given) == len(plan_questions) else None


@router.get("/bundles/{code}", response_class=HTMLResponse, dependencies=[Depends(PUBLIC)])
def guide_page(request: Request, db: DbSession, code: str) -> Response:
    """一次告知: the questions; once all are answered, what applies and what it takes."""
    row = onething.bundle(db, code)
    questions = [q.key for q in row.entry.questions]
    answers = _answers(request, questions)
    plan: Plan | None = None
    error = None
    if answers is not None or not questions:
        try:
            plan = onething.plan_for(db, code, answers or {})
        except DomainError as exc:
            if exc.status != 422:
                raise
            error = N_("请从选项中作答")
    partial = {k: request.query_params.get(k, "") for k in questions}
    return render(
        request,
        "onething/guide.html",
        status_code=422 if error else 200,
        bundle=row.entry,
        plan=plan,
        answers=partial,
        via=VIA,
        error=error,
        key=secrets.token_urlsafe(12),
        metrics=onething.metrics(plan) if plan else None,
        labels=METRIC_LABELS,
        founding=any(m.registers_enterprise for m in row.entry.matters),
        names=english_names(db, [t.code for t in plan.tasks] if plan else []),
    )


@router.post("/bundles/{code}/start")
def start_bundle(
    request: Request,
    db: DbSession,
    code: str,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
    data: Posted,
) -> Response:
    verify_csrf(request, posted_text(data, "csrf_token", 100))
    row = onething.bundle(db, code)
    answers = {
        q.key: str(data.get(f"a.{q.key}") or "")
        for q in row.entry.questions
        if data.get(f"a.{q.key}")
    }
    try:
        bc = onething.start(
            db,
            registry_of(request),
            principal,
            onething.StartRequest(
                bundle=code,
                answers=answers,
                channel="web",
                uscc=posted_text(data, "uscc", 18),
                idempotency_key=posted_text(data, "idempotency_key", 100),
                delivery=posted_text(data, "delivery", 12),
                delivery_address=posted_text(data, "delivery_address", 200),
            ),
        )
    except DomainError as exc:
        if exc.code == "idempotency_key_reused":
            return RedirectResponse(f"/bundle-cases/{exc.extra['bundle_case']}", status_code=303)
        if exc.status not in (403, 409, 422):
            raise
        db.rollback()
        return back_with(f"/bundles/{code}", exc)
    return RedirectResponse(f"/bundle-cases/{bc.id}", status_code=303)


def _case_page(
    request: Request,
    db: DbSession,
    principal: Principal,
    bc_id: int,
    *,
    errors: list[Any] | None = None,
    values: dict[str, Any] | None = None,
    error: str | None = None,
) -> Response:
    bc = onething.get_bundle_case(db, principal, bc_id)
    out = bundle_case_out(db, registry_of(request), principal, bc)
    roles = onething.roles_on(db, principal, bc)
    tasks = onething.tasks_of(db, bc)
    stages: dict[int, list[dict[str, Any]]] = {}
    for t in out["tasks"]:
        stages.setdefault(t["stage"], []).append(t)
    return render(
        request,
        "onething/case.html",
        status_code=422 if errors else 200,
        bc=out,
        title={"name": bc.bundle_name, "name_en": _name_en(db, bc)},
        # Worded while the page renders, so in the page's language.
        status_line=lambda: onething.status_line(bc, tasks, gettext),
        stages=[stages[k] for k in sorted(stages)],
        applicant=cases.APPLICANT in roles,
        window=cases.WINDOW in roles,
        halls=hall_names(db, [bc.hall_key] if bc.hall_key else []),
        status=STATUS,
        actions=Words({**ACTIONS, **BUNDLE_ACTIONS}),
        via=VIA,
        errors=errors or [],
        values={k: str(v) for k, v in (values or {}).items()},
        error=error,
        license_qr=_license_qr(request, bc),
        names=english_names(
            db, [t["code"] for t in bc.plan["tasks"]] + [c["code"] for c in bc.carried or []]
        ),
    )


def _name_en(db: DbSession, bc: Any) -> str | None:
    """The English name of the bundle or industry a bundle case was made for, while the
    catalog still calls it by the name the case was made under."""
    entry: BundleIn | IndustryIn
    try:
        if bc.kind == "bundle":
            entry = get_bundle(db, bc.bundle_code).entry
        else:
            entry = get_industry(db, bc.bundle_code).entry
    except NotFound:
        return None
    return entry.name_en if entry.name == bc.bundle_name else None


def _license_qr(request: Request, bc: Any) -> str | None:
    if bc.kind == "bundle" or not bc.license_identifier:
        return None
    # Imported here: the industry pages build on these.
    from tongban.industry.pages import license_qr

    return license_qr(request, bc.license_identifier)


@router.get("/bundle-cases/{bc_id}", response_class=HTMLResponse)
def bundle_case_page(
    request: Request,
    db: DbSession,
    bc_id: RowId,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
    error: Annotated[str | None, Query(max_length=60)] = None,
) -> Response:
    onething.read_as_staff(db, principal, onething.get_bundle_case(db, principal, bc_id))
    return _case_page(request, db, principal, bc_id, error=refusal_text(error))


@router.post("/bundle-cases/{bc_id}/form", response_class=HTMLResponse)
def save_form(
    request: Request,
    db: DbSession,
    bc_id: RowId,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
    data: Posted,
) -> Response:
    verify_csrf(request, posted_text(data, "csrf_token", 100))
    bc = onething.get_bundle_case(db, principal, bc_id)
    fields = [(f["key"], f["type"]) for f in bc.plan["fields"] if f["provided_by"] is None]
    values = posted_values(data, fields)
    try:
        onething.save_form(db, registry_of(request), principal, bc_id, values)
    except DomainError as exc:
        if exc.status != 422:
            return back_with(f"/bundle-cases/{bc_id}", exc)
        db.rollback()
        return _case_page(request, db, principal, bc_id, errors=exc.errors, values=values)
    return RedirectResponse(f"/bundle-cases/{bc_id}#materials", status_code=303)


@router.post("/bundle-cases/{bc_id}/materials")
def upload_material(
    request: Request,
    db: DbSession,
    bc_id: RowId,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
    material: Annotated[str, Form(min_length=1, max_length=200)],
    file: Annotated[UploadFile, File()],
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    verify_csrf(request, csrf_token)
    registry = registry_of(request)
    data = file.file.read(registry.settings.max_upload_mb * 1024 * 1024 + 1)
    try:
        onething.upload(
            db, registry, store_of(request), principal, bc_id, material, file.filename, data
        )
    except DomainError as exc:
        if exc.status >= 500 or exc.status == 404:
            raise
        db.rollback()
        return back_with(f"/bundle-cases/{bc_id}", exc)
    return RedirectResponse(f"/bundle-cases/{bc_id}#materials", status_code=303)


@router.post("/bundle-cases/{bc_id}/materials/remove")
def remove_material(
    request: Request,
    db: DbSession,
    bc_id: RowId,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
    material: Annotated[str, Form(min_length=1, max_length=200)],
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    verify_csrf(request, csrf_token)
    try:
        onething.remove_upload(db, principal, bc_id, material)
    except DomainError as exc:
        if exc.status >= 500 or exc.status == 404:
            raise
        db.rollback()
        return back_with(f"/bundle-cases/{bc_id}", exc)
    return RedirectResponse(f"/bundle-cases/{bc_id}#materials", status_code=303)


@router.post("/bundle-cases/{bc_id}/submit", response_class=HTMLResponse)
def submit(
    request: Request,
    db: DbSession,
    bc_id: RowId,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
    data: Posted,
) -> Response:
    verify_csrf(request, posted_text(data, "csrf_token", 100))
    try:
        onething.submit(db, registry_of(request), principal, bc_id)
    except DomainError as exc:
        if exc.status != 422:
            return back_with(f"/bundle-cases/{bc_id}", exc)
        db.rollback()
        return _case_page(request, db, principal, bc_id, errors=exc.errors)
    return RedirectResponse(f"/bundle-cases/{bc_id}", status_code=303)


@router.post("/staff/bundles/{bc_id}/deliver")
def deliver(
    request: Request,
    db: DbSession,
    bc_id: RowId,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
    detail: Annotated[str, Form(max_length=200)] = "",
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    verify_csrf(request, csrf_token)
    try:
        onething.deliver(db, registry_of(request), principal, bc_id, detail or None)
    except DomainError as exc:
        if exc.status >= 500 or exc.status == 404:
            raise
        db.rollback()
        return back_with(f"/bundle-cases/{bc_id}", exc)
    return RedirectResponse(f"/bundle-cases/{bc_id}", status_code=303)
