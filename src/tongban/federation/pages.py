"""Portal pages of the federation: a person's licenses of other regions and their consents,
and the administrator's view of the peers, the agreed types and the message queues."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from tongban.access import AUTHENTICATED, allow
from tongban.cases.views import back_with, refusal_text
from tongban.catalog.models import LicenseType
from tongban.common.regions import REGION_NAMES_EN, region_name
from tongban.deps import DbSession
from tongban.errors import DomainError
from tongban.federation import peers, service, sharing
from tongban.federation.api import federation_of
from tongban.federation.peers import PeerRequest
from tongban.federation.schemas import ConsentCreate
from tongban.identity.schemas import Role
from tongban.identity.service import Principal
from tongban.licenses import recognized
from tongban.licenses import service as licenses
from tongban.licenses.document import STATUS_LABELS
from tongban.portal.csrf import verify_csrf
from tongban.portal.i18n import N_, Words
from tongban.portal.rendering import render

router = APIRouter(include_in_schema=False)
ADMINS = allow(Role.ADMIN)
# The purpose is posted and kept in Chinese (the peer records it); pages show it translated.
PURPOSES = (
    N_("在本市办事时免于提交纸质证照"),
    N_("办理居住证、积分、落户等事项"),
    N_("办理生育、入学、医保等事项"),
)
SOURCES = Words(
    {"shared": N_("本人授权调取"), "result": N_("跨省通办办结出具"), "presented": N_("窗口核验")}
)
# Chinese message ids: the page shows them translated.
FETCH_REFUSALS = {
    "peer_unavailable": N_("暂时无法连接对方地区平台，请稍后再试"),
    "person_not_found": N_("对方地区没有找到您的记录"),
    "consent_withdrawn": N_("该授权已撤回，请重新授权"),
    "consent_inactive": N_("该授权已撤回或已过期，请重新授权"),
    "peer_not_found": N_("未与该地区建立互信"),
}
STATUS_WORDS = Words(STATUS_LABELS)


def _region(code: str, name: str | None = None) -> tuple[str, str]:
    """A region's (Chinese, English) name, shown with `| bi`."""
    chinese = name or region_name(code)
    return chinese, REGION_NAMES_EN.get(code, chinese)


def _type_name(english: dict[str, str], name: str, local_key: str | None) -> tuple[str, str]:
    """A peer's license type as (its Chinese name, our agreed type's English name)."""
    return name, english.get(local_key or "", name)


def _english_type_names(db: DbSession) -> dict[str, str]:
    return {
        str(k): str(v) for k, v in db.execute(select(LicenseType.key, LicenseType.name_en)).all()
    }


@router.get("/me/peer-licenses", response_class=HTMLResponse)
def peer_licenses(
    request: Request,
    db: DbSession,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
    fetched: Annotated[int | None, Query(ge=0, le=1000)] = None,
    error: Annotated[str | None, Query(max_length=60)] = None,
) -> Response:
    enterprises = licenses.agent_enterprises(db, principal)
    today = licenses.today()
    english = _english_type_names(db)
    rows = [
        {
            "row": r,
            "type": _type_name(english, r.type_name, r.local_type_key),
            "region": _region(r.region_code),
            "usable": recognized.is_usable(r, today),
        }
        for r in recognized.held(db, principal.person_id, enterprises)
    ]
    consents = [
        {"c": c, "region": _region(c.peer_region), "active": c.withdrawn_at is None}
        for c in sharing.consents_of(db, principal)
    ]
    regions = [(p.region_code, _region(p.region_code, p.name)) for p in peers.peers(db) if p.active]
    return render(
        request,
        "federation/peer_licenses.html",
        rows=rows,
        consents=consents,
        regions=regions,
        purposes=PURPOSES,
        statuses=STATUS_WORDS,
        sources=SOURCES,
        fetched=fetched,
        error=FETCH_REFUSALS.get(error or "") or refusal_text(error),
    )


@router.get("/me/peer-licenses/{identifier}/json")
def download(
    request: Request,
    db: DbSession,
    identifier: Annotated[str, Path(max_length=120)],
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
) -> Response:
    """The signed document as the issuing region signed it (it verifies anywhere offline)."""
    held = recognized.held(db, principal.person_id, licenses.agent_enterprises(db, principal))
    row = next((r for r in held if r.identifier == identifier), None)
    if row is None:
        raise DomainError(
            code="license_not_found", title="证照不存在", title_en="No such license", status=404
        )
    document = recognized.document_of(db, federation_of(request).registry, row)
    return Response(
        json.dumps(document, ensure_ascii=False, indent=2),
        media_type="application/json",
        headers={
            "content-disposition": f'attachment; filename="license-{row.region_code}.json"',
            "cache-control": "no-store",
        },
    )


