"""HTTP API of applications (办件): the prefilled form, creating, reading and moving cases."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Header, Path, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from tongban.access import AUTHENTICATED, allow
from tongban.cases import counter, proxies
from tongban.cases import files as case_files
from tongban.cases import service as cases
from tongban.cases.form import build_form, form_for
from tongban.cases.models import CaseFile
from tongban.catalog.service import matter_case_facts
from tongban.common.masking import mask_name
from tongban.common.regions import region_name
from tongban.deps import DbSession, RowId, kept_on_refusal
from tongban.errors import DomainError
from tongban.idcode.api import codes_of
from tongban.identity.models import Person
from tongban.identity.schemas import Role
from tongban.identity.service import Principal
from tongban.licenses import service as licenses
from tongban.licenses.api import registry_of
from tongban.licenses.resolver import Applicant

router = APIRouter(prefix="/api/v1", tags=["cases 办件"])


def store_of(request: Request) -> case_files.FileStore:
    store: case_files.FileStore = request.app.state.files
    return store


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
    proxy: Annotated[
        int | None, Query(ge=1, le=2**31 - 1, description="代办: for the person who authorized me")
    ] = None,
) -> dict[str, Any]:
    return form_for(db, registry_of(request), principal, code, uscc=uscc, proxy=proxy)


class CreateIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "matter": "20P010000001",
                    "form": {
                        "child.name": "刘小明",
                        "child.id_number": "31011520190101421X",
                        "child.gender": "男",
                        "child.birth_date": "2019-01-01",
                        "child.relationship": "子",
                        "person.residence_address": "上海市浦东新区世纪大道100号",
                        "student.enrollment_stage": "小学一年级",
                        "student.enrollment_category": "本市户籍且人户一致",
                    },
                    "channel": "app",
                    "delivery": "electronic",
                    "submit": False,
                }
            ]
        }
    )

    matter: str = Field(pattern=r"^[0-9A-Z]{12}$")
    form: dict[str, Any] = Field(default_factory=dict)
    channel: Literal["web", "app", "wechat", "alipay", "window"] = "web"
    uscc: str | None = Field(default=None, max_length=18, description="apply for this enterprise")
    submit: bool = Field(default=True, description="false: save a draft")
    proxy: int | None = Field(
        default=None, ge=1, le=2**31 - 1, description="代办: a relative's authorization id"
    )
    visit: int | None = Field(
        default=None, ge=1, le=2**31 - 1, description="综合受理: the window's visit id"
    )
    delivery: Literal["pickup", "post", "electronic"] | None = None
    delivery_address: str | None = Field(default=None, max_length=200)


class TransitionIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"action": "submit"},
                {"action": "request_correction", "reason": "请补充预防接种证内页"},
            ]
        }
    )

    action: str = Field(min_length=1, max_length=30)
    reason: str | None = Field(default=None, max_length=1000)
    detail: str | None = Field(
        default=None, max_length=200, description="deliver: the waybill number, or who collected"
    )
    result: dict[str, Any] | None = Field(
        default=None,
        max_length=20,
        description="approve, in a 一件事 bundle: the data the result provides to later matters",
    )


class FormIn(BaseModel):
    form: dict[str, Any]


class DeliveryIn(BaseModel):
    method: Literal["pickup", "post", "electronic"]
    address: str | None = Field(default=None, max_length=200)


def case_out(
    db: DbSession,
    registry: licenses.Registry,
    principal: Principal,
    case: Any,
    *,
    in_list: bool = False,
) -> dict[str, Any]:
    """One case as its callers see it; in a staff queue without the postal address (a staff
    member reads it by opening the case, which is audited)."""
    roles = cases.roles_on(db, principal, case)
    rows = case_files.files_of(db, case.id)
    uploaded: dict[str, list[dict[str, Any]]] = {}
    for f in rows:
        uploaded.setdefault(f.material_key, []).append(file_out(f))
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
        "materials": [{**m, "files": uploaded.get(m["key"], [])} for m in case.materials],
        "missing_materials": [m["key"] for m in cases.missing_materials(db, case, rows)],
        "license": case.license_identifier,
        "warning": case.warned_on is not None,
        "overdue": case.overdue_on is not None,
        "proxy": case.proxy_id,
        "visit": case.visit_id,
        "signed": case.signed_at is not None,
        "bundle_case": case.bundle_case_id,
        # 跨省通办: handled by another region (its number there), or accepted by one.
        "cross_region": cross_region_of(case),
        "delivery": {
            "method": case.delivery_method,
            "label": cases.DELIVERY_METHODS.get(case.delivery_method or ""),
            "address": None
            if in_list and cases.APPLICANT not in roles
            else cases.delivery_address(db, registry, case),
            "detail": case.delivery_detail,
            "delivered_at": case.delivered_at.isoformat() if case.delivered_at else None,
        },
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


def cross_region_of(case: Any) -> dict[str, Any] | None:
    if case.remote_region is not None:
        return {
            "mode": "forwarded",
            "region": case.remote_region,
            "region_name": region_name(case.remote_region),
            "number": case.remote_number,
        }
    if case.origin_region is not None:
        return {
            "mode": "accepted_elsewhere",
            "region": case.origin_region,
            "region_name": region_name(case.origin_region),
            "hall": case.origin_hall,
        }
    return None


def file_out(f: CaseFile) -> dict[str, Any]:
    return {
        "id": f.id,
        "material": f.material_key,
        "filename": f.filename,
        "content_type": f.content_type,
        "size": f.size,
        "sha256": f.sha256,
        "uploaded_at": f.created_at.isoformat(),
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
    registry = registry_of(request)
    case = cases.create_case(
        db,
        registry,
        principal,
        cases.CreateRequest(
            body.matter,
            body.form,
            body.channel,
            body.uscc,
            body.submit,
            idempotency_key,
            proxy=body.proxy,
            visit=body.visit,
            delivery=body.delivery,
            delivery_address=body.delivery_address,
        ),
    )
    return case_out(db, registry, principal, case)


@router.get("/me/cases", summary="My applications, newest first")
def mine(
    request: Request, db: DbSession, principal: Annotated[Principal, Depends(AUTHENTICATED)]
) -> list[dict[str, Any]]:
    registry = registry_of(request)
    return [case_out(db, registry, principal, c) for c in cases.my_cases(db, principal)]


@router.get(
    "/cases/queue",
    summary="Staff: the open cases of my halls and departments, nearest deadline first",
    responses={
        200: {
            "headers": {
                "X-Total-Count": {
                    "description": "how many cases the whole queue holds",
                    "schema": {"type": "integer"},
                }
            }
        }
    },
)
def staff_queue(
    request: Request,
    response: Response,
    db: DbSession,
    principal: Annotated[Principal, Depends(allow(Role.WINDOW_STAFF, Role.REVIEWER))],
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    size: Annotated[int, Query(ge=1, le=200)] = cases.QUEUE_PAGE,
) -> list[dict[str, Any]]:
    """A page of the queue; `X-Total-Count` is the whole queue's length."""
    registry = registry_of(request)
    rows, total = cases.queue_page(db, principal, page, size)
    response.headers["X-Total-Count"] = str(total)
    return [case_out(db, registry, principal, c, in_list=True) for c in rows]


