"""Pages of 好差评: rating a case or a visit (from the case page, an SMS link or the code at
the window), the hall pad, the public results, the internal dashboard and a ticket's steps.
Plain forms that post and redirect: everything works without JavaScript."""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from tongban.access import AUTHENTICATED, PUBLIC, allow
from tongban.cases.views import back_with, form_data, refusal_code, refusal_text
from tongban.catalog.models import Department
from tongban.deps import DbSession, RowId
from tongban.errors import DomainError
from tongban.idcode.render import qr_svg
from tongban.identity.schemas import Role
from tongban.identity.service import Principal
from tongban.licenses.api import registry_of
from tongban.onething.views import english_names
from tongban.portal.csrf import verify_csrf
from tongban.portal.i18n import gettext, requested_language, speaking
from tongban.portal.rendering import render
from tongban.ratings import service as ratings
from tongban.ratings.api import TICKET_STAFF
from tongban.ratings.models import RatingTicket
from tongban.settings import Settings

router = APIRouter(include_in_schema=False)
Posted = Annotated[FormData, Depends(form_data)]
ErrorCode = Annotated[str | None, Query(max_length=60)]
Channel = Annotated[str, Query(pattern="^(web|app|wechat|alipay|sms|scan)$")]
WINDOW = allow(Role.WINDOW_STAFF)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


# -- the rater -----------------------------------------------------------------------------------


def _rate_page(
    request: Request,
    db: Session,
    principal: Principal,
    subject: ratings.Subject,
    channel: str,
    error: str | None,
) -> Response:
    rating = ratings.rating_for(db, principal, subject.kind, subject.id)
    ticket = ratings.ticket_of(db, rating.id) if rating else None
    comment = ratings.comment_of(db, registry_of(request).keyring, rating) if rating else None
    return render(
        request,
        "ratings/rate.html",
        status_code=200,
        subject=subject,
        action=f"/{'cases' if subject.kind == 'case' else 'visits'}/{subject.id}/rate",
        rating=rating,
        comment=comment,
        ticket=ticket,
        levels=ratings.LEVELS,
        ticket_status=ratings.TICKET_STATUS,
        resolutions=ratings.RESOLUTIONS,
        channel=channel,
        error=refusal_text(error) if error else None,
        change_days=_settings(request).rating_change_days,
    )


@router.get("/cases/{case_id}/rate", response_class=HTMLResponse)
def rate_case_page(
    request: Request,
    db: DbSession,
    case_id: RowId,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
    ch: Channel = "web",
    error: ErrorCode = None,
) -> Response:
    subject = ratings.case_subject(db, principal, case_id)
    return _rate_page(request, db, principal, subject, ch, error)


@router.get("/visits/{visit_id}/rate", response_class=HTMLResponse)
def rate_visit_page(
    request: Request,
    db: DbSession,
    visit_id: RowId,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
    ch: Channel = "scan",
    error: ErrorCode = None,
) -> Response:
    subject = ratings.visit_subject(db, principal.person_id, visit_id)
    return _rate_page(request, db, principal, subject, ch, error)


def _posted_rating(
    data: FormData, case_id: int | None, visit_id: int | None, default_channel: str
) -> ratings.RatingRequest:
    """The posted form as a rating; what is not a number is left for the service to refuse."""

    def number(name: str) -> int:
        raw = str(data.get(name) or "")
        return int(raw) if re.fullmatch(r"[0-9]{1,2}", raw) else 0

    indicators = {
        str(k)[4:]: number(str(k))
        for k in data
        if str(k).startswith("ind.") and str(data.get(k) or "")
    }
    channel = str(data.get("channel") or default_channel)
    return ratings.RatingRequest(
        case_id=case_id,
        visit_id=visit_id,
        level=number("level"),
        indicators=indicators,
        comment=str(data.get("comment") or "")[:500] or None,
        channel=channel if channel in ratings.CHANNELS and channel != "pad" else "web",
    )


def _post_rating(
    request: Request, db: Session, principal: Principal, back: str, req: ratings.RatingRequest
) -> Response:
    try:
        ratings.rate(db, _settings(request), registry_of(request).keyring, principal, req)
    except DomainError as exc:
        if exc.status >= 500:
            raise
        db.rollback()
        # Back to the form, still counted for the channel it was opened from (an SMS link).
        query = urlencode({"error": refusal_code(exc), "ch": req.channel})
        return RedirectResponse(f"{back}?{query}", status_code=303)
    return RedirectResponse(f"{back}?done=1", status_code=303)


@router.post("/cases/{case_id}/rate")
def rate_case(
    request: Request,
    db: DbSession,
    case_id: RowId,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
    data: Posted,
) -> Response:
    verify_csrf(request, str(data.get("csrf_token") or "") or None)
    req = _posted_rating(data, case_id, None, "web")
    return _post_rating(request, db, principal, f"/cases/{case_id}/rate", req)


