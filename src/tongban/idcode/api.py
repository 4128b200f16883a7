"""HTTP API of the code: show my code, print a paper code, scan in a scene, the trust list."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse, Response

from tongban.access import AUTHENTICATED, PUBLIC, allow
from tongban.common.masking import mask_id_number
from tongban.deps import DbSession
from tongban.errors import PROBLEM_JSON, DomainError, NotFound
from tongban.idcode import render, service
from tongban.idcode.models import CodeIssue
from tongban.idcode.scenes import Scene
from tongban.idcode.schemas import (
    CHANNELS,
    CodeOut,
    CodeRequest,
    CounterPaperCodeIn,
    PaperCodeOut,
    Revoked,
    ScanIn,
    ScanOut,
    ScanSeenOut,
    SceneOut,
    SubjectKind,
)
from tongban.idcode.service import Codes, Issued
from tongban.identity.models import Person
from tongban.identity.schemas import Role
from tongban.identity.service import Principal, photo

router = APIRouter(prefix="/api/v1", tags=["code 随申码"])

SCANNERS = allow(Role.VERIFIER, Role.WINDOW_STAFF)
WINDOW = allow(Role.WINDOW_STAFF)


def codes_of(request: Request) -> Codes:
    codes: Codes | None = request.app.state.codes
    if codes is None:
        raise DomainError(
            code="keys_unavailable",
            title="随申码服务暂不可用",
            title_en="Codes are unavailable: no key-encryption key is configured",
            status=503,
        )
    return codes


def scene_named(codes: Codes, key: str) -> Scene:
    scene = codes.scenes.get(key)
    if scene is None:
        raise NotFound("scene_not_found", "扫码场景不存在", "No such scene", detail=key)
    return scene


def code_out(issued: Issued, subject_type: str) -> CodeOut:
    return CodeOut(
        token=issued.token,
        subject_type=subject_type,
        issued_at=issued.issued_at.isoformat(),
        expires_at=issued.expires_at.isoformat(),
        qr_svg=render.qr_svg(issued.token),
    )


def _issue_for(
    request: Request, db: DbSession, principal: Principal, body: CodeRequest
) -> tuple[service.Subject, Issued]:
    subject = service.subject_for(db, principal, body.subject, body.uscc)
    issued = service.issue_code(
        db,
        codes_of(request),
        subject,
        channel=CHANNELS[body.channel],
        issued_by=principal.account_id,
    )
    return subject, issued


@router.post(
    "/me/code",
    response_model=CodeOut,
    summary="A fresh dynamic code for me (or, as an agent, for my enterprise)",
)
def my_code(
    request: Request,
    db: DbSession,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
    body: CodeRequest | None = None,
) -> CodeOut:
    subject, issued = _issue_for(request, db, principal, body or CodeRequest())
    return code_out(issued, subject.kind)


@router.post(
    "/me/code/png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
    summary="A fresh dynamic code as a PNG image; the token is in the X-Code-Token header",
)
def my_code_as_png(
    request: Request,
    db: DbSession,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
    body: CodeRequest | None = None,
) -> Response:
    _, issued = _issue_for(request, db, principal, body or CodeRequest())
    return Response(
        render.qr_png(issued.token),
        media_type="image/png",
        headers={"x-code-token": issued.token, "x-code-expires-at": issued.expires_at.isoformat()},
    )


@router.post(
    "/me/paper-code",
    response_model=PaperCodeOut,
    summary="纸质码: a printable long-lived code (minors, people over 60, disabled people)",
)
def my_paper_code(
    request: Request, db: DbSession, principal: Annotated[Principal, Depends(AUTHENTICATED)]
) -> PaperCodeOut:
    codes = codes_of(request)
    subject = service.subject_for(db, principal, "person", None)
    assert subject.person_id is not None
    issued = service.issue_paper_code(db, codes, subject.person_id, principal.account_id)
    return PaperCodeOut(
        token=issued.token,
        issued_at=issued.issued_at.isoformat(),
        expires_at=issued.expires_at.isoformat(),
        qr_svg=render.qr_svg(issued.token),
        pdf="/api/v1/me/paper-code.pdf",
    )


@router.get(
    "/me/paper-code.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
    summary="My current paper code as a printable PDF card",
)
def my_paper_code_pdf(
    request: Request, db: DbSession, principal: Annotated[Principal, Depends(AUTHENTICATED)]
) -> Response:
    return my_paper_pdf(db, codes_of(request), principal)


def my_paper_pdf(db: DbSession, codes: Codes, principal: Principal) -> Response:
    """The caller's current paper code as a PDF, or 404."""
    issue = service.current_paper_code(db, principal.person_id) if principal.person_id else None
    if issue is None:
        raise NotFound("paper_code_not_found", "您还没有有效的纸质码", "You have no paper code")
    return paper_pdf_response(db, codes, issue)


def paper_pdf_response(db: DbSession, codes: Codes, issue: CodeIssue) -> Response:
    person = db.get(Person, issue.person_id)
    assert person is not None
    assert issue.token is not None
    id_number = codes.keyring.decrypt(db, "person.id_number", person.id_number_enc)
    pdf = render.paper_pdf(
        token=issue.token,
        holder_name=person.name,
        masked_id_number=mask_id_number(id_number),
        region_name=codes.settings.region_name,
        issued_at=issue.issued_at.astimezone(service.CHINA),
        expires_at=issue.expires_at.astimezone(service.CHINA),
    )
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "content-disposition": 'inline; filename="paper-code.pdf"',
            "cache-control": "no-store",
        },
    )


