"""Portal pages of the code: my code (refreshing itself), my paper code, who scanned me, and a
scanner page for verifiers that takes a pasted code or a photo of one."""

from __future__ import annotations

import io
from typing import Annotated, Any

import zxingcpp
from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from PIL import Image, UnidentifiedImageError

from tongban.access import AUTHENTICATED
from tongban.common.masking import mask_name
from tongban.deps import DbSession
from tongban.errors import DomainError, NotFound
from tongban.idcode import render as draw
from tongban.idcode import service
from tongban.idcode.api import (
    SCANNERS,
    codes_of,
    my_paper_pdf,
    run_scan,
    scan_seen,
    scanned_photo_response,
)
from tongban.idcode.errors import REASONS
from tongban.idcode.scenes import CATALOGUE
from tongban.idcode.schemas import ScanIn, SubjectKind
from tongban.idcode.token import Channel
from tongban.identity.models import Enterprise, Person
from tongban.identity.schemas import Role
from tongban.identity.service import Principal, photo
from tongban.portal.csrf import verify_csrf
from tongban.portal.rendering import render

router = APIRouter(include_in_schema=False)

MAX_PHOTO_BYTES = 8 * 1024 * 1024
MAX_TOKEN = 600
_QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
MAX_PHOTO_PIXELS = 40_000_000  # a 40-megapixel phone photo; anything larger is refused


def _holder(request: Request, db: DbSession, principal: Principal, subject: str) -> dict[str, Any]:
    who = service.subject_for(db, principal, subject, None)
    if who.kind == "person":
        person = db.get(Person, who.person_id)
        assert person is not None
        return {"subject": who, "name": mask_name(person.name), "photo_ref": person.photo_ref}
    enterprise = db.get(Enterprise, who.enterprise_id)
    assert enterprise is not None
    return {"subject": who, "name": enterprise.name, "photo_ref": None, "uscc": enterprise.uscc}


def _fresh(request: Request, db: DbSession, principal: Principal, subject: str) -> dict[str, Any]:
    codes = codes_of(request)
    holder = _holder(request, db, principal, subject)
    issued = service.issue_code(
        db, codes, holder["subject"], channel=Channel.WEB, issued_by=principal.account_id
    )
    return {
        **holder,
        "token": issued.token,
        "qr_svg": draw.qr_svg(issued.token),
        "ttl": codes.settings.code_ttl_seconds,
        "expires_at": issued.expires_at,
    }


@router.get("/me/code", response_class=HTMLResponse)
def my_code_page(
    request: Request,
    db: DbSession,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
    subject: SubjectKind = "person",
) -> Response:
    code = _fresh(request, db, principal, subject)
    agent = principal.has(Role.ENTERPRISE_AGENT)
    response = render(request, "idcode/code.html", code=code, subject=subject, agent=agent)
    response.headers["cache-control"] = "no-store"
    return response


@router.post("/me/code/next")
def next_code(
    request: Request,
    db: DbSession,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
    subject: SubjectKind = "person",
) -> JSONResponse:
    """The page's script asks for the next code a few seconds before this one expires."""
    verify_csrf(request, request.headers.get("x-csrf-token"))
    code = _fresh(request, db, principal, subject)
    return JSONResponse(
        {"token": code["token"], "qr_svg": code["qr_svg"], "expires_in": code["ttl"]},
        headers={"cache-control": "no-store"},
    )


@router.get("/me/photo/{ref}")
def my_photo(
    db: DbSession, ref: str, principal: Annotated[Principal, Depends(AUTHENTICATED)]
) -> Response:
    found = photo(db, ref)
    if found is None or found.person_id != principal.person_id:
        raise NotFound("photo_not_found", "照片不存在", "No such photo")
    return Response(
        found.data, media_type=found.content_type, headers={"cache-control": "no-store"}
    )


@router.get("/me/code/scans", response_class=HTMLResponse)
def my_scans_page(
    request: Request,
    db: DbSession,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
    subject: str = "person",
) -> Response:
    codes = codes_of(request)
    subject = "enterprise" if subject == "enterprise" else "person"
    who = service.subject_for(db, principal, subject, None)
    rows = service.scans_of(db, person_id=who.person_id, enterprise_id=who.enterprise_id)
    return render(
        request,
        "idcode/scans.html",
        scans=[scan_seen(codes, r) for r in rows],
        subject=subject,
        labels=CATALOGUE[subject],
        reasons=REASONS,
        scenes=codes.scenes,
    )


@router.get("/me/code/paper", response_class=HTMLResponse)
def paper_page(
    request: Request, db: DbSession, principal: Annotated[Principal, Depends(AUTHENTICATED)]
) -> Response:
    codes_of(request)
    who = service.subject_for(db, principal, "person", None)
    assert who.person_id is not None
    person = db.get(Person, who.person_id)
    assert person is not None
    current = service.current_paper_code(db, who.person_id)
    eligible = service.paper_eligible(person, service.today())
    return render(
        request,
        "idcode/paper.html",
        current=current,
        eligible=eligible,
        qr_svg=draw.qr_svg(current.token) if current and current.token else None,
    )


