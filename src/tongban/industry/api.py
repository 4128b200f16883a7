"""HTTP API of 一业一证: the industries, an industry's checklist and its metrics."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from pydantic import BaseModel, Field

from tongban.access import AUTHENTICATED, PUBLIC
from tongban.deps import DbSession
from tongban.identity.service import Principal
from tongban.industry import service as industry
from tongban.licenses.api import registry_of
from tongban.onething.views import bundle_case_out

router = APIRouter(prefix="/api/v1", tags=["一业一证 industries"])

IndustryCode = Annotated[str, Path(pattern=r"^[a-z][a-z0-9-]{1,39}$")]


def answers_of(request: Request, db: DbSession, code: str) -> dict[str, str] | None:
    """The questionnaire's answers in the query string (parameters that are not its questions,
    such as a link's utm_source, are not answers); none given: every permit's scenario that
    applies the most."""
    keys = {q.key for q in industry.industry(db, code).entry.questions}
    given = {k: v for k, v in request.query_params.items() if k in keys}
    return given or None


@router.get(
    "/industries",
    summary="The industries (search by what people type: 开便利店)",
    dependencies=[Depends(PUBLIC)],
)
def list_industries(
    db: DbSession, q: Annotated[str | None, Query(max_length=50)] = None
) -> dict[str, Any]:
    return {"items": [industry.summary(row) for row in industry.industries(db, q)]}


@router.get(
    "/industries/{code}",
    summary="One industry: its questions and permits",
    dependencies=[Depends(PUBLIC)],
)
def read_industry(db: DbSession, code: IndustryCode) -> dict[str, Any]:
    row = industry.industry(db, code)
    return {**industry.summary(row), "definition": row.entry.model_dump(mode="json")}


@router.get(
    "/industries/{code}/checklist",
    summary="一单告知: the permits, one form, one material list and one time limit for the answers",
    dependencies=[Depends(PUBLIC)],
)
def checklist(request: Request, db: DbSession, code: IndustryCode) -> dict[str, Any]:
    c = industry.checklist(db, code, answers_of(request, db, code))
    return {**industry.checklist_document(c), "metrics": industry.metrics(c)}


@router.get(
    "/industries/{code}/metrics",
    summary="Permits, applications, forms, materials and time, before and after, per permit",
    dependencies=[Depends(PUBLIC)],
)
def metrics(request: Request, db: DbSession, code: IndustryCode) -> dict[str, Any]:
    return industry.metrics(industry.checklist(db, code, answers_of(request, db, code)))


class ApplyIn(BaseModel):
    industry: str = Field(pattern=r"^[a-z][a-z0-9-]{1,39}$")
    uscc: str = Field(min_length=18, max_length=18, description="the enterprise applying")
    answers: dict[str, str] = Field(default_factory=dict, max_length=50)
    channel: Literal["web", "app", "wechat", "alipay"] = "web"
    delivery: Literal["pickup", "post", "electronic"] | None = None
    delivery_address: str | None = Field(default=None, max_length=200)
    amends: str | None = Field(
        default=None, max_length=120, description="a change or renewal: the current license"
    )
    renew: bool = Field(default=False, description="with amends: renew (延续) that license")


class CancelIn(BaseModel):
    industry: str = Field(pattern=r"^[a-z][a-z0-9-]{1,39}$")
    uscc: str = Field(min_length=18, max_length=18)
    identifier: str = Field(min_length=1, max_length=120)
    reason: str = Field(min_length=1, max_length=500)


@router.post(
    "/industry-cases",
    status_code=201,
    summary="一表申请: apply for an industry's permits at once (or change / renew its license)",
)
def apply(
    request: Request,
    db: DbSession,
    body: ApplyIn,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
    idempotency_key: Annotated[str | None, Header(max_length=100)] = None,
) -> dict[str, Any]:
    registry = registry_of(request)
    bc = industry.apply(
        db,
        registry,
        principal,
        industry.ApplyRequest(
            industry=body.industry,
            uscc=body.uscc,
            answers=body.answers,
            channel=body.channel,
            idempotency_key=idempotency_key,
            delivery=body.delivery,
            delivery_address=body.delivery_address,
            amends=body.amends,
            renew=body.renew,
        ),
    )
    return bundle_case_out(db, registry, principal, bc)


@router.post(
    "/industry-licenses/cancel",
    summary="注销: the holder gives up its comprehensive license",
)
def cancel(
    request: Request,
    db: DbSession,
    body: CancelIn,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
) -> dict[str, Any]:
    status = industry.cancel_license(
        db,
        registry_of(request),
        principal,
        body.industry,
        body.identifier,
        body.uscc,
        body.reason,
    )
    return {"identifier": body.identifier, "status": status}


@router.get(
    "/industry-licenses/{identifier}",
    summary="What the comprehensive license's QR shows: genuine, in force, every permit",
    dependencies=[Depends(PUBLIC)],
)
def public_license(
    request: Request,
    db: DbSession,
    identifier: Annotated[str, Path(min_length=1, max_length=120)],
) -> dict[str, Any]:
    return industry.public_view(db, registry_of(request), identifier)
