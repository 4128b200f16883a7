"""HTTP API of 一业一证: the industries, an industry's checklist and its metrics."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from tongban.access import PUBLIC
from tongban.deps import DbSession
from tongban.industry import service as industry

router = APIRouter(prefix="/api/v1", tags=["一业一证 industries"], dependencies=[Depends(PUBLIC)])

IndustryCode = Annotated[str, Path(pattern=r"^[a-z][a-z0-9-]{1,39}$")]


def answers_of(request: Request) -> dict[str, str] | None:
    """The questionnaire's answers in the query string; none given: every permit's scenario
    that applies the most."""
    given = dict(request.query_params)
    return given or None


@router.get("/industries", summary="The industries (search by what people type: 开便利店)")
def list_industries(
    db: DbSession, q: Annotated[str | None, Query(max_length=50)] = None
) -> dict[str, Any]:
    return {"items": [industry.summary(row) for row in industry.industries(db, q)]}


@router.get("/industries/{code}", summary="One industry: its questions and permits")
def read_industry(db: DbSession, code: IndustryCode) -> dict[str, Any]:
    row = industry.industry(db, code)
    return {**industry.summary(row), "definition": row.entry.model_dump(mode="json")}


@router.get(
    "/industries/{code}/checklist",
    summary="一单告知: the permits, one form, one material list and one time limit for the answers",
)
def checklist(request: Request, db: DbSession, code: IndustryCode) -> dict[str, Any]:
    c = industry.checklist(db, code, answers_of(request))
    return {**industry.checklist_document(c), "metrics": industry.metrics(c)}


@router.get(
    "/industries/{code}/metrics",
    summary="Permits, applications, forms, materials and time, before and after, per permit",
)
def metrics(request: Request, db: DbSession, code: IndustryCode) -> dict[str, Any]:
    return industry.metrics(industry.checklist(db, code, answers_of(request)))