@router.post("/me/code/paper", response_class=HTMLResponse)
def paper_issue(
    request: Request,
    db: DbSession,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
    csrf_token: Annotated[str | None, Form()] = None,
    action: Annotated[str, Form(max_length=10)] = "issue",
) -> Response:
    verify_csrf(request, csrf_token)
    codes = codes_of(request)
    who = service.subject_for(db, principal, "person", None)
    assert who.person_id is not None
    if action == "revoke":
        service.revoke_paper_codes(db, who.person_id)
    else:
        service.issue_paper_code(db, codes, who.person_id, principal.account_id)
    return RedirectResponse("/me/code/paper", status_code=303)


@router.get("/me/code/paper.pdf")
def paper_pdf(
    request: Request, db: DbSession, principal: Annotated[Principal, Depends(AUTHENTICATED)]
) -> Response:
    return my_paper_pdf(db, codes_of(request), principal)


# -- the scanner's page ------------------------------------------------------------------------


def _scanner_scenes(request: Request, principal: Principal) -> list[Any]:
    codes = codes_of(request)
    mine = []
    for scene in codes.scenes.values():
        try:
            service.scene_place(scene, principal)
        except DomainError:
            continue
        mine.append(scene)
    return mine


@router.get("/scan", response_class=HTMLResponse)
def scanner_page(request: Request, principal: Annotated[Principal, Depends(SCANNERS)]) -> Response:
    scenes = _scanner_scenes(request, principal)
    return render(request, "idcode/scanner.html", scenes=scenes, result=None, error=None)


def read_qr_photo(data: bytes) -> str:
    """The text of the first QR code in a photo, or a clear refusal."""
    if len(data) > MAX_PHOTO_BYTES:
        raise _unreadable("照片不能超过 8 MB", "The photo must be at most 8 MB")
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_PHOTO_PIXELS:
                raise _unreadable("照片像素过多", "The photo has too many pixels")
            image.load()
            # zxing reads grey or colour images; other modes (CMYK, LAB, 16-bit) are converted.
            found = zxingcpp.read_barcodes(image.convert("L"), formats=_QR_ONLY)
    except (
        UnidentifiedImageError,
        OSError,
        ValueError,
        TypeError,
        Image.DecompressionBombError,
    ) as exc:
        raise _unreadable("无法读取该图片", "The file is not a readable image") from exc
    if not found:
        raise _unreadable("照片中没有找到二维码", "No QR code was found in the photo")
    text = str(found[0].text)
    if len(text) > MAX_TOKEN:
        raise _unreadable("照片中的二维码不是随申码", "The QR code in the photo is not a code")
    return text


def _unreadable(title: str, title_en: str) -> DomainError:
    return DomainError(code="qr_unreadable", title=title, title_en=title_en, status=422)


@router.post("/scan", response_class=HTMLResponse)
async def scanner_submit(
    request: Request,
    db: DbSession,
    principal: Annotated[Principal, Depends(SCANNERS)],
    scene: Annotated[str, Form(max_length=30)],
    csrf_token: Annotated[str | None, Form()] = None,
    token: Annotated[str, Form(max_length=600)] = "",
    id_number: Annotated[str, Form(max_length=18)] = "",
    photo_file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    verify_csrf(request, csrf_token)
    scenes = _scanner_scenes(request, principal)
    try:
        if not token.strip() and photo_file is not None and photo_file.filename:
            token = read_qr_photo(await photo_file.read(MAX_PHOTO_BYTES + 1))
        if not token.strip():
            raise _unreadable("请粘贴码的内容或上传码的照片", "Paste a code or upload a photo")
    except DomainError as exc:
        return render(
            request,
            "idcode/scanner.html",
            status_code=exc.status,
            scenes=scenes,
            result=None,
            error=exc.problem(),
            chosen=scene,
        )
    outcome = run_scan(
        db,
        codes_of(request),
        scene,
        principal,
        ScanIn(token=token, id_number=id_number or None),
        None,
    )
    result = outcome.body if outcome.status == 200 else None
    error = None if outcome.status == 200 else outcome.body
    subject = result["subject_type"] if result else "person"
    return render(
        request,
        "idcode/scanner.html",
        status_code=outcome.status,
        scenes=scenes,
        result=result,
        error=error,
        chosen=scene,
        labels=CATALOGUE[subject],
    )


@router.get("/scan/photo/{scene}/{ref}")
def scanned_photo_page(
    request: Request,
    db: DbSession,
    scene: str,
    ref: str,
    principal: Annotated[Principal, Depends(SCANNERS)],
) -> Response:
    return scanned_photo_response(db, codes_of(request), principal, scene, ref)