@router.get(
    "/cases/deadline-report",
    summary="Admins: open cases per hall and department, with 预警 and overdue counts",
)
def deadline_report(
    db: DbSession, principal: Annotated[Principal, Depends(allow(Role.ADMIN))]
) -> dict[str, Any]:
    return {"items": [line.__dict__ for line in cases.deadline_report(db)]}


@router.get("/cases/{case_id}", summary="One case: status, due date, materials, history")
def read(
    request: Request,
    db: DbSession,
    case_id: RowId,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
) -> dict[str, Any]:
    case = cases.get_case(db, principal, case_id)
    cases.read_as_staff(db, principal, case)
    return case_out(db, registry_of(request), principal, case)


@router.patch("/cases/{case_id}", summary="Save the form of a draft, or the corrected form (补正)")
def edit(
    request: Request,
    db: DbSession,
    case_id: RowId,
    body: FormIn,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
) -> dict[str, Any]:
    registry = registry_of(request)
    case = cases.update_form(db, registry, principal, case_id, body.form)
    return case_out(db, registry, principal, case)


MaterialKey = Annotated[str, Path(pattern=r"^[a-z0-9_]{1,60}$")]


@router.post(
    "/cases/{case_id}/materials/{material}",
    status_code=201,
    summary="Upload a file for a material (PDF/JPG/PNG); the same file again is 200, not a copy",
)
def upload_material(
    request: Request,
    db: DbSession,
    case_id: RowId,
    material: MaterialKey,
    file: Annotated[UploadFile, File()],
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
) -> Response:
    registry = registry_of(request)
    data = file.file.read(registry.settings.max_upload_mb * 1024 * 1024 + 1)
    row, created = cases.upload(
        db,
        registry,
        store_of(request),
        principal,
        case_id,
        cases.Upload(material, file.filename, data),
    )
    return JSONResponse(file_out(row), status_code=201 if created else 200)


