"""HTTP API of applications (办件): the prefilled form, creating, reading and moving cases."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from pydantic import BaseModel, Field

from tongban.access import AUTHENTICATED, allow
from tongban.cases import service as cases
from tongban.cases.form import build_form
from tongban.deps import DbSession, RowId
from tongban.identity.schemas import Role
from tongban.identity.service import Principal
from tongban.licenses import service as licenses
from tongban.licenses.api import registry_of
from tongban.licenses.resolver import Applicant

router = APIRouter(prefix="/api/v1", tags=["cases 办件"])


@router.get(
    "/matters/{code}/form",
    summary="The matter's form for me: fields prefilled (免填报), materials resolved (免提交)",
)
def form(
    request: Request,
    db: DbSession,
    code: str,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
    uscc: Annotated[str | None, Query(max_length=18)] = None,
) -> dict[str, Any]:
    enterprise_id = licenses.enterprise_acted_for(db, principal, uscc) if uscc else None
    applicant = Applicant(principal.person_id, enterprise_id)
    return build_form(db, registry_of(request), code, applicant, licenses.today())


class CreateIn(BaseModel):
    matter: str = Field(pattern=r"^[0-9A-Z]{12}$")
    form: dict[str, Any] = Field(default_factory=dict)
    channel: Literal["web", "app", "wechat", "alipay", "window"] = "web"
    uscc: str | None = Field(default=None, max_length=18, description="apply for this enterprise")
    submit: bool = Field(default=True, description="false: save a draft")


class TransitionIn(BaseModel):
    action: str = Field(min_length=1, max_length=30)
    reason: str | None = Field(default=None, max_length=1000)


def case_out(db: DbSession, principal: Principal, case: Any) -> dict[str, Any]:
    roles = cases.roles_on(db, principal, case)
    return {
        "id": case.id,
        "number": case.number,
        "matter": case.matter_code,
        "matter_name": case.matter_name,
        "channel": case.channel,
        "status": case.status,
        "hall": case.hall_key,
        "department": case.department_key,
        "due_date": case.due_date.isoformat() if case.due_date else None,
        "paused": case.paused_since is not None,
        "materials": case.materials,
        "license": case.license_identifier,
        "warning": case.warned_on is not None,
        "overdue": case.overdue_on is not None,
        "allowed_actions": sorted(cases.allowed_actions(case, roles)),
        "history": [
            {
                "at": e.at.isoformat(),
                "action": e.action,
                "from": e.from_status,
                "to": e.to_status,
                "reason": e.reason,
            }
            for e in cases.history(db, case)
        ],
    }


@router.post(
    "/cases",
    status_code=201,
    summary="Apply for a matter (Idempotency-Key: retries return the first)",
)
def create(
    request: Request,
    db: DbSession,
    body: CreateIn,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
    idempotency_key: Annotated[str | None, Header(max_length=100)] = None,
) -> dict[str, Any]:
    case = cases.create_case(
        db,
        registry_of(request),
        principal,
        cases.CreateRequest(
            body.matter, body.form, body.channel, body.uscc, body.submit, idempotency_key
        ),
    )
    return case_out(db, principal, case)


@router.get("/me/cases", summary="My applications, newest first")
def mine(
    db: DbSession, principal: Annotated[Principal, Depends(AUTHENTICATED)]
) -> list[dict[str, Any]]:
    return [case_out(db, principal, c) for c in cases.my_cases(db, principal)]


@router.get(
    "/cases/queue",
    summary="Staff: the open cases of my halls and departments, nearest deadline first",
)
def staff_queue(
    db: DbSession,
    principal: Annotated[Principal, Depends(allow(Role.WINDOW_STAFF, Role.REVIEWER))],
) -> list[dict[str, Any]]:
    return [case_out(db, principal, c) for c in cases.queue(db, principal)]


@router.get("/cases/{case_id}", summary="One case: status, due date, materials, history")
def read(
    db: DbSession, case_id: RowId, principal: Annotated[Principal, Depends(AUTHENTICATED)]
) -> dict[str, Any]:
    return case_out(db, principal, cases.get_case(db, principal, case_id))


@router.post("/cases/{case_id}/transitions", summary="Move a case on (409 lists what is allowed)")
def move(
    request: Request,
    db: DbSession,
    case_id: RowId,
    body: TransitionIn,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
) -> dict[str, Any]:
    case = cases.transition(db, registry_of(request), principal, case_id, body.action, body.reason)
    return case_out(db, principal, case)
