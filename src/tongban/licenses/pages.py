"""Portal pages of the license wallet: my licenses, one license with its history, downloads."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from starlette.datastructures import FormData

from tongban.access import AUTHENTICATED
from tongban.cases.views import form_data, posted_text
from tongban.catalog.models import Department, LicenseType
from tongban.catalog.service import license_type_facts
from tongban.deps import DbSession, RowId
from tongban.errors import DomainError, FieldError, validation_failed
from tongban.identity.service import Principal
from tongban.licenses import grants, service
from tongban.licenses.api import license_pdf_response, registry_of
from tongban.licenses.document import STATUS_LABELS
from tongban.licenses.models import License
from tongban.portal.csrf import verify_csrf
from tongban.portal.i18n import N_, Words
from tongban.portal.rendering import render

router = APIRouter(include_in_schema=False)

ACTION_LABELS = Words(
    {
        "issued": N_("签发"),
        "updated": N_("变更（新版本）"),
        "superseded": N_("被新版本替代"),
        "suspend": N_("暂扣"),
        "restore": N_("恢复"),
        "revoke": N_("撤销"),
        "cancel": N_("注销"),
        "transfer": N_("转出"),
        "withdraw": N_("吊销"),
        "expired": N_("到期失效"),
    }
)
STATUS_WORDS = Words(STATUS_LABELS)
Posted = Annotated[FormData, Depends(form_data)]
# What the holder is told when a grant is refused, by the refusal's code.
SHARE_REFUSALS = Words(
    {
        "unknown_grantee": N_("找不到被授权方：请核对对方提供的账号或所选部门。"),
        "unknown_field": N_("所选项目不在这本证照中。"),
        "days": N_("有效天数须为 1 到 365 之间的整数。"),
        "max_uses": N_("使用次数须为 1 到 10000 之间的整数，或留空不限。"),
        "purpose": N_("请写明用途（至少 2 个字）。"),
        "grantee": N_("请填写被授权方。"),
        "fields": N_("请至少选择一个要授权的项目。"),
        "grant_not_found": N_("这项授权不存在或已不属于您。"),
        "license_not_found": N_("您没有这个证照。"),
    }
)
GRANTEE_KINDS = Words({"account": N_("单位或个人的账号"), "department": N_("政府部门")})


def _names(db: DbSession, row: License, document: dict[str, Any]) -> dict[str, Any]:
    """The type's and the issuer's names as the signed document has them, with the catalog's
    English beside them (a page in English shows those, through `| local`)."""
    kind = db.get(LicenseType, row.type_id)
    issuer = db.get(Department, row.issuer_id)
    return {
        "type": {"name": document["type"]["name"], "name_en": kind.name_en if kind else None},
        "issuer": {
            "name": document["issuer"]["name"],
            "name_en": issuer.name_en if issuer else None,
        },
    }


@router.get("/me/licenses", response_class=HTMLResponse)
def wallet(
    request: Request, db: DbSession, principal: Annotated[Principal, Depends(AUTHENTICATED)]
) -> Response:
    registry = registry_of(request)
    rows = service.wallet(db, principal)
    cards = []
    for row in rows:
        document = service.document_of(db, registry, row)
        cards.append({"row": row, "doc": document, **_names(db, row, document)})
    return render(request, "licenses/wallet.html", cards=cards, statuses=STATUS_WORDS)


@router.get("/me/licenses/{identifier}", response_class=HTMLResponse)
def one(
    request: Request,
    db: DbSession,
    identifier: str,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
) -> Response:
    registry = registry_of(request)
    row = service.read_license(db, registry, principal, identifier)
    document = service.document_of(db, registry, row)
    facts = license_type_facts(db, document["type"]["key"])
    error = request.query_params.get("error")
    return render(
        request,
        "licenses/license.html",
        row=row,
        doc=document,
        labels=facts.fields,
        events=service.history(db, row),
        actions=ACTION_LABELS,
        statuses=STATUS_WORDS,
        grants=_grants_of(db, principal, row),
        departments=_departments(db),
        grantee_kinds=GRANTEE_KINDS,
        share_error=SHARE_REFUSALS[error] if error and error in SHARE_REFUSALS else None,
        shared=request.query_params.get("shared"),
        **_names(db, row, document),
    )


def _grants_of(db: DbSession, principal: Principal, row: License) -> list[dict[str, Any]]:
    """The holder's grants that cover this license, newest first, each with its uses."""
    out = []
    for grant in grants.my_grants(db, principal):
        if row.id in grant.license_ids:
            out.append({"grant": grant, "uses": grants.uses_of(db, grant)})
    return out


