"""HTTP API of identity: tokens, the caller's own profile and who used their data."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from tongban.access import AUTHENTICATED, PUBLIC, allow
from tongban.audit.service import data_usage
from tongban.common.ratelimit import rate_limited
from tongban.crypto.service import Keyring
from tongban.deps import DbSession, kept_on_refusal
from tongban.errors import DomainError
from tongban.identity import service
from tongban.identity.schemas import (
    AgentGrantIn,
    AgentGrantOut,
    MeOut,
    PersonLookup,
    PersonOut,
    RefreshRequest,
    Role,
    TokenOut,
    TokenRequest,
)
from tongban.identity.service import Principal

router = APIRouter(prefix="/api/v1", tags=["identity"])

_AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "problem+json: invalid_credentials, otp_required, invalid_token"},
    423: {"description": "problem+json: account_locked"},
    429: {"description": "problem+json: rate_limited"},
}


def keyring(request: Request) -> Keyring | None:
    ring: Keyring | None = request.app.state.keyring
    return ring


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def enforce_login_rate(request: Request) -> None:
    wait = request.app.state.login_limiter.allow(client_address(request))
    if wait is not None:
        raise rate_limited(wait)


@router.post(
    "/auth/token",
    response_model=TokenOut,
    responses=_AUTH_ERRORS,
    dependencies=[Depends(PUBLIC)],
    summary="Log in: username and password (and a one-time code for staff) for tokens",
)
def token(request: Request, body: TokenRequest, db: DbSession) -> TokenOut:
    enforce_login_rate(request)
    settings = request.app.state.settings
    with kept_on_refusal(db):
        account = service.authenticate(
            db,
            settings,
            keyring(request),
            body.username,
            body.password,
            body.otp,
            client=client_address(request),
        )
    return service.issue_tokens(db, settings, account)


@router.post(
    "/auth/refresh",
    response_model=TokenOut,
    responses=_AUTH_ERRORS,
    dependencies=[Depends(PUBLIC)],
    summary="A new token pair for a refresh token (the old one stops working)",
)
def refresh(request: Request, body: RefreshRequest, db: DbSession) -> TokenOut:
    enforce_login_rate(request)
    with kept_on_refusal(db):
        return service.refresh_tokens(db, request.app.state.settings, body.refresh_token)


class LoggedOut(BaseModel):
    status: str = "logged_out"


@router.post("/auth/logout", response_model=LoggedOut, summary="Revoke the caller's tokens")
def logout(
    request: Request, db: DbSession, principal: Annotated[Principal, Depends(AUTHENTICATED)]
) -> LoggedOut:
    token = request.headers.get("authorization", "").partition(" ")[2].strip()
    service.revoke_token(db, token)
    return LoggedOut()


@router.get("/me", response_model=MeOut, summary="The caller's profile and roles, masked")
def me(
    request: Request, db: DbSession, principal: Annotated[Principal, Depends(AUTHENTICATED)]
) -> MeOut:
    return service.me(db, keyring(request), principal)


class DataUseOut(BaseModel):
    at: str
    actor: str
    actor_role: str | None
    action: str
    reason: str | None


@router.get(
    "/me/data-usage",
    response_model=list[DataUseOut],
    summary="我的数据使用记录: who read or used the caller's personal data, and why",
)
def my_data_usage(
    db: DbSession, principal: Annotated[Principal, Depends(AUTHENTICATED)]
) -> list[DataUseOut]:
    if principal.person_id is None:
        return []
    return [
        DataUseOut(
            at=e.at.isoformat(),
            actor=e.actor,
            actor_role=e.actor_role,
            action=e.action,
            reason=e.reason,
        )
        for e in data_usage(db, principal.person_id)
    ]


@router.post(
    "/persons/lookup",
    response_model=PersonOut,
    summary="Staff: a person's profile by ID number, masked; the person sees who looked and why",
)
def lookup_person(
    request: Request,
    body: PersonLookup,
    db: DbSession,
    principal: Annotated[
        Principal, Depends(allow(Role.WINDOW_STAFF, Role.REVIEWER, Role.ISSUER, Role.ADMIN))
    ],
) -> PersonOut:
    return service.lookup_person(db, _require_keys(request), principal, body.id_number, body.reason)


@router.post(
    "/me/agents",
    response_model=AgentGrantOut,
    summary="A legal representative authorizes a person (经办人) to act for the enterprise",
)
def grant_agent(
    request: Request,
    body: AgentGrantIn,
    db: DbSession,
    principal: Annotated[Principal, Depends(allow(Role.CITIZEN))],
) -> AgentGrantOut:
    return service.grant_agent(
        db,
        _require_keys(request),
        principal,
        body.id_number,
        body.scope,
        body.days,
        body.enterprise_uscc,
    )


def _require_keys(request: Request) -> Keyring:
    ring = keyring(request)
    if ring is None:
        raise DomainError(
            code="keys_unavailable",
            title="个人数据服务暂不可用",
            title_en="Personal data is unavailable: no key-encryption key is configured",
            status=503,
        )
    return ring
