"""HTTP API of pre-review: a case's verdict and findings, checking a draft, overruling a
finding, 补正 from the findings, and per-rule counts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from tongban.access import AUTHENTICATED, allow
from tongban.cases.api import case_out
from tongban.deps import DbSession, RowId
from tongban.identity.schemas import Role
from tongban.identity.service import Principal
from tongban.licenses.api import registry_of
from tongban.prereview import engine
from tongban.prereview import service as prereview

router = APIRouter(prefix="/api/v1", tags=["prereview 智能预审"])


def view_out(v: prereview.View) -> dict[str, Any]:
    row = v.prereview
    if row is None:
        return {"status": None, "status_label": "未预审", "verdict": None, "findings": []}
    return {
        "id": row.id,
        "status": row.status,
        "status_label": prereview.STATUS_LABELS[row.status],
        "trigger": row.trigger,
        "verdict": row.verdict,
        "verdict_label": prereview.VERDICT_LABELS.get(row.verdict or ""),
        "findings": v.findings,
        "rules": row.rules,
        "documents": row.documents,
        "seconds": row.seconds,
        "requested_at": row.requested_at.isoformat(),
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
    }


@router.get("/cases/{case_id}/prereview", summary="The case's latest pre-review (预审中 until run)")
def read(
    request: Request,
    db: DbSession,
    case_id: RowId,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
) -> dict[str, Any]:
    return view_out(prereview.view(db, registry_of(request), principal, case_id))


@router.get(
    "/cases/{case_id}/prereview/check",
    summary="The approval elements on the case as it stands now (a draft too); no documents read",
)
def check(
    request: Request,
    db: DbSession,
    case_id: RowId,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
) -> dict[str, Any]:
    findings = prereview.check_draft(db, registry_of(request), principal, case_id)
    return {
        "verdict": engine.verdict(findings),
        "findings": [f.as_dict() for f in findings],
    }


class OverruleIn(BaseModel):
    rule: str = Field(min_length=3, max_length=80)
    field: str | None = Field(default=None, max_length=120)
    reason: str = Field(min_length=1, max_length=500)


@router.post(
    "/cases/{case_id}/prereview/overrules",
    status_code=201,
    summary="Staff set a finding aside, with a reason (logged, counted per rule)",
)
def overrule(
    request: Request,
    db: DbSession,
    case_id: RowId,
    body: OverruleIn,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
) -> dict[str, Any]:
    registry = registry_of(request)
    prereview.overrule(db, registry, principal, case_id, body.rule, body.field, body.reason)
    return view_out(prereview.view(db, registry, principal, case_id))


class CorrectionIn(BaseModel):
    note: str | None = Field(default=None, max_length=500)


@router.post(
    "/cases/{case_id}/prereview/correction",
    summary="补正 from the pre-review: the findings not set aside become the request",
)
def correction(
    request: Request,
    db: DbSession,
    case_id: RowId,
    body: CorrectionIn,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
) -> dict[str, Any]:
    registry = registry_of(request)
    case = prereview.request_correction(db, registry, principal, case_id, body.note)
    return case_out(db, registry, principal, case)


@router.get(
    "/prereview/rules",
    summary="Per rule: how often it fired and how often staff overruled it",
)
def rules(
    db: DbSession,
    _principal: Annotated[Principal, Depends(allow(Role.ADMIN, Role.REVIEWER, Role.WINDOW_STAFF))],
    matter: Annotated[str | None, Query(pattern=r"^[0-9A-Z]{12}$")] = None,
) -> dict[str, Any]:
    return {"items": prereview.rule_stats(db, matter)}