@router.post("/visits/{visit_id}/rate")
def rate_visit(
    request: Request,
    db: DbSession,
    visit_id: RowId,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
    data: Posted,
) -> Response:
    verify_csrf(request, str(data.get("csrf_token") or "") or None)
    req = _posted_rating(data, None, visit_id, "scan")
    return _post_rating(request, db, principal, f"/visits/{visit_id}/rate", req)


@router.post("/rating-tickets/{ticket_id}/reply")
def reply(
    request: Request,
    db: DbSession,
    ticket_id: RowId,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
    satisfied: Annotated[str, Form(pattern="^(yes|no)$")],
    back: Annotated[str, Form(pattern=r"^/(cases|visits)/[0-9]{1,10}/rate$")],
    note: Annotated[str, Form(max_length=500)] = "",
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    verify_csrf(request, csrf_token)
    try:
        ratings.reply(db, _settings(request), principal, ticket_id, satisfied == "yes", note)
    except DomainError as exc:
        if exc.status >= 500:
            raise
        db.rollback()
        return back_with(back, exc)
    return RedirectResponse(back, status_code=303)


# -- the hall pad ----------------------------------------------------------------------------------


@router.get("/window/visits/{visit_id}/pad", response_class=HTMLResponse)
def pad_page(
    request: Request,
    db: DbSession,
    visit_id: RowId,
    principal: Annotated[Principal, Depends(WINDOW)],
    done: Annotated[int, Query(ge=0, le=1)] = 0,
    error: ErrorCode = None,
) -> Response:
    """评价器: the screen turned to the person at the window, five big buttons."""
    ratings.pad_visit(db, principal, visit_id)
    # The host was checked against the allowed hosts, so the link leads back here.
    rate_url = str(request.base_url).rstrip("/") + f"/visits/{visit_id}/rate?ch=scan"
    return render(
        request,
        "ratings/pad.html",
        visit_id=visit_id,
        levels=ratings.LEVELS,
        done=bool(done),
        error=refusal_text(error) if error else None,
        rate_url=rate_url,
        rate_qr=qr_svg(rate_url, scale=4, title=_scan_to_rate(request)),
    )


def _scan_to_rate(request: Request) -> str:
    # The code is drawn before the page renders: worded here in the page's language.
    with speaking(requested_language(request)):
        return gettext("扫码评价")


@router.post("/window/visits/{visit_id}/pad")
def pad_rate(
    request: Request,
    db: DbSession,
    visit_id: RowId,
    principal: Annotated[Principal, Depends(WINDOW)],
    level: Annotated[int, Form(ge=1, le=5)],
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    verify_csrf(request, csrf_token)
    back = f"/window/visits/{visit_id}/pad"
    req = ratings.RatingRequest(None, visit_id, level, {}, None, "pad")
    if level <= ratings.BAD:
        # A bad rating needs the person's words: the pad sends them to their phone to write them.
        return RedirectResponse(f"{back}?error=comment_needed", status_code=303)
    try:
        ratings.rate(db, _settings(request), registry_of(request).keyring, principal, req)
    except DomainError as exc:
        if exc.status >= 500:
            raise
        db.rollback()
        return back_with(back, exc)
    return RedirectResponse(f"{back}?done=1", status_code=303)


# -- published results and the dashboard -----------------------------------------------------------


def _english_names(db: Session, keys: list[str]) -> dict[str, str]:
    """The departments' English names by key (a page in English shows them, via `| local`)."""
    if not keys:
        return {}
    rows = db.execute(select(Department.key, Department.name_en).where(Department.key.in_(keys)))
    return {str(key): str(name) for key, name in rows if name}


def _units(db: Session, rows: list[dict[str, Any]]) -> dict[str, dict[str, str | None]]:
    """The units `rows` name, by key, as records: the name, and a department's English name."""
    names = ratings.unit_names(db, rows)
    departments = [r["unit_key"] for r in rows if r["unit_kind"] == "department"]
    english = _english_names(db, departments)
    return {key: {"name": name, "name_en": english.get(key)} for key, name in names.items()}


def _overview(db: Session, f: ratings.Filters) -> dict[str, Any]:
    departments = ratings.with_names(db, "department", ratings.breakdown(db, "department", f))
    english = _english_names(db, [r["key"] for r in departments])
    return {
        "total": ratings.stats(db, f),
        "departments": [r | {"name_en": english.get(r["key"])} for r in departments],
        "halls": ratings.with_names(db, "hall", ratings.breakdown(db, "hall", f)),
        "months": ratings.breakdown(db, "month", f),
        "levels": ratings.LEVELS,
    }


@router.get("/ratings", response_class=HTMLResponse, dependencies=[Depends(PUBLIC)])
def public_page(request: Request, db: DbSession) -> Response:
    """好差评公示: every department's and hall's figures and the fixes made; no rater, no
    comment, no staff member."""
    fixes = ratings.published_fixes(db)
    units = _units(db, fixes)
    return render(
        request,
        "ratings/public.html",
        **_overview(db, ratings.Filters()),
        fixes=fixes,
        units=units,
        fix_words=ratings.FIX_WORDS,
    )


def _scope(principal: Principal) -> ratings.Filters:
    """What a dashboard shows: the city to supervisors and administrators, a unit its own."""
    if principal.has(Role.SUPERVISOR, Role.ADMIN):
        return ratings.Filters()
    departments = sorted(principal.bindings(Role.REVIEWER))
    if departments:
        return ratings.Filters(department=departments[0])
    halls = sorted(principal.bindings(Role.WINDOW_STAFF))
    return ratings.Filters(hall=halls[0] if halls else "-")


@router.get("/staff/ratings", response_class=HTMLResponse)
def dashboard(
    request: Request,
    db: DbSession,
    principal: Annotated[Principal, Depends(TICKET_STAFF)],
) -> Response:
    scope = _scope(principal)
    tickets = ratings.tickets_for(db, principal)
    supervising = principal.has(Role.SUPERVISOR, Role.ADMIN)
    return render(
        request,
        "ratings/dashboard.html",
        **_overview(db, scope),
        scope=scope,
        tickets=tickets,
        ticket_status=ratings.TICKET_STATUS,
        counts=ratings.ticket_counts(db) if supervising else None,
        staff=ratings.with_names(db, "staff", ratings.breakdown(db, "staff", scope))
        if supervising
        else [],
        units=_units(db, [{"unit_kind": t.unit_kind, "unit_key": t.unit_key} for t in tickets]),
    )


@router.get("/staff/ratings/tickets/{ticket_id}", response_class=HTMLResponse)
def ticket_page(
    request: Request,
    db: DbSession,
    ticket_id: RowId,
    principal: Annotated[Principal, Depends(TICKET_STAFF)],
    error: ErrorCode = None,
) -> Response:
    ticket, rating = ratings.get_ticket(db, principal, ticket_id)
    ratings.read_as_staff(db, principal, ticket, rating)
    return render(
        request,
        "ratings/ticket.html",
        ticket=ticket,
        rating=rating,
        comment=ratings.comment_of(db, registry_of(request).keyring, rating),
        events=ratings.events(db, ticket.id),
        unit_name=_units(db, [{"unit_kind": ticket.unit_kind, "unit_key": ticket.unit_key}]),
        levels=ratings.LEVELS,
        indicator_labels=ratings.INDICATORS,
        channels=ratings.CHANNELS,
        categories=ratings.CATEGORIES,
        ticket_status=ratings.TICKET_STATUS,
        resolutions=ratings.RESOLUTIONS,
        is_unit=ratings.is_unit(principal, ticket) and rating.staff_account != principal.account_id,
        is_supervisor=ratings.is_supervisor(principal),
        error=refusal_text(error) if error else None,
        names=english_names(db, [rating.matter_code] if rating.matter_code else []),
    )


@router.post("/staff/ratings/tickets/{ticket_id}/step")
def ticket_step(
    request: Request,
    db: DbSession,
    ticket_id: RowId,
    principal: Annotated[Principal, Depends(TICKET_STAFF)],
    step: Annotated[str, Form(pattern="^(verify|rectify|answer|appeal|uphold|reject|urge)$")],
    text: Annotated[str, Form(max_length=1000)] = "",
    category: Annotated[str, Form(max_length=20)] = "",
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    verify_csrf(request, csrf_token)
    settings = _settings(request)
    back = f"/staff/ratings/tickets/{ticket_id}"
    try:
        _take_step(db, settings, principal, ticket_id, step, text, category)
    except DomainError as exc:
        if exc.status >= 500:
            raise
        db.rollback()
        return back_with(back, exc)
    return RedirectResponse(back, status_code=303)


def _take_step(
    db: Session,
    settings: Settings,
    principal: Principal,
    ticket_id: int,
    step: str,
    text: str,
    category: str,
) -> RatingTicket:
    if step == "verify":
        return ratings.verify(db, settings, principal, ticket_id, category, text)
    if step == "rectify":
        return ratings.rectify(db, settings, principal, ticket_id, text)
    if step == "answer":
        return ratings.answer(db, settings, principal, ticket_id, text)
    if step == "appeal":
        return ratings.appeal(db, settings, principal, ticket_id, text)
    if step == "urge":
        return ratings.urge(db, principal, ticket_id, text)
    return ratings.decide_appeal(db, settings, principal, ticket_id, step == "uphold", text)