def _departments(db: DbSession) -> list[Department]:
    return list(db.scalars(select(Department).order_by(Department.key)))


@router.post("/me/licenses/{identifier}/grants")
def share(
    request: Request,
    db: DbSession,
    identifier: str,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
    data: Posted,
) -> Response:
    """用证授权 from the license page: whom, for what, which fields, how long, how often."""
    verify_csrf(request, posted_text(data, "csrf_token", 100))
    registry = registry_of(request)
    row = service.read_license(db, registry, principal, identifier)
    document = service.document_of(db, registry, row)
    back = f"/me/licenses/{row.identifier}"
    try:
        grant = grants.create_grant(db, registry, principal, _grant_request(data, row, document))
    except DomainError as exc:
        if exc.status not in (404, 422):
            raise
        db.rollback()
        return RedirectResponse(f"{back}?error={_refusal(exc)}#share", status_code=303)
    return RedirectResponse(f"{back}?shared={grant.id}#grants", status_code=303)


def _grant_request(data: FormData, row: License, document: dict[str, Any]) -> grants.GrantRequest:
    kind = posted_text(data, "grantee_kind", 20) or "account"
    grantee = (
        posted_text(data, "grantee", 80)
        if kind == "account"
        else posted_text(data, "department", 80)
    )
    fields = [str(f) for f in data.getlist("fields") if isinstance(f, str) and f]
    problems = []
    if kind not in GRANTEE_KINDS:
        problems.append(FieldError("grantee_kind", N_("请选择被授权方的类型"), "invalid"))
    if not grantee:
        problems.append(FieldError("grantee", N_("请填写被授权方。"), "grantee"))
    purpose = posted_text(data, "purpose", 500) or ""
    if len(purpose) < 2:
        problems.append(FieldError("purpose", N_("请写明用途（至少 2 个字）。"), "purpose"))
    if not fields:
        problems.append(FieldError("fields", N_("请至少选择一个要授权的项目。"), "fields"))
    days = _whole(data, "days", 1, 365, problems)
    max_uses = _whole(data, "max_uses", 1, 10_000, problems, optional=True)
    if problems:
        raise validation_failed(problems)
    every = set(document["content"])
    return grants.GrantRequest(
        grantee_kind=kind,
        grantee=str(grantee),
        identifiers=[row.identifier],
        fields=None if set(fields) == every else fields,
        purpose=purpose,
        days=days or 30,
        max_uses=max_uses,
        holder_uscc=document["holder"]["id"] if row.enterprise_id is not None else None,
    )


def _whole(
    data: FormData,
    name: str,
    low: int,
    high: int,
    problems: list[FieldError],
    optional: bool = False,
) -> int | None:
    raw = posted_text(data, name, 10)
    if raw is None and optional:
        return None
    if raw is None or not raw.isdigit() or not low <= int(raw) <= high:
        problems.append(FieldError(name, N_("数值超出范围"), name))
        return None
    return int(raw)


def _refusal(exc: DomainError) -> str:
    for e in exc.errors:
        if e.code in SHARE_REFUSALS:
            return e.code
    return exc.code if exc.code in SHARE_REFUSALS else "grantee"


@router.post("/me/licenses/{identifier}/grants/{grant_id}/withdraw")
def withdraw_share(
    request: Request,
    db: DbSession,
    identifier: str,
    grant_id: RowId,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
    data: Posted,
) -> Response:
    verify_csrf(request, posted_text(data, "csrf_token", 100))
    row = service.read_license(db, registry_of(request), principal, identifier)
    try:
        grants.withdraw_grant(db, principal, grant_id)
    except DomainError as exc:
        if exc.status != 404:
            raise
        return RedirectResponse(
            f"/me/licenses/{row.identifier}?error=grant_not_found", status_code=303
        )
    return RedirectResponse(f"/me/licenses/{row.identifier}#grants", status_code=303)


@router.get("/me/licenses/{identifier}/json")
def download_json(
    request: Request,
    db: DbSession,
    identifier: str,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
) -> Response:
    registry = registry_of(request)
    row = service.read_license(db, registry, principal, identifier)
    body = json.dumps(service.document_of(db, registry, row), ensure_ascii=False, indent=2)
    name = f"license-{row.serial}-{row.version}.json"
    return Response(
        body,
        media_type="application/json",
        headers={
            "content-disposition": f'attachment; filename="{name}"',
            "cache-control": "no-store",
        },
    )


@router.get("/me/licenses/{identifier}/pdf")
def download_pdf(
    request: Request,
    db: DbSession,
    identifier: str,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
) -> Response:
    return license_pdf_response(db, registry_of(request), principal, identifier)
