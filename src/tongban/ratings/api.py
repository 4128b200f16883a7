"""HTTP API of 好差评: rate, follow a bad rating's ticket (unit, rater, supervisor), and the
statistics (public aggregates; per window staff member for supervisors only)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from sqlalchemy.orm import Session

from tongban.access import AUTHENTICATED, PUBLIC, allow
from tongban.deps import DbSession, RowId
from tongban.identity.schemas import Role
from tongban.identity.service import Principal
from tongban.licenses.api import registry_of
from tongban.ratings import service as ratings
from tongban.ratings.models import Rating, RatingTicket
from tongban.ratings.schemas import (
    DecisionIn,
    GroupOut,
    RatingIn,
    ReplyIn,
    StatsOut,
    StepIn,
    VerifyIn,
)
from tongban.settings import Settings

router = APIRouter(prefix="/api/v1", tags=["ratings 好差评"])
TICKET_STAFF = allow(Role.REVIEWER, Role.WINDOW_STAFF, Role.SUPERVISOR, Role.ADMIN)
SUPERVISION = allow(Role.SUPERVISOR, Role.ADMIN)  # reading the figures per staff member
SUPERVISORS = allow(Role.SUPERVISOR)  # deciding appeals and 督办: the supervisors' own acts
# `?department=&month=` (a form sent with nothing chosen) means no filter, not a bad value:
# the patterns accept an empty value and `_filters` reads it as absent.
Key = Annotated[str | None, Query(max_length=60, pattern=r"^[a-z0-9-]*$")]
MatterCode = Annotated[str | None, Query(pattern=r"^([0-9A-Z]{12})?$")]
MonthQuery = Annotated[str | None, Query(pattern=r"^([0-9]{4}-(0[1-9]|1[0-2]))?$")]
PUBLIC_DIMENSIONS = ("department", "hall", "matter", "month")
Dimension = Annotated[str, Path(pattern="^(" + "|".join(PUBLIC_DIMENSIONS) + ")$")]


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def rating_out(
    db: Session, request: Request, rating: Rating, *, with_comment: bool
) -> dict[str, Any]:
    ticket = ratings.ticket_of(db, rating.id)
    out: dict[str, Any] = {
        "id": rating.id,
        "subject": rating.subject,
        "case_id": rating.case_id,
        "visit_id": rating.visit_id,
        "level": rating.level,
        "level_label": ratings.LEVELS[rating.level],
        "indicators": rating.indicators,
        "channel": rating.channel,
        "month": rating.month,
        "changes": rating.changes,
        "rated_at": rating.rated_at.isoformat(),
        "changed_at": rating.changed_at.isoformat() if rating.changed_at else None,
        "excluded": rating.excluded,
        "ticket": ticket_summary(ticket) if ticket else None,
    }
    if with_comment:
        out["comment"] = ratings.comment_of(db, registry_of(request).keyring, rating)
    return out


def ticket_summary(t: RatingTicket) -> dict[str, Any]:
    return {
        "id": t.id,
        "status": t.status,
        "status_label": ratings.TICKET_STATUS[t.status],
        "resolution": t.resolution,
        "due_on": t.due_on.isoformat() if t.due_on else None,
        "answer": t.answer,
        "reopened": t.reopened,
    }


def ticket_out(
    db: Session,
    request: Request,
    principal: Principal,
    t: RatingTicket,
    *,
    with_comment: bool = False,
) -> dict[str, Any]:
    """A ticket as the caller may see it. The rater's comment only where asked for: the
    reading routes record a staff read in the rater's data-usage list."""
    rating = db.get(Rating, t.rating_id)
    assert rating is not None
    staff = ratings.visible(principal, t, rating)
    return {
        **ticket_summary(t),
        "unit_kind": t.unit_kind,
        "unit_key": t.unit_key,
        "category": t.category,
        "verification": t.verification if staff else None,
        "measures": t.measures,
        "opened_on": t.opened_on.isoformat(),
        "late_steps": t.late_steps,
        "escalated": t.escalated_status is not None,
        "escalated_on": t.escalated_on.isoformat() if t.escalated_on else None,
        "answered_on_time": t.answered_on_time,
        "appeal_reason": t.appeal_reason if staff else None,
        "appeal_decision": t.appeal_decision,
        "rating": rating_out(db, request, rating, with_comment=with_comment),
        "events": [
            {
                "at": e.at.isoformat(),
                "action": e.action,
                "from": e.from_status,
                "to": e.to_status,
                "actor": e.actor,
                "note": e.note,
                "due_on": e.due_on.isoformat() if e.due_on else None,
                "late": e.late,
            }
            for e in ratings.history(db, t, staff=staff)
        ],
    }


@router.post(
    "/ratings",
    status_code=201,
    summary="Rate a finished case or a counter visit; the same person again changes it "
    "(200) within the change window",
)
def rate(
    request: Request,
    response: Response,
    db: DbSession,
    body: RatingIn,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
) -> dict[str, Any]:
    keyring = registry_of(request).keyring
    req = ratings.RatingRequest(
        case_id=body.case_id,
        visit_id=body.visit_id,
        level=body.level,
        indicators=dict(body.indicators),
        comment=body.comment,
        channel=body.channel,
    )
    rating, created = ratings.rate(db, _settings(request), keyring, principal, req)
    if not created:
        response.status_code = 200
    return rating_out(db, request, rating, with_comment=principal.person_id is not None)