@router.delete("/me/paper-code", response_model=Revoked, summary="Revoke my paper code (lost)")
def revoke_my_paper_code(
    db: DbSession, principal: Annotated[Principal, Depends(AUTHENTICATED)]
) -> Revoked:
    if principal.person_id is None:
        return Revoked(revoked=0)
    return Revoked(revoked=service.revoke_paper_codes(db, principal.person_id))


@router.post(
    "/counter/paper-codes",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
    summary="A window prints a paper code for a person who brought their ID card (audited)",
)
def counter_paper_code(
    request: Request,
    db: DbSession,
    body: CounterPaperCodeIn,
    principal: Annotated[Principal, Depends(WINDOW)],
) -> Response:
    codes = codes_of(request)
    issue = service.counter_paper_code(db, codes, principal.account_id, body.id_number)
    return paper_pdf_response(db, codes, issue)


@router.get(
    "/me/code/scans",
    response_model=list[ScanSeenOut],
    summary="谁扫了我的码: every scan of my codes (or my enterprise's), newest first",
)
def my_scans(
    request: Request,
    db: DbSession,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
    subject: SubjectKind = "person",
    uscc: Annotated[str | None, Query(max_length=18)] = None,
) -> list[ScanSeenOut]:
    codes = codes_of(request)
    who = service.subject_for(db, principal, subject, uscc)
    rows = service.scans_of(db, person_id=who.person_id, enterprise_id=who.enterprise_id)
    return [scan_seen(codes, r) for r in rows]


def scan_seen(codes: Codes, row: Any) -> ScanSeenOut:
    scene = codes.scenes.get(row.scene)
    return ScanSeenOut(
        at=row.at.isoformat(),
        scene=row.scene,
        scene_name=scene.name if scene else row.scene,
        verifier=row.verifier_name,
        place=row.place,
        outcome=row.outcome,
        attributes=list(row.attributes),
    )


@router.get(
    "/scenes",
    response_model=list[SceneOut],
    dependencies=[Depends(PUBLIC)],
    summary="Every scene and exactly what a scanner there learns (public, for transparency)",
)
def scenes(request: Request) -> list[SceneOut]:
    return [scene_out(s) for s in codes_of(request).scenes.values()]


def scene_out(scene: Scene) -> SceneOut:
    return SceneOut(
        key=scene.key,
        name=scene.name,
        name_en=scene.name_en,
        subjects=sorted(scene.subjects),
        use="once" if scene.once else "many",
        accepts_paper=scene.accepts_paper,
        attributes={k: list(v) for k, v in scene.attributes.items()},
    )


_SCAN_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "problem+json: code_malformed"},
    403: {"description": "problem+json: scene_not_allowed"},
    409: {"description": "problem+json: code_replayed, scan_in_progress"},
    422: {
        "description": "problem+json: code_wrong_region, code_forged, code_altered, "
        "code_key_revoked, code_expired, code_not_yet_valid, code_unknown, code_revoked, "
        "code_wrong_subject, code_paper_not_accepted, code_id_check_required, code_id_mismatch"
    },
}


@router.post(
    "/scenes/{scene}/scan",
    response_model=ScanOut,
    response_model_exclude_none=True,
    responses=_SCAN_RESPONSES,
    summary="Scan a code in a scene: valid or not, and exactly the scene's attributes",
)
def scan(
    request: Request,
    db: DbSession,
    scene: str,
    body: ScanIn,
    principal: Annotated[Principal, Depends(SCANNERS)],
    idempotency_key: Annotated[str | None, Header(max_length=100)] = None,
) -> Any:
    codes = codes_of(request)
    outcome = run_scan(db, codes, scene, principal, body, idempotency_key)
    if outcome.status != 200:
        return JSONResponse(outcome.body, status_code=outcome.status, media_type=PROBLEM_JSON)
    return outcome.body


def run_scan(
    db: DbSession,
    codes: Codes,
    scene: str,
    principal: Principal,
    body: ScanIn,
    idempotency_key: str | None,
) -> service.ScanOutcome:
    """Refusals are answers too: the scan and its outcome are stored either way."""
    return service.scan(
        db,
        codes,
        service.ScanRequest(
            scene=scene_named(codes, scene),
            verifier=principal,
            verifier_name=principal.display_name or principal.username,
            token=body.token,
            id_number=body.id_number,
            idempotency_key=idempotency_key,
        ),
    )


@router.get(
    "/scenes/{scene}/photos/{ref}",
    response_class=Response,
    responses={200: {"content": {"image/*": {}}}},
    summary="The holder's photo, for a scanner that was just shown it by a scan",
)
def scanned_photo(
    request: Request,
    db: DbSession,
    scene: str,
    ref: str,
    principal: Annotated[Principal, Depends(SCANNERS)],
) -> Response:
    return scanned_photo_response(db, codes_of(request), principal, scene, ref)


def scanned_photo_response(
    db: DbSession, codes: Codes, principal: Principal, scene: str, ref: str
) -> Response:
    """The photo a scan just released to this scanner, or 404 (also for anyone else's)."""
    found = photo(db, ref)
    target = codes.scenes.get(scene)
    if (
        found is None
        or target is None
        or not service.photo_for_verifier(db, principal.account_id, target, ref)
    ):
        raise NotFound("photo_not_found", "照片不存在或无权查看", "No such photo for you")
    return Response(
        found.data, media_type=found.content_type, headers={"cache-control": "no-store"}
    )
