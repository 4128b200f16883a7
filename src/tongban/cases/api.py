"""HTTP API of applications (办件). So far: the prefilled form of a matter."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from tongban.access import AUTHENTICATED
from tongban.cases.form import build_form
from tongban.deps import DbSession
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