@router.get("/ratings/mine", summary="The caller's own rating of a case or a visit, if any")
def mine(
    request: Request,
    db: DbSession,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
    case_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    visit_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> dict[str, Any] | None:
    rating = ratings.my_rating(db, principal, case_id, visit_id)
    return rating_out(db, request, rating, with_comment=True) if rating else None


# -- tickets -------------------------------------------------------------------------------------


@router.get("/rating-tickets", summary="Open tickets of the caller's units (supervisors: all)")
def tickets(
    request: Request,
    db: DbSession,
    principal: Annotated[Principal, Depends(TICKET_STAFF)],
    closed: bool = False,
) -> dict[str, Any]:
    rows = ratings.tickets_for(db, principal, only_open=not closed)
    return {"items": [ticket_summary(t) | {"unit_key": t.unit_key} for t in rows]}


@router.get("/rating-tickets/{ticket_id}", summary="A ticket with its rating and every step")
def ticket(
    request: Request,
    db: DbSession,
    ticket_id: RowId,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
) -> dict[str, Any]:
    t, rating = ratings.get_ticket(db, principal, ticket_id)
    ratings.read_as_staff(db, principal, t, rating)
    return ticket_out(db, request, principal, t, with_comment=True)


@router.post("/rating-tickets/{ticket_id}/verify", summary="核实: classify and verify")
def verify(
    request: Request,
    db: DbSession,
    ticket_id: RowId,
    body: VerifyIn,
    principal: Annotated[Principal, Depends(TICKET_STAFF)],
) -> dict[str, Any]:
    t = ratings.verify(
        db, _settings(request), principal, ticket_id, body.category, body.verification
    )
    return ticket_out(db, request, principal, t)


@router.post("/rating-tickets/{ticket_id}/rectify", summary="整改: what was changed (published)")
def rectify(
    request: Request,
    db: DbSession,
    ticket_id: RowId,
    body: StepIn,
    principal: Annotated[Principal, Depends(TICKET_STAFF)],
) -> dict[str, Any]:
    t = ratings.rectify(db, _settings(request), principal, ticket_id, body.text)
    return ticket_out(db, request, principal, t)


@router.post("/rating-tickets/{ticket_id}/answer", summary="反馈: the answer to the rater")
def answer(
    request: Request,
    db: DbSession,
    ticket_id: RowId,
    body: StepIn,
    principal: Annotated[Principal, Depends(TICKET_STAFF)],
) -> dict[str, Any]:
    t = ratings.answer(db, _settings(request), principal, ticket_id, body.text)
    return ticket_out(db, request, principal, t)


@router.post("/rating-tickets/{ticket_id}/appeal", summary="申诉: the unit contests the rating")
def appeal(
    request: Request,
    db: DbSession,
    ticket_id: RowId,
    body: StepIn,
    principal: Annotated[Principal, Depends(TICKET_STAFF)],
) -> dict[str, Any]:
    t = ratings.appeal(db, _settings(request), principal, ticket_id, body.text)
    return ticket_out(db, request, principal, t)


@router.post("/rating-tickets/{ticket_id}/decision", summary="A supervisor decides an appeal")
def decide(
    request: Request,
    db: DbSession,
    ticket_id: RowId,
    body: DecisionIn,
    principal: Annotated[Principal, Depends(SUPERVISORS)],
) -> dict[str, Any]:
    t = ratings.decide_appeal(
        db, _settings(request), principal, ticket_id, body.upheld, body.reason
    )
    return ticket_out(db, request, principal, t)


@router.post("/rating-tickets/{ticket_id}/urge", summary="督办: a supervisor's instruction")
def urge(
    request: Request,
    db: DbSession,
    ticket_id: RowId,
    body: StepIn,
    principal: Annotated[Principal, Depends(SUPERVISORS)],
) -> dict[str, Any]:
    t = ratings.urge(db, principal, ticket_id, body.text)
    return ticket_out(db, request, principal, t)


@router.post(
    "/rating-tickets/{ticket_id}/reply",
    summary="The rater: satisfied with the answer, or not (reopens once)",
)
def reply(
    request: Request,
    db: DbSession,
    ticket_id: RowId,
    body: ReplyIn,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
) -> dict[str, Any]:
    t = ratings.reply(db, _settings(request), principal, ticket_id, body.satisfied, body.note)
    return ticket_out(db, request, principal, t)


# -- statistics ----------------------------------------------------------------------------------


@router.get(
    "/ratings/stats",
    response_model=StatsOut,
    dependencies=[Depends(PUBLIC)],
    summary="Counts, distribution, satisfaction, bad ratings rectified (on time)",
)
def stats(
    db: DbSession,
    department: Key = None,
    hall: Key = None,
    matter: MatterCode = None,
    month: MonthQuery = None,
) -> dict[str, Any]:
    return ratings.stats(db, _filters(department, hall, matter, month))


@router.get(
    "/ratings/stats/by/{dimension}",
    response_model=list[GroupOut],
    dependencies=[Depends(PUBLIC)],
    summary="The same figures per department, hall, matter or month",
)
def stats_by(
    db: DbSession,
    dimension: Dimension,
    department: Key = None,
    hall: Key = None,
    matter: MatterCode = None,
    month: MonthQuery = None,
) -> list[dict[str, Any]]:
    rows = ratings.breakdown(db, dimension, _filters(department, hall, matter, month))
    return ratings.with_names(db, dimension, rows)


@router.get(
    "/ratings/stats/staff",
    response_model=list[GroupOut],
    summary="Per window staff member (internal: supervisors and administrators)",
)
def stats_by_staff(
    db: DbSession,
    _principal: Annotated[Principal, Depends(SUPERVISION)],
    hall: Key = None,
    month: MonthQuery = None,
) -> list[dict[str, Any]]:
    rows = ratings.breakdown(db, "staff", _filters(None, hall, None, month))
    return ratings.with_names(db, "staff", rows)


def _filters(
    department: str | None, hall: str | None, matter: str | None, month: str | None
) -> ratings.Filters:
    return ratings.Filters(department or None, hall or None, matter or None, month or None)
