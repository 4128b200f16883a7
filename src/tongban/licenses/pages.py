"""Portal pages of the license wallet: my licenses, one license with its history, downloads."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from tongban.access import AUTHENTICATED
from tongban.catalog.service import license_type_facts
from tongban.deps import DbSession
from tongban.identity.service import Principal
from tongban.licenses import service
from tongban.licenses.api import license_pdf_response, registry_of
from tongban.licenses.document import STATUS_LABELS
from tongban.portal.rendering import render

router = APIRouter(include_in_schema=False)

ACTION_LABELS = {
    "issued": "签发",
    "updated": "变更（新版本）",
    "superseded": "被新版本替代",
    "suspend": "暂扣",
    "restore": "恢复",
    "revoke": "撤销",
    "cancel": "注销",
    "transfer": "转出",
    "withdraw": "吊销",
    "expired": "到期失效",
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
        cards.append({"row": row, "doc": document, "status": STATUS_LABELS[row.status]})
    return render(request, "licenses/wallet.html", cards=cards)


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
    return render(
        request,
        "licenses/license.html",
        row=row,
        doc=document,
        status=STATUS_LABELS[row.status],
        labels={k: e.label for k, e in facts.fields.items()},
        events=service.history(db, row),
        actions=ACTION_LABELS,
        statuses=STATUS_LABELS,
    )


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