@router.delete(
    "/cases/{case_id}/files/{file_id}", status_code=204, summary="Remove an uploaded file"
)
def delete_file(
    db: DbSession,
    case_id: RowId,
    file_id: RowId,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
) -> Response:
    cases.remove_file(db, principal, case_id, file_id)
    return Response(status_code=204)


@router.get("/cases/{case_id}/files/{file_id}", summary="Download an uploaded file")
def download_file(
    request: Request,
    db: DbSession,
    case_id: RowId,
    file_id: RowId,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
) -> Response:
    row, data = cases.read_file(
        db, registry_of(request), store_of(request), principal, case_id, file_id
    )
    return file_response(row, data)


def file_response(row: CaseFile, data: bytes) -> Response:
    # Always a download, typed by what we found in the bytes: never rendered on our origin.
    return Response(
        data,
        media_type=row.content_type,
        headers={"content-disposition": "attachment", "cache-control": "no-store"},
    )


@router.post(
    "/cases/{case_id}/signature",
    summary="综合受理: the applicant's signature from the counter's pad (PNG)",
)
def sign(
    request: Request,
    db: DbSession,
    case_id: RowId,
    file: Annotated[UploadFile, File()],
    principal: Annotated[Principal, Depends(allow(Role.WINDOW_STAFF))],
) -> dict[str, Any]:
    registry = registry_of(request)
    image = file.file.read(2 * 1024 * 1024 + 1)
    case = cases.sign_at_pad(db, registry, store_of(request), principal, case_id, image)
    return case_out(db, registry, principal, case)


@router.post("/cases/{case_id}/delivery", summary="Choose how to receive the result (统一出件)")
def delivery(
    request: Request,
    db: DbSession,
    case_id: RowId,
    body: DeliveryIn,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
) -> dict[str, Any]:
    registry = registry_of(request)
    case = cases.choose_delivery(db, registry, principal, case_id, body.method, body.address)
    return case_out(db, registry, principal, case)


@router.post("/cases/{case_id}/transitions", summary="Move a case on (409 lists what is allowed)")
def move(
    request: Request,
    db: DbSession,
    case_id: RowId,
    body: TransitionIn,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
) -> dict[str, Any]:
    registry = registry_of(request)
    case = cases.transition(
        db, registry, principal, case_id, body.action, body.reason, body.detail, body.result
    )
    return case_out(db, registry, principal, case)


# -- 综合受理: the window ------------------------------------------------------------------------


class VisitIn(BaseModel):
    code: str | None = Field(default=None, max_length=400, description="the scanned 随申码")
    id_number: str | None = Field(
        default=None, max_length=18, description="with name: the ID card; with code: a paper code"
    )
    name: str | None = Field(default=None, max_length=100)
    hall: str | None = Field(default=None, max_length=60, description="if you serve several")


@router.post(
    "/window/visits",
    status_code=201,
    summary="综合受理: identify the applicant at the window by code or ID card",
)
def start_visit(
    request: Request,
    db: DbSession,
    body: VisitIn,
    principal: Annotated[Principal, Depends(allow(Role.WINDOW_STAFF))],
) -> dict[str, Any]:
    # A refused code is logged (a paper code locks after repeated wrong ID numbers).
    with kept_on_refusal(db):
        visit = counter.start_visit(
            db,
            codes_of(request),
            principal,
            hall=body.hall,
            code=body.code,
            id_number=body.id_number,
            name=body.name,
        )
    return counter.visit_out(db, registry_of(request), visit)