@router.post("/me/peer-licenses/fetch")
def fetch(
    request: Request,
    db: DbSession,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
    region: Annotated[str, Form(pattern=r"^[1-8][0-9]0000$")],
    purpose: Annotated[str, Form(min_length=2, max_length=200)],
    days: Annotated[int, Form(ge=1, le=365)] = 90,
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    """Consent and fetch in one step: the consent is kept (and can be withdrawn below)."""
    verify_csrf(request, csrf_token)
    fed = federation_of(request)
    try:
        consent = sharing.give_consent(
            db, principal, ConsentCreate(region=region, purpose=purpose, days=days)
        )
        # Committed before asking the peer: on SQLite an open write would hold the database
        # while we wait for it. The consent stands either way (it can be withdrawn below).
        db.commit()
        found = sharing.fetch_from_peer(db, fed, principal, consent.id)
    except DomainError as exc:
        if exc.status >= 500 and exc.code != "peer_unavailable":
            raise
        db.rollback()
        return back_with("/me/peer-licenses", exc)
    return RedirectResponse(f"/me/peer-licenses?fetched={len(found.kept)}", status_code=303)


@router.post("/me/peer-consents/{consent_id}/withdraw")
def withdraw(
    request: Request,
    db: DbSession,
    consent_id: str,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    verify_csrf(request, csrf_token)
    sharing.withdraw_consent(db, federation_of(request).registry, principal, consent_id[:32])
    return RedirectResponse("/me/peer-licenses", status_code=303)


@router.get("/admin/federation", response_class=HTMLResponse)
def admin(
    request: Request,
    db: DbSession,
    _: Annotated[Principal, Depends(ADMINS)],
    error: Annotated[str | None, Query(max_length=60)] = None,
) -> Response:
    fed = federation_of(request)
    english = _english_type_names(db)
    trusted = [
        {
            "p": p,
            "name": _region(p.region_code, p.name),
            "agreements": [
                _type_name(english, a.peer_type_name, a.local_type_key)
                for a in peers.agreements(db, p.region_code)
            ],
        }
        for p in peers.peers(db)
    ]
    return render(
        request,
        "federation/admin.html",
        region=fed.region,
        peers=trusted,
        queues=service.overview(db),
        dead=service.dead_letters(db),
        error=FETCH_REFUSALS.get(error or "") or refusal_text(error),
    )


@router.post("/admin/federation/peers")
def admin_add_peer(
    request: Request,
    db: DbSession,
    principal: Annotated[Principal, Depends(ADMINS)],
    url: Annotated[str, Form(min_length=8, max_length=500)],
    fingerprint: Annotated[str | None, Form(max_length=64)] = None,
    agree_shared: Annotated[bool, Form()] = False,
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    verify_csrf(request, csrf_token)
    try:
        peers.add_peer(
            db,
            federation_of(request),
            f"account:{principal.account_id}",
            PeerRequest(url, (fingerprint or "").strip() or None, (), agree_shared),
        )
    except DomainError as exc:
        if exc.status >= 500 and exc.code != "peer_unavailable":
            raise
        db.rollback()
        return back_with("/admin/federation", exc)
    return RedirectResponse("/admin/federation", status_code=303)


@router.post("/admin/federation/dead-letters/in/{message_id}/skip")
def admin_skip(
    request: Request,
    db: DbSession,
    message_id: str,
    principal: Annotated[Principal, Depends(ADMINS)],
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    verify_csrf(request, csrf_token)
    service.skip(db, f"account:{principal.account_id}", message_id[:32])
    return RedirectResponse("/admin/federation", status_code=303)


@router.post("/admin/federation/dead-letters/{direction}/{message_id}/replay")
def admin_replay(
    request: Request,
    db: DbSession,
    direction: str,
    message_id: str,
    principal: Annotated[Principal, Depends(ADMINS)],
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    verify_csrf(request, csrf_token)
    if direction not in ("in", "out"):
        raise DomainError(code="not_found", title="页面不存在", title_en="Not found", status=404)
    actor = f"account:{principal.account_id}"
    service.replay(db, federation_of(request), actor, direction, message_id[:32])
    return RedirectResponse("/admin/federation", status_code=303)
