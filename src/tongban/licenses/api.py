"""HTTP API of the license registry: issue, change, read, verify, the status list."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from tongban.access import AUTHENTICATED, PUBLIC, allow
from tongban.common.ratelimit import rate_limited
from tongban.deps import DbSession, RowId
from tongban.errors import DomainError
from tongban.federation import sharing
from tongban.identity.api import client_address
from tongban.identity.schemas import Role
from tongban.identity.service import Principal
from tongban.licenses import grants, service
from tongban.licenses.document import STATUS_LABELS
from tongban.licenses.resolver import Applicant
from tongban.licenses.resolver import resolve_materials as resolve
from tongban.licenses.schemas import (
    EventOut,
    GrantIn,
    GrantOut,
    IssueIn,
    LicenseList,
    PresentationIn,
    StatusIn,
    UseOut,
    VerificationOut,
    VersionIn,
)
from tongban.licenses.service import Actor, IssueRequest, Registry

router = APIRouter(prefix="/api/v1", tags=["licenses 电子证照"])
ISSUERS = allow(Role.ISSUER)


def registry_of(request: Request) -> Registry:
    registry: Registry | None = request.app.state.licenses
    if registry is None:
        raise DomainError(
            code="keys_unavailable",
            title="电子证照服务暂不可用",
            title_en="Licenses are unavailable: no key-encryption key is configured",
            status=503,
        )
    return registry


def _document(db: DbSession, registry: Registry, row: Any) -> JSONResponse:
    """The signed document exactly as signed (so it verifies as it is), the status beside it."""
    return JSONResponse(
        service.document_of(db, registry, row),
        headers={"x-license-status": row.status, "cache-control": "no-store"},
    )


@router.post("/licenses", status_code=201, summary="Issue a license (the type's department)")
def issue(
    request: Request,
    db: DbSession,
    body: IssueIn,
    principal: Annotated[Principal, Depends(ISSUERS)],
) -> JSONResponse:
    registry = registry_of(request)
    row = service.issue_license(
        db,
        registry,
        Actor.of(principal),
        IssueRequest(
            type_key=body.type,
            holder_id_number=body.holder_id_number,
            holder_uscc=body.holder_uscc,
            content=body.content,
            valid_from=body.valid_from,
            valid_until=body.valid_until,
            matter_code=body.matter_code,
            license_number=body.license_number,
            paper_number=body.paper_number,
        ),
    )
    response = _document(db, registry, row)
    response.status_code = 201
    return response


@router.post(
    "/licenses/{identifier}/versions",
    status_code=201,
    summary="Change a license: a new version; the old one is superseded",
)
def new_version(
    request: Request,
    db: DbSession,
    identifier: str,
    body: VersionIn,
    principal: Annotated[Principal, Depends(ISSUERS)],
) -> JSONResponse:
    registry = registry_of(request)
    row = service.new_version(
        db, registry, Actor.of(principal), identifier, body.content, body.valid_until, body.reason
    )
    response = _document(db, registry, row)
    response.status_code = 201
    return response


@router.post(
    "/licenses/{identifier}/status",
    summary="Suspend, restore, revoke, cancel, transfer or withdraw a license",
)
def change_status(
    request: Request,
    db: DbSession,
    identifier: str,
    body: StatusIn,
    principal: Annotated[Principal, Depends(ISSUERS)],
) -> dict[str, Any]:
    registry = registry_of(request)
    row = service.change_status(
        db, registry, Actor.of(principal), identifier, body.action, body.reason
    )
    return {"identifier": row.identifier, "status": row.status, "label": STATUS_LABELS[row.status]}


@router.get(
    "/me/licenses",
    response_model=LicenseList,
    summary="My licenses (and, for an agent, my enterprises'), current versions",
)
def my_licenses(
    request: Request, db: DbSession, principal: Annotated[Principal, Depends(AUTHENTICATED)]
) -> LicenseList:
    registry = registry_of(request)
    rows = service.wallet(db, principal)
    return LicenseList(
        items=[service.document_of(db, registry, r) for r in rows],
        statuses={r.identifier: r.status for r in rows},
    )


@router.get(
    "/licenses/status-list",
    dependencies=[Depends(PUBLIC)],
    summary="Every license that is not simply valid, signed by the region's root key",
)
def status_list(request: Request, db: DbSession) -> JSONResponse:
    document = service.status_list(db, registry_of(request))
    return JSONResponse(document, headers={"cache-control": "public, max-age=60"})


@router.post(
    "/licenses/verify",
    response_model=VerificationOut,
    dependencies=[Depends(PUBLIC)],
    summary="Is this license document genuine and valid today? (no personal data in the answer)",
)
def verify_presented(
    request: Request, db: DbSession, document: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    fed = getattr(request.app.state, "federation", None)
    if fed is not None and sharing.issued_elsewhere(fed, document):
        return sharing.verify_presented(db, fed, document)
    return service.verify_presented(db, registry_of(request), document).as_dict()


@router.get(
    "/licenses/{identifier}/verify",
    response_model=VerificationOut,
    dependencies=[Depends(PUBLIC)],
    summary="Is the license with this identifier genuine and valid today? (no personal data)",
)
def verify_registered(request: Request, db: DbSession, identifier: str) -> dict[str, Any]:
    fed = getattr(request.app.state, "federation", None)
    region = sharing.issuing_region(identifier)
    if fed is not None and region not in (None, fed.region):
        # Each asks the issuing region: limited per client, as logins are.
        wait = request.app.state.peer_verify_limiter.allow(client_address(request))
        if wait is not None:
            raise rate_limited(wait)
        return sharing.verify_elsewhere(db, fed, identifier)
    return service.verify_registered(db, registry_of(request), identifier).as_dict()


@router.get(
    "/licenses/{identifier}",
    summary="The signed license document (its holder, an agent, or its issuing department)",
)
def read(
    request: Request,
    db: DbSession,
    identifier: str,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
) -> JSONResponse:
    registry = registry_of(request)
    return _document(db, registry, service.read_license(db, registry, principal, identifier))


@router.get(
    "/licenses/{identifier}/history",
    response_model=list[EventOut],
    summary="Every event of every version of the license",
)
def history(
    request: Request,
    db: DbSession,
    identifier: str,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
) -> list[EventOut]:
    row = service.read_license(db, registry_of(request), principal, identifier)
    return [
        EventOut(
            at=e.at.isoformat(),
            action=e.action,
            from_status=e.from_status,
            to_status=e.to_status,
            reason=e.reason,
        )
        for e in service.history(db, row)
    ]


@router.get(
    "/licenses/{identifier}/pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
    summary="The printable license, with a QR a scanner verifies offline",
)
def pdf(
    request: Request,
    db: DbSession,
    identifier: str,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
) -> Response:
    return license_pdf_response(db, registry_of(request), principal, identifier)


def license_pdf_response(
    db: DbSession, registry: Registry, principal: Principal, identifier: str
) -> Response:
    """The printable license for its holder, an agent or its department (the API and pages)."""
    row = service.read_license(db, registry, principal, identifier)
    return Response(
        service.license_pdf(db, registry, row),
        media_type="application/pdf",
        headers={
            "content-disposition": f'inline; filename="license-{row.serial}-{row.version}.pdf"',
            "cache-control": "no-store",
        },
    )


@router.get(
    "/matters/{code}/materials/resolve",
    summary="免提交: for me (or my enterprise), where each material of a matter comes from",
)
def resolve_materials(
    db: DbSession,
    code: str,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
    uscc: Annotated[str | None, Query(max_length=18)] = None,
) -> dict[str, Any]:
    enterprise_id = None
    if uscc is not None:
        enterprise_id = service.enterprise_acted_for(db, principal, uscc)
    items = resolve(db, code, Applicant(principal.person_id, enterprise_id), service.today())
    return {
        "matter": code,
        "items": [i.as_dict() for i in items],
        "exempt": sum(1 for i in items if i.resolution != "upload"),
        "to_upload": sum(1 for i in items if i.resolution == "upload"),
    }


def grant_out(db: DbSession, grant: Any) -> GrantOut:
    used = grants.uses_of(db, grant)
    identifiers = grants.identifiers(db, [*grant.license_ids, *(u.license_id for u in used)])
    return GrantOut(
        id=grant.id,
        grantee_kind=grant.grantee_kind,
        grantee=grant.grantee,
        grantee_name=grant.grantee_name,
        licenses=[identifiers[i] for i in grant.license_ids if i in identifiers],
        fields=grant.fields,
        purpose=grant.purpose,
        expires_at=grant.expires_at.isoformat(),
        max_uses=grant.max_uses,
        uses=grant.uses,
        withdrawn=grant.withdrawn_at is not None,
        used=[
            UseOut(
                at=u.at.isoformat(),
                by=u.actor_name,
                license=identifiers[u.license_id],
                purpose=u.purpose,
            )
            for u in used
        ],
    )


@router.post(
    "/me/grants",
    response_model=GrantOut,
    status_code=201,
    summary="用证授权: let a named party use chosen licenses (or fields) for a purpose",
)
def create_grant(
    request: Request,
    db: DbSession,
    body: GrantIn,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
) -> GrantOut:
    grant = grants.create_grant(
        db,
        registry_of(request),
        principal,
        grants.GrantRequest(
            grantee_kind=body.grantee_kind,
            grantee=body.grantee,
            identifiers=body.licenses,
            fields=body.fields,
            purpose=body.purpose,
            days=body.days,
            max_uses=body.max_uses,
            holder_uscc=body.holder_uscc,
        ),
    )
    return grant_out(db, grant)


@router.get("/me/grants", response_model=list[GrantOut], summary="My grants and every use of them")
def list_grants(
    db: DbSession, principal: Annotated[Principal, Depends(AUTHENTICATED)]
) -> list[GrantOut]:
    return [grant_out(db, g) for g in grants.my_grants(db, principal)]


@router.delete("/me/grants/{grant_id}", response_model=GrantOut, summary="Withdraw a grant")
def withdraw(
    db: DbSession, grant_id: RowId, principal: Annotated[Principal, Depends(AUTHENTICATED)]
) -> GrantOut:
    return grant_out(db, grants.withdraw_grant(db, principal, grant_id))


@router.get(
    "/grants/{grant_id}/licenses/{identifier}",
    summary="The grantee uses a granted license: a marked copy of the granted fields",
)
def use(
    request: Request,
    db: DbSession,
    grant_id: RowId,
    identifier: str,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
) -> dict[str, Any]:
    registry = registry_of(request)
    _, row, copy = grants.use_license(db, registry, principal, grant_id, identifier)
    return {
        "license": copy,
        "verification": service.verify_registered(db, registry, row.identifier).as_dict(),
    }


@router.get(
    "/grants/{grant_id}/licenses/{identifier}/pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
    summary="The grantee's printable copy, watermarked 仅供×××使用 (counts as a use)",
)
def use_pdf(
    request: Request,
    db: DbSession,
    grant_id: RowId,
    identifier: str,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
) -> Response:
    registry = registry_of(request)
    grant, row, _ = grants.use_license(db, registry, principal, grant_id, identifier)
    return Response(
        service.license_pdf(db, registry, row, grants.watermark(grant)),
        media_type="application/pdf",
        headers={"cache-control": "no-store"},
    )


@router.post(
    "/me/licenses/{identifier}/sd-jwt",
    summary="My license as an SD-JWT credential: I choose later which fields to show",
)
def credential(
    request: Request,
    db: DbSession,
    identifier: str,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
) -> dict[str, Any]:
    text, fields = service.issue_credential(db, registry_of(request), principal, identifier)
    return {"credential": text, "fields": fields}


@router.post(
    "/licenses/sd-jwt/verify",
    dependencies=[Depends(PUBLIC)],
    summary="Verify a selective-disclosure presentation: only what the holder disclosed",
)
def verify_credential(
    request: Request, db: DbSession, body: Annotated[PresentationIn, Body()]
) -> dict[str, Any]:
    return service.verify_credential(db, registry_of(request), body.presentation)