@router.get(
    "/window/visits/{visit_id}/form",
    summary="综合受理: the visiting applicant's prefilled form and resolved materials",
)
def visit_form(
    request: Request,
    db: DbSession,
    visit_id: RowId,
    matter: Annotated[str, Query(pattern=r"^[0-9A-Z]{12}$")],
    principal: Annotated[Principal, Depends(allow(Role.WINDOW_STAFF))],
    uscc: Annotated[
        str | None, Query(max_length=18, description="帮办: an enterprise the person acts for")
    ] = None,
) -> dict[str, Any]:
    visit = counter.open_visit(db, principal, visit_id)
    kind = matter_case_facts(db, matter).kind
    enterprise_id = counter.visit_enterprise(db, visit, uscc, kind) if uscc else None
    counter.read_for_visit(db, principal, visit, "综合受理：查看预填申请表")
    applicant = Applicant(visit.person_id, enterprise_id)
    form = build_form(db, registry_of(request), matter, applicant, licenses.today())
    return {**form, "assisted": counter.assisted(form)}


# -- 代办: relatives ----------------------------------------------------------------------------


class ProxyIn(BaseModel):
    agent_id_number: str = Field(min_length=15, max_length=18)
    agent_name: str = Field(min_length=1, max_length=100)
    relation: Literal["spouse", "parent", "child", "sibling", "grandparent", "grandchild", "other"]
    matters: list[Annotated[str, Field(pattern=r"^([0-9A-Z]{12}|\*)$")]] = Field(
        default_factory=lambda: ["*"], max_length=50
    )
    days: int = Field(default=90, ge=1, le=365)


@router.get("/me/proxies", summary="代办: authorizations I gave and hold")
def my_proxies(
    db: DbSession, principal: Annotated[Principal, Depends(AUTHENTICATED)]
) -> list[dict[str, Any]]:
    return [proxies.out(db, principal, p) for p in proxies.mine(db, principal)]


@router.post("/me/proxies", status_code=201, summary="代办: let a relative apply for me")
def give_proxy(
    request: Request,
    db: DbSession,
    body: ProxyIn,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
) -> dict[str, Any]:
    me = db.get(Person, principal.person_id) if principal.person_id else None
    if me is None:
        raise DomainError(
            code="no_person",
            title="该账号不能授权代办",
            title_en="This account cannot authorize anyone",
            status=403,
        )
    row = proxies.authorize(
        db,
        registry_of(request).keyring,
        principal,
        me,
        _proxy_request(body),
        f"授权{mask_name(body.agent_name)}代办",
    )
    return proxies.out(db, principal, row)


@router.post(
    "/window/visits/{visit_id}/proxies",
    status_code=201,
    summary="代办: record the visiting person's signed paper authorization of a relative",
)
def record_proxy(
    request: Request,
    db: DbSession,
    visit_id: RowId,
    body: ProxyIn,
    principal: Annotated[Principal, Depends(allow(Role.WINDOW_STAFF))],
) -> dict[str, Any]:
    visit = counter.open_visit(db, principal, visit_id)
    grantor = db.get(Person, visit.person_id)
    assert grantor is not None
    row = proxies.authorize(
        db,
        registry_of(request).keyring,
        principal,
        grantor,
        _proxy_request(body),
        "窗口依据本人签字的委托书登记代办授权",
    )
    return proxies.out(db, principal, row)


def _proxy_request(body: ProxyIn) -> proxies.ProxyRequest:
    return proxies.ProxyRequest(
        body.agent_id_number, body.agent_name, body.relation, body.matters, body.days
    )


@router.delete("/me/proxies/{proxy_id}", summary="代办: withdraw an authorization")
def withdraw_proxy(
    db: DbSession, proxy_id: RowId, principal: Annotated[Principal, Depends(AUTHENTICATED)]
) -> dict[str, Any]:
    return proxies.out(db, principal, proxies.withdraw(db, principal, proxy_id))
