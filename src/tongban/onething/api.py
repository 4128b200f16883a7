"""HTTP API of 一件事: the bundles, their plans and metrics, and bundle cases."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Header, Path, Query, Request, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from tongban.access import AUTHENTICATED, PUBLIC
from tongban.cases.api import store_of
from tongban.deps import DbSession, RowId
from tongban.identity.service import Principal
from tongban.licenses.api import registry_of
from tongban.onething import service as onething
from tongban.onething.views import bundle_case_out, bundle_summary

router = APIRouter(prefix="/api/v1", tags=["一件事 bundles"])

BundleCode = Annotated[str, Path(pattern=r"^[a-z][a-z0-9-]{1,39}$")]
# Query parameters that are not answers to a bundle's questions.
_NOT_ANSWERS = frozenset({"format"})


def answers_of(request: Request) -> dict[str, str] | None:
    """The scenario answers in the query string (`?household_here=yes&...`); none given means
    the bundle's fullest scenario."""
    given = {k: v for k, v in request.query_params.items() if k not in _NOT_ANSWERS}
    return given or None


@router.get(
    "/bundles",
    summary="The 一件事 bundles, each with its reductions, and the averages",
    dependencies=[Depends(PUBLIC)],
)
def list_bundles(db: DbSession) -> dict[str, Any]:
    overview = onething.overview(db)
    by_code = {m["bundle"]: m for m in overview["bundles"]}
    return {
        "items": [
            {**bundle_summary(row), "reduction": by_code[row.entry.code]["reduction"]}
            for row in onething.bundles(db)
        ],
        "average": overview["average"],
        "article": overview["article"],
    }


@router.get(
    "/bundles/{code}",
    summary="One bundle: its questions, matters and dependencies",
    dependencies=[Depends(PUBLIC)],
)
def read_bundle(db: DbSession, code: BundleCode) -> dict[str, Any]:
    row = onething.bundle(db, code)
    return {**bundle_summary(row), "definition": row.entry.model_dump(mode="json")}


@router.get(
    "/bundles/{code}/plan",
    summary="设计最优办理路径: the matters, merged form and materials, task DAG for the answers",
    dependencies=[Depends(PUBLIC)],
)
def plan(request: Request, db: DbSession, code: BundleCode) -> dict[str, Any]:
    p = onething.plan_for(db, code, answers_of(request))
    return {**onething.plan_document(p), "metrics": onething.metrics(p)}


@router.get(
    "/bundles/{code}/metrics",
    summary="Before and after the bundle (steps, days, materials, trips), per matter too",
    dependencies=[Depends(PUBLIC)],
)
def metrics(request: Request, db: DbSession, code: BundleCode) -> dict[str, Any]:
    return onething.metrics(onething.plan_for(db, code, answers_of(request)))


class StartIn(BaseModel):
    bundle: str = Field(pattern=r"^[a-z][a-z0-9-]{1,39}$")
    answers: dict[str, str] = Field(default_factory=dict, max_length=50)
    channel: Literal["web", "app", "wechat", "alipay"] = "web"
    uscc: str | None = Field(default=None, max_length=18, description="an enterprise bundle")
    delivery: Literal["pickup", "post", "electronic"] | None = None
    delivery_address: str | None = Field(default=None, max_length=200)


class BundleFormIn(BaseModel):
    form: dict[str, Any] = Field(max_length=300)


class DeliverIn(BaseModel):
    detail: str | None = Field(default=None, max_length=200)


@router.post(
    "/bundle-cases",
    status_code=201,
    summary="Start a bundle case: a draft with one task per applying matter (Idempotency-Key)",
)
def start(
    request: Request,
    db: DbSession,
    body: StartIn,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
    idempotency_key: Annotated[str | None, Header(max_length=100)] = None,
) -> dict[str, Any]:
    registry = registry_of(request)
    bc = onething.start(
        db,
        registry,
        principal,
        onething.StartRequest(
            bundle=body.bundle,
            answers=body.answers,
            channel=body.channel,
            uscc=body.uscc,
            idempotency_key=idempotency_key,
            delivery=body.delivery,
            delivery_address=body.delivery_address,
        ),
    )
    return bundle_case_out(db, registry, principal, bc)


@router.get("/me/bundle-cases", summary="My bundle cases, newest first")
def mine(
    request: Request, db: DbSession, principal: Annotated[Principal, Depends(AUTHENTICATED)]
) -> list[dict[str, Any]]:
    registry = registry_of(request)
    return [
        bundle_case_out(db, registry, principal, bc)
        for bc in onething.my_bundle_cases(db, principal)
    ]


@router.get("/bundle-cases/{bc_id}", summary="One bundle case: its status line and its tasks")
def read(
    request: Request,
    db: DbSession,
    bc_id: RowId,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
) -> dict[str, Any]:
    bc = onething.get_bundle_case(db, principal, bc_id)
    onething.read_as_staff(db, principal, bc)
    return bundle_case_out(db, registry_of(request), principal, bc)


@router.patch("/bundle-cases/{bc_id}", summary="Save the merged form of a draft (partial is fine)")
def edit(
    request: Request,
    db: DbSession,
    bc_id: RowId,
    body: BundleFormIn,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
) -> dict[str, Any]:
    registry = registry_of(request)
    bc = onething.save_form(db, registry, principal, bc_id, body.form)
    return bundle_case_out(db, registry, principal, bc)


@router.post(
    "/bundle-cases/{bc_id}/materials",
    status_code=201,
    summary="Upload one merged material once; every task that needs it keeps it",
)
def upload(
    request: Request,
    db: DbSession,
    bc_id: RowId,
    material: Annotated[str, Form(min_length=1, max_length=200)],
    file: Annotated[UploadFile, File()],
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
) -> JSONResponse:
    registry = registry_of(request)
    data = file.file.read(registry.settings.max_upload_mb * 1024 * 1024 + 1)
    taken = onething.upload(
        db, registry, store_of(request), principal, bc_id, material, file.filename, data
    )
    return JSONResponse({"material": material, "tasks": taken}, status_code=201)


@router.delete(
    "/bundle-cases/{bc_id}/materials",
    summary="Take an uploaded paper back out of a draft (from every task that had it)",
)
def remove_upload(
    db: DbSession,
    bc_id: RowId,
    material: Annotated[str, Query(min_length=1, max_length=200)],
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
) -> dict[str, Any]:
    return {"material": material, "removed": onething.remove_upload(db, principal, bc_id, material)}


@router.post("/bundle-cases/{bc_id}/submit", summary="一次提交: hand in every task at once")
def submit(
    request: Request,
    db: DbSession,
    bc_id: RowId,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
) -> dict[str, Any]:
    registry = registry_of(request)
    bc = onething.submit(db, registry, principal, bc_id)
    return bundle_case_out(db, registry, principal, bc)


@router.post("/bundle-cases/{bc_id}/deliver", summary="统一发证: hand out every result at once")
def deliver(
    request: Request,
    db: DbSession,
    bc_id: RowId,
    body: DeliverIn,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
) -> dict[str, Any]:
    registry = registry_of(request)
    bc = onething.deliver(db, registry, principal, bc_id, body.detail)
    return bundle_case_out(db, registry, principal, bc)
