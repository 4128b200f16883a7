"""Applications: created once per idempotency key, routed to a hall and a department, moved
through their states by the right roles, on a working-day clock that stops during 补正, and
ending, for a matter that issues a license, in that license."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tongban.audit.service import record
from tongban.cases import files, proxies
from tongban.cases.counter import may_act_for, open_visit, read_for_visit, visit_enterprise
from tongban.cases.models import (
    QUEUED,
    Case,
    CaseEvent,
    CaseFile,
    CounterVisit,
    ProxyAuthorization,
)
from tongban.catalog.elements import validate_form
from tongban.catalog.rules import ElementFacts
from tongban.catalog.service import (
    MatterCaseFacts,
    data_element_facts,
    hall_for,
    license_type_facts,
    matter_case_facts,
    matter_form_facts,
    matter_materials_facts,
)
from tongban.db import locked, utcnow
from tongban.errors import DomainError, FieldError, NotFound, validation_failed
from tongban.identity.models import Enterprise, Person
from tongban.identity.schemas import Role
from tongban.identity.service import Principal
from tongban.licenses import service as licenses
from tongban.licenses.resolver import Applicant, resolve_materials
from tongban.licenses.service import Registry
from tongban.notify.service import notify
from tongban.portal.i18n import N_
from tongban.workdays.service import calendar

APPLICANT, WINDOW, REVIEWER = "applicant", "window", "reviewer"
# The window serving the applicant of a counter case right now: the staff member has an open
# visit with that person at the case's hall.
COUNTER = "counter"

# action -> (statuses it starts from, the status it leads to, who may take it)
TRANSITIONS: dict[str, tuple[frozenset[str], str, frozenset[str]]] = {
    # The window submits a counter case once the applicant has signed its pad.
    "submit": (frozenset({"draft"}), "submitted", frozenset({APPLICANT, COUNTER})),
    "accept": (frozenset({"submitted"}), "accepted", frozenset({WINDOW, REVIEWER})),
    "reject_at_intake": (
        frozenset({"submitted"}),
        "rejected_at_intake",
        frozenset({WINDOW, REVIEWER}),
    ),
    "request_correction": (
        frozenset({"submitted", "accepted", "under_review"}),
        "correction_requested",
        frozenset({WINDOW, REVIEWER}),
    ),
    "resubmit": (
        frozenset({"correction_requested"}),
        "(resume)",
        frozenset({APPLICANT, COUNTER}),
    ),
    "start_review": (frozenset({"accepted"}), "under_review", frozenset({REVIEWER})),
    "approve": (frozenset({"under_review"}), "approved", frozenset({REVIEWER})),
    "deny": (frozenset({"under_review"}), "denied", frozenset({REVIEWER})),
    "deliver": (frozenset({"approved"}), "delivered", frozenset({WINDOW, REVIEWER})),
}


@dataclass(frozen=True)
class CreateRequest:
    matter: str
    form: dict[str, Any]
    channel: str
    uscc: str | None = None
    submit: bool = True
    idempotency_key: str | None = None
    proxy: int | None = None  # 代办: the relative's authorization to apply under
    visit: int | None = None  # 综合受理: the window's visit with the applicant
    delivery: str | None = None
    delivery_address: str | None = None


DELIVERY_METHODS = {
    "pickup": N_("窗口领取"),
    "post": N_("邮寄送达"),
    "electronic": N_("电子证照（无需纸质）"),
}


@dataclass(frozen=True)
class Applying:
    """On whose behalf a case is made, and through what."""

    person_id: int
    enterprise_id: int | None
    proxy_id: int | None
    visit: CounterVisit | None


def _applying(
    session: Session, principal: Principal, req: CreateRequest, facts: MatterCaseFacts
) -> Applying:
    if req.visit is not None:
        visit = open_visit(session, principal, req.visit)
        if req.proxy:
            raise validation_failed(
                [FieldError("proxy", N_("窗口受理不使用亲属代办授权"), "visit_no_proxy")]
            )
        if req.uscc:  # 帮办: the person at the window applies for an enterprise
            return Applying(
                visit.person_id, _counter_enterprise(session, visit, req, facts), None, visit
            )
        if not facts.for_person:
            raise validation_failed(
                [FieldError("uscc", N_("企业事项须选择以哪家企业名义申请"), "enterprise_required")]
            )
        return Applying(visit.person_id, None, None, visit)
    if req.channel == "window":
        raise validation_failed([FieldError("visit", N_("窗口受理须先核验申请人身份"), "missing")])
    if req.proxy is not None:
        grant = proxies.usable(session, principal, req.proxy, facts.code)
        if req.uscc or not facts.for_person:
            raise validation_failed(
                [FieldError("proxy", N_("亲属代办只用于个人事项"), "personal_only")]
            )
        return Applying(grant.grantor_person_id, None, grant.id, None)
    enterprise_id = (
        licenses.enterprise_acted_for(session, principal, req.uscc) if req.uscc else None
    )
    if enterprise_id is None and not facts.for_person:
        raise validation_failed(
            [FieldError("uscc", N_("企业事项须以企业名义申请"), "enterprise_required")]
        )
    if enterprise_id is not None:
        scope = licenses.agent_scope(session, principal, enterprise_id)
        if "*" not in scope and facts.kind not in scope:
            raise DomainError(
                code="agent_out_of_scope",
                title="您的经办授权不包括此类事项",
                title_en="Your authorization as the enterprise's agent does not cover this matter",
                status=403,
            )
    if principal.person_id is None:
        raise DomainError(
            code="no_person",
            title="该账号不能申请办事",
            title_en="This account cannot apply",
            status=403,
        )
    return Applying(principal.person_id, enterprise_id, None, None)


def _counter_enterprise(
    session: Session, visit: CounterVisit, req: CreateRequest, facts: MatterCaseFacts
) -> int:
    """The enterprise the identified person applies for at the window (帮办)."""
    if not facts.for_enterprise:
        raise validation_failed(
            [FieldError("uscc", N_("个人事项不以企业名义申请"), "personal_only")]
        )
    return visit_enterprise(session, visit, (req.uscc or "").strip().upper(), facts.kind)


def create_case(session: Session, reg: Registry, principal: Principal, req: CreateRequest) -> Case:
    """A new case; the same idempotency key from the same account, for the same request,
    returns the first one."""
    key = (req.idempotency_key or "").strip() or None
    fingerprint = _fingerprint(req) if key else None
    if key is not None:
        earlier = _created_with(session, principal, key)
        if earlier is not None:
            return _replayed(session, principal, earlier, fingerprint)
    facts = matter_case_facts(session, req.matter)
    who = _applying(session, principal, req, facts)
    # A case made at the window waits for the applicant's signature or confirmation.
    submit = req.submit and who.visit is None
    form = _checked_form(session, req.matter, req.form, final=submit)
    applicant = Applicant(who.person_id, who.enterprise_id)
    if who.visit is not None:
        hall: str | None = who.visit.hall_key  # the accepting hall is the one they stand in
        read_for_visit(session, principal, who.visit, f"综合受理：代填{facts.name}申请")
    else:
        hall = _route(session, facts, who.person_id, who.enterprise_id)
    method, address = _delivery_choice(facts, req.delivery, req.delivery_address)
    case = Case(
        matter_code=facts.code,
        matter_name=facts.name,
        channel="window" if who.visit is not None else req.channel,
        status="draft",
        person_id=who.person_id,
        enterprise_id=who.enterprise_id,
        proxy_id=who.proxy_id,
        visit_id=who.visit.id if who.visit is not None else None,
        delivery_method=method,
        delivery_address_enc=(
            reg.keyring.encrypt(session, "case.delivery_address", address) if address else None
        ),
        created_by=principal.account_id,
        idempotency_key=key,
        request_hash=fingerprint,
        hall_key=hall,
        department_key=facts.department_key,
        remote_region=facts.region,
        form_enc=reg.keyring.encrypt(session, "case.form", json.dumps(form, ensure_ascii=False)),
        materials=[
            m.as_dict() for m in resolve_materials(session, req.matter, applicant, licenses.today())
        ],
    )
    try:
        with session.begin_nested():
            session.add(case)
            session.flush()
    except IntegrityError:
        # The same key is being created by a retry in flight: answer with that one.
        assert key is not None
        existing = _created_with(session, principal, key)
        assert existing is not None
        return _replayed(session, principal, existing, fingerprint)
    _event(session, case, "create", None, "draft", f"account:{principal.account_id}", None)
    if submit:
        _require_materials(session, case)
        _submit(session, reg, case, f"account:{principal.account_id}")
    return case


def _created_with(session: Session, principal: Principal, key: str) -> Case | None:
    return session.scalars(
        select(Case).where(Case.created_by == principal.account_id, Case.idempotency_key == key)
    ).first()


def _fingerprint(req: CreateRequest) -> str:
    body = {k: v for k, v in req.__dict__.items() if k != "idempotency_key"}
    canonical = json.dumps(body, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replayed(
    session: Session, principal: Principal, earlier: Case, fingerprint: str | None
) -> Case:
    """The first answer for a retry: only to a caller who may still see the case, and only
    for the same request (a key used for something else is a client's bug, said plainly)."""
    if not roles_on(session, principal, earlier):
        raise NotFound("case_not_found", "办件不存在", "No such case")
    if earlier.request_hash is not None and earlier.request_hash != fingerprint:
        raise DomainError(
            code="idempotency_key_reused",
            title="该请求编号已用于另一份申请",
            title_en="This Idempotency-Key was used for a different application",
            status=422,
            extra={"case": earlier.id},
        )
    return earlier


def _delivery_choice(
    facts: MatterCaseFacts, method: str | None, address: str | None
) -> tuple[str, str | None]:
    """How the result reaches the applicant: an e-license by default when the matter issues
    one, else pick-up at the hall; post needs an address."""
    chosen = method or ("electronic" if facts.issues_license else "pickup")
    if chosen not in DELIVERY_METHODS:
        raise validation_failed([FieldError("delivery", N_("领取方式不在可选范围内"), "invalid")])
    if chosen == "electronic" and not facts.issues_license:
        raise validation_failed(
            [FieldError("delivery", N_("该事项不出具电子证照，请选择窗口领取或邮寄"), "no_license")]
        )
    clean = (address or "").strip()
    if chosen == "post" and len(clean) < 6:
        raise validation_failed([FieldError("delivery_address", N_("请填写邮寄地址"), "missing")])
    return chosen, clean if chosen == "post" else None


def choose_delivery(
    session: Session,
    reg: Registry,
    principal: Principal,
    case_id: int,
    method: str,
    address: str | None,
) -> Case:
    """The applicant changes how to receive the result, until it has been delivered."""
    case = _locked_case(session, principal, case_id)
    if APPLICANT not in roles_on(session, principal, case):
        raise NotFound("case_not_found", "办件不存在", "No such case")
    if case.bundle_case_id is not None:
        raise DomainError(
            code="bundle_delivery",
            title="一件事的办理结果统一送达，领取方式在一件事中选择",
            title_en="A bundle's results are handed out together; choose how in the bundle",
            status=409,
        )
    if case.status in ("delivered", "denied", "rejected_at_intake"):
        raise _not_editable(case)
    facts = matter_case_facts(session, case.matter_code)
    chosen, clean = _delivery_choice(facts, method, address)
    case.delivery_method = chosen
    case.delivery_address_enc = (
        reg.keyring.encrypt(session, "case.delivery_address", clean) if clean else None
    )
    _event(
        session,
        case,
        "choose_delivery",
        case.status,
        case.status,
        f"account:{principal.account_id}",
        DELIVERY_METHODS[chosen],
    )
    return case


def delivery_address(session: Session, reg: Registry, case: Case) -> str | None:
    if case.delivery_address_enc is None:
        return None
    return reg.keyring.decrypt(session, "case.delivery_address", case.delivery_address_enc)


EDITABLE = frozenset({"draft", "correction_requested"})


def _locked_case(session: Session, principal: Principal, case_id: int) -> Case:
    case = lock_case(session, case_id)
    if case is None or not roles_on(session, principal, case):
        raise NotFound("case_not_found", "办件不存在", "No such case")
    return case


def lock_case(session: Session, case_id: int) -> Case | None:
    """The case, read afresh under its write lock: two requests on one case run one after the
    other (`db.locked`)."""
    case: Case | None = locked(session, Case, case_id)
    return case


def find_case(session: Session, case_id: int) -> Case | None:
    """A case by id, for modules that check access themselves (好差评)."""
    return session.get(Case, case_id)


def _not_editable(case: Case) -> DomainError:
    return DomainError(
        code="case_not_editable",
        title="办件当前状态下不能修改",
        title_en=f"The case cannot be changed while {case.status}",
        status=409,
        extra={"status": case.status},
    )


def may_edit(session: Session, principal: Principal, case: Case) -> bool:
    """Whether the caller may change the case's form and files now (see _editor)."""
    roles = roles_on(session, principal, case)
    if case.bundle_case_id is not None and case.status == "draft":
        return False
    return case.status in EDITABLE and bool(roles & {APPLICANT, COUNTER})


def _editor(session: Session, principal: Principal, case: Case) -> str:
    """Who may change a case's form and files now: the applicant while it is a draft or
    awaiting 补正; for a counter case, the window serving the applicant. A change after the
    applicant signed the pad needs a new signature."""
    roles = roles_on(session, principal, case)
    if case.status not in EDITABLE or (case.bundle_case_id is not None and case.status == "draft"):
        # A bundle's draft tasks are filled through the bundle's one form.
        raise _not_editable(case)
    if APPLICANT in roles:
        who = APPLICANT
    elif COUNTER in roles:
        who = COUNTER
    else:
        raise DomainError(
            code="not_your_case",
            title="您不能修改此办件",
            title_en="You may not change this case",
            status=403,
        )
    if case.signed_at is not None:
        case.signed_at = None
        _event(
            session,
            case,
            "unsign",
            case.status,
            case.status,
            f"account:{principal.account_id}",
            "签名后修改了申请，须重新签名",
        )
    return who


def update_form(
    session: Session, reg: Registry, principal: Principal, case_id: int, values: dict[str, Any]
) -> Case:
    """Save the draft's form (or the corrected form during 补正); a draft may be incomplete."""
    case = _locked_case(session, principal, case_id)
    _editor(session, principal, case)
    form = _checked_form(session, case.matter_code, values, final=case.status != "draft")
    case.form_enc = reg.keyring.encrypt(session, "case.form", json.dumps(form, ensure_ascii=False))
    if case.status != "draft":
        _event(
            session, case, "edit", case.status, case.status, f"account:{principal.account_id}", None
        )
    return case


def form_of(session: Session, reg: Registry, case: Case) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(reg.keyring.decrypt(session, "case.form", case.form_enc))
    return data


@dataclass(frozen=True)
class Upload:
    material_key: str
    filename: str | None
    data: bytes


def upload(
    session: Session,
    reg: Registry,
    store: files.FileStore,
    principal: Principal,
    case_id: int,
    item: Upload,
) -> tuple[CaseFile, bool]:
    """A file for a material that must be handed in; the same content again is the same file."""
    case = _locked_case(session, principal, case_id)
    _editor(session, principal, case)
    return store_upload(session, reg, store, principal, case, item)


def store_upload(
    session: Session,
    reg: Registry,
    store: files.FileStore,
    principal: Principal,
    case: Case,
    item: Upload,
) -> tuple[CaseFile, bool]:
    """The file of a case whose editor is already known (a bundle uploads to its tasks)."""
    material = next((m for m in case.materials if m["key"] == item.material_key), None)
    if material is None:
        raise validation_failed([FieldError("material", N_("本事项没有这项材料"), "unknown")])
    if material["resolution"] != "upload":
        raise DomainError(
            code="material_resolved",
            title="该材料已由电子证照或部门共享提供，无需上传",
            title_en="This material is already provided by the registry; nothing to upload",
            status=409,
        )
    row, created = _keep_file(session, reg, store, principal, case, item)
    if created and case.status != "draft":
        _event(
            session,
            case,
            "upload",
            case.status,
            case.status,
            f"account:{principal.account_id}",
            f"{material['name']}：{row.filename}",
        )
    return row, created


def _keep_file(
    session: Session,
    reg: Registry,
    store: files.FileStore,
    principal: Principal,
    case: Case,
    item: Upload,
) -> tuple[CaseFile, bool]:
    """A file checked by its bytes and kept for one of the case's materials."""
    content_type = files.checked_upload(item.data, reg.settings.max_upload_mb * 1024 * 1024)
    return files.store_file(
        session,
        store,
        reg.keyring,
        case_id=case.id,
        material_key=item.material_key,
        data=item.data,
        filename=files.clean_filename(item.filename, content_type),
        content_type=content_type,
        account_id=principal.account_id,
    )


def read_file(
    session: Session,
    reg: Registry,
    store: files.FileStore,
    principal: Principal,
    case_id: int,
    file_id: int,
) -> tuple[CaseFile, bytes]:
    """An uploaded file, for whoever may see the case; staff reading it is in the
    applicant's data-usage list."""
    case = get_case(session, principal, case_id)
    row = session.get(CaseFile, file_id)
    if row is None or row.case_id != case.id:
        raise NotFound("file_not_found", "文件不存在", "No such file")
    if APPLICANT not in roles_on(session, principal, case):
        record(
            session,
            actor=f"account:{principal.account_id}",
            actor_role=",".join(sorted({r for r, _ in principal.roles})),
            action="case.file_read",
            subject_type="case",
            subject_id=str(case.id),
            data_subject=case.person_id,
            reason=f"办理{case.matter_name}查阅申请材料",
            details={"file": row.id, "material": row.material_key},
        )
    return row, files.read_file(session, store, reg.keyring, row)


def read_as_staff(session: Session, principal: Principal, case: Case) -> None:
    """Staff opening a case read the applicant's form: the applicant sees who and why."""
    if APPLICANT in roles_on(session, principal, case):
        return
    record(
        session,
        actor=f"account:{principal.account_id}",
        actor_role=",".join(sorted({r for r, _ in principal.roles})),
        action="case.read",
        subject_type="case",
        subject_id=str(case.id),
        data_subject=case.person_id,
        reason=f"办理{case.matter_name}",
    )


def remove_file(session: Session, principal: Principal, case_id: int, file_id: int) -> None:
    case = _locked_case(session, principal, case_id)
    _editor(session, principal, case)
    row = session.get(CaseFile, file_id)
    if row is None or row.case_id != case.id or row.material_key == files.SIGNATURE_KEY:
        raise NotFound("file_not_found", "文件不存在", "No such file")
    session.delete(row)  # the blob goes with the next orphan sweep
    session.flush()


def drop_files(session: Session, case: Case, material_key: str) -> int:
    """A bundle draft takes a paper back: this task's files of it go (the blobs with the next
    orphan sweep)."""
    rows = [f for f in files.files_of(session, case.id) if f.material_key == material_key]
    for row in rows:
        session.delete(row)
    session.flush()
    return len(rows)


def sign_at_pad(
    session: Session,
    reg: Registry,
    store: files.FileStore,
    principal: Principal,
    case_id: int,
    image: bytes,
) -> Case:
    """The applicant signs the counter's pad: the image is kept with the case."""
    case = _locked_case(session, principal, case_id)
    if _editor(session, principal, case) != COUNTER:
        raise DomainError(
            code="not_a_counter_case",
            title="只有窗口受理的办件需要签字板签名",
            title_en="Only a case made at a window is signed on its pad",
            status=409,
        )
    content_type = files.checked_upload(image, 2 * 1024 * 1024, field="signature")
    if content_type != "image/png":
        raise validation_failed(
            [FieldError("signature", N_("签名须为PNG图片"), "unsupported_type")]
        )
    files.store_file(
        session,
        store,
        reg.keyring,
        case_id=case.id,
        material_key=files.SIGNATURE_KEY,
        data=image,
        filename="signature.png",
        content_type=content_type,
        account_id=principal.account_id,
    )
    if case.signed_at is None:
        case.signed_at = utcnow()
        _event(session, case, "sign", case.status, case.status, "applicant", "签字板签名")
    return case


def missing_materials(
    session: Session, case: Case, uploaded: list[CaseFile] | None = None
) -> list[dict[str, Any]]:
    """Required materials still to be uploaded (given the case's files, if already read)."""
    rows = files.files_of(session, case.id) if uploaded is None else uploaded
    have = {f.material_key for f in rows}
    return [
        m
        for m in case.materials
        if m["required"] and m["resolution"] == "upload" and m["key"] not in have
    ]


def _require_materials(session: Session, case: Case) -> None:
    missing = missing_materials(session, case)
    if missing:
        raise DomainError(
            code="materials_missing",
            title="还有材料未上传",
            title_en="Some materials still need uploading",
            status=422,
            errors=[
                FieldError(f"materials.{m['key']}", f"请上传：{m['name']}", "missing")
                for m in missing
            ],
        )


def form_problems(session: Session, reg: Registry, case: Case) -> list[FieldError]:
    """What still stops the saved form from being submitted, field by field."""
    try:
        _checked_form(session, case.matter_code, form_of(session, reg, case), final=True)
    except DomainError as exc:
        return exc.errors
    return []


def _require_complete(session: Session, reg: Registry, case: Case) -> None:
    """Before a case goes (back) to the hall: every required field and material is there.
    免提交 is decided again now: a license that lapsed since the draft covers nothing."""
    _checked_form(session, case.matter_code, form_of(session, reg, case), final=True)
    applicant = Applicant(case.person_id, case.enterprise_id)
    # A bundle's task keeps the licenses its upstream tasks issued for it.
    pinned = {m["key"]: m for m in case.materials if m.get("reason") == "bundle_result"}
    case.materials = [
        pinned.get(m.key, m.as_dict())
        for m in resolve_materials(session, case.matter_code, applicant, licenses.today())
    ]
    _require_materials(session, case)


def _checked_form(
    session: Session, code: str, values: dict[str, Any], *, final: bool
) -> dict[str, Any]:
    fields = matter_form_facts(session, code)
    elements = {
        f.key: ElementFacts(f.key, f.label, f.label, f.type, f.options, f.registry) for f in fields
    }
    required = {f.key: f.required and final for f in fields}
    clean, errors = validate_form(elements, required, values)
    if errors:
        raise validation_failed([FieldError(f"form.{e.field}", e.message, e.code) for e in errors])
    return _stored(clean)


def _stored(clean: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v.isoformat()
        if isinstance(v, date)
        else str(v)
        if not isinstance(v, (str, int, bool))
        else v
        for k, v in clean.items()
    }


def _route(
    session: Session, facts: MatterCaseFacts, person_id: int, enterprise_id: int | None
) -> str | None:
    """两个集中: enterprise matters to the enterprise's district centre, personal ones to the
    community affairs centre of the person's street."""
    if enterprise_id is not None:
        enterprise = session.get(Enterprise, enterprise_id)
        assert enterprise is not None
        hall = hall_for(
            session, facts, street=None, district=enterprise.district_code, enterprise=True
        )
    else:
        person = session.get(Person, person_id)
        assert person is not None
        hall = hall_for(
            session,
            facts,
            street=person.street_code,
            district=person.district_code,
            enterprise=False,
        )
    return hall.key if hall is not None else None


def _submit(session: Session, reg: Registry, case: Case, actor: str) -> None:
    case.status = "submitted"
    case.submitted_at = utcnow()
    case.number = f"TB{utcnow():%Y%m%d}{case.id:08d}"
    _event(session, case, "submit", "draft", "submitted", actor, None)
    _tell(session, case, "submitted", None)
    if case.remote_region is None:  # a peer region's matter is pre-reviewed where handled
        _queue_prereview(session, case, "submission")
    if any(m.get("reason") == "found_peer" for m in case.materials):
        from tongban.federation import sharing  # the federation builds on this module

        sharing.peer_licenses_used(session, reg, case)
    _across_regions(session, reg, case, "submit", "draft", None)


def _across_regions(
    session: Session, reg: Registry, case: Case, action: str, before: str, reason: str | None
) -> None:
    """跨省通办: a step of a case that another region handles goes to it (submission,
    resubmission after 补正, hand-over of the result), and every change of a case that another
    region accepted goes back to it, in this transaction (the outbox)."""
    if case.remote_region is None and case.origin_region is None:
        return
    # Imported here: the federation builds on this module.
    from tongban.federation import forwarding

    forwarding.case_moved(session, reg, case, action, before, reason)


def note_prereview(session: Session, case: Case, verdict: str, problems: str | None) -> None:
    """The pre-review's verdict in the case's history; the applicant hears of problems at
    once, so the papers can be ready when 补正 is asked for."""
    _event(
        session,
        case,
        "prereview",
        case.status,
        case.status,
        "system",
        f"{verdict}：{problems}" if problems else verdict,
    )
    if problems and case.person_id is not None and case.origin_region is None:
        subject = f"{case.matter_name} {case.number or ''}".strip()
        body = f"智能预审发现：{problems}。工作人员核实后会通知您补正，您可先行准备。"
        notify(session, case.person_id, f"case:{case.id}", subject, body, sms=False)


def _queue_prereview(session: Session, case: Case, trigger: str) -> None:
    """预审: in the same transaction as the submission, so none is lost; the worker runs it."""
    # Imported here: pre-review builds on this module.
    from tongban.prereview import service as prereview

    prereview.queue(session, case, trigger)


# What the applicant is told at each step; those marked True also go by SMS.
MESSAGES: dict[str, tuple[str, bool]] = {
    "submitted": ("已提交，等待受理", False),
    "accepted": ("已受理，承诺{due}前办结", True),
    "rejected_at_intake": ("不予受理：{reason}。欢迎评价：{rate}", True),
    "correction_requested": ("需要补正：{reason}（补正期间不计时）", True),
    "under_review": ("正在审核", False),
    "approved": ("已办结，准予许可。欢迎评价：{rate}", True),
    "denied": ("不予许可：{reason}。欢迎评价：{rate}", True),
    "delivered": ("结果已送达。欢迎评价：{rate}", True),
    "cancelled": ("已终止：{reason}", True),
}


TASK_SMS = frozenset({"correction_requested", "denied", "rejected_at_intake"})


def _tell(session: Session, case: Case, status: str, reason: str | None) -> None:
    """The applicant hears of each step; a relative applying for them (代办) hears too, while
    the authorization lasts."""
    template = MESSAGES.get(status)
    if template is None or case.person_id is None or case.origin_region is not None:
        return  # a case another region accepted: that region tells the applicant
    text, sms = template
    if case.bundle_case_id is not None:
        # The bundle speaks for its tasks; a task texts only what the applicant must act on.
        sms = status in TASK_SMS
    body = text.format(
        due=case.due_date.isoformat() if case.due_date else "",
        reason=reason or "",
        # 一事一评: the rating page, opened from the text message (the site's address goes before
        # it in the SMS gateway's template).
        rate=f"/cases/{case.id}/rate?ch=sms",
    )
    subject = f"{case.matter_name} {case.number or ''}".strip()
    notify(session, case.person_id, f"case:{case.id}", subject, body, sms=sms)
    if case.proxy_id is not None:
        grant = session.get(ProxyAuthorization, case.proxy_id)
        if grant is not None and proxies.is_active(grant):
            notify(
                session,
                grant.agent_person_id,
                f"case:{case.id}",
                f"（代办）{subject}",
                body,
                sms=False,
            )


def _event(
    session: Session,
    case: Case,
    action: str,
    before: str | None,
    after: str,
    actor: str,
    reason: str | None,
) -> None:
    session.add(
        CaseEvent(
            case_id=case.id,
            action=action,
            from_status=before,
            to_status=after,
            actor=actor,
            reason=reason,
        )
    )
    session.flush()


def roles_on(session: Session, principal: Principal, case: Case) -> set[str]:
    """What the caller is to this case, now: the applicant (the person, their relative while
    the 代办 authorization lasts, a current agent of the enterprise), the window of its hall
    (and the counter serving its applicant), a reviewer of its department."""
    roles = set()
    if _is_applicant(session, principal, case):
        roles.add(APPLICANT)
    halls = principal.bindings(Role.WINDOW_STAFF)
    if case.hall_key and case.hall_key in halls:
        roles.add(WINDOW)
        if case.visit_id is not None and _serving(session, principal, case):
            roles.add(COUNTER)
    if case.department_key in principal.bindings(Role.REVIEWER) and case.remote_region is None:
        roles.add(REVIEWER)
    if case.origin_region is not None and case.origin_region in principal.bindings(
        Role.REGION_PEER
    ):
        roles.add(APPLICANT)  # 异地代收: the accepting region acts for the applicant here
    return roles


def _is_applicant(session: Session, principal: Principal, case: Case) -> bool:
    if case.enterprise_id is not None:
        return case.enterprise_id in licenses.agent_enterprises(session, principal)
    if case.person_id is not None and case.person_id == principal.person_id:
        return True
    return (
        case.proxy_id is not None
        and case.created_by == principal.account_id
        and proxies.is_active(session.get(ProxyAuthorization, case.proxy_id))
    )


def _serving(session: Session, principal: Principal, case: Case) -> bool:
    """The caller has an open visit with the case's applicant at the case's hall, and for an
    enterprise's case (帮办) the applicant still represents or acts for it."""
    if case.enterprise_id is not None and not may_act_for(
        session,
        case.person_id or 0,
        case.enterprise_id,
        matter_case_facts(session, case.matter_code).kind,
    ):
        return False
    found = session.scalar(
        select(CounterVisit.id).where(
            CounterVisit.staff_account == principal.account_id,
            CounterVisit.person_id == case.person_id,
            CounterVisit.hall_key == case.hall_key,
            CounterVisit.expires_at > utcnow(),
        )
    )
    return found is not None


def get_case(session: Session, principal: Principal, case_id: int) -> Case:
    case = session.get(Case, case_id)
    if case is None or not roles_on(session, principal, case):
        raise NotFound("case_not_found", "办件不存在", "No such case")
    return case


def transition(
    session: Session,
    reg: Registry,
    principal: Principal,
    case_id: int,
    action: str,
    reason: str | None,
    detail: str | None = None,
    result: dict[str, Any] | None = None,
) -> Case:
    """Move a case on. `result`: the data an approval produces for the matters after it in a
    一件事 bundle (e.g. the newborn's citizen ID number), when its bundle asks for some."""
    case = _locked_case(session, principal, case_id)
    _changed(session, reg, principal, case, action, reason, detail, result)
    if case.bundle_case_id is not None:
        # Imported here: the bundle runner builds on this module (a task is a case).
        from tongban.onething import service as bundles

        bundles.task_changed(session, reg, case)
    return case


def _changed(
    session: Session,
    reg: Registry,
    principal: Principal,
    case: Case,
    action: str,
    reason: str | None,
    detail: str | None,
    result: dict[str, Any] | None,
) -> None:
    roles = roles_on(session, principal, case)
    allowed = allowed_actions(case, roles)
    spec = TRANSITIONS.get(action)
    if spec is None or action not in allowed:
        raise DomainError(
            code="transition_not_allowed",
            title="当前状态下不能进行此操作",
            title_en=f"{action} is not allowed now",
            status=409,
            extra={"status": case.status, "allowed": sorted(allowed)},
        )
    if action in ("reject_at_intake", "request_correction", "deny") and not (reason or "").strip():
        raise validation_failed([FieldError("reason", N_("请说明原因"), "missing")])
    before = case.status
    actor = f"account:{principal.account_id}"
    if action == "submit":
        _require_complete(session, reg, case)
        _submit(session, reg, case, actor)
        return
    today = licenses.today()
    target = spec[1]
    if action == "accept":
        facts = matter_case_facts(session, case.matter_code)
        due = calendar(session).add_working_days(today, facts.promised_days)  # may refuse
        case.accepted_on, case.due_date = today, due
    elif action == "request_correction":
        case.paused_since = today if case.due_date else None
        case.resume_to = before
    elif action == "resubmit":
        _require_complete(session, reg, case)
        target = case.resume_to or "submitted"
        moved = case.due_date
        if case.paused_since is not None and moved is not None:
            cal = calendar(session)
            moved = cal.add_working_days(moved, cal.working_days_between(case.paused_since, today))
        case.due_date, case.paused_since, case.resume_to = moved, None, None
        if case.remote_region is None:
            _queue_prereview(session, case, "resubmission")
    elif action == "approve":
        own = True
        if case.bundle_case_id is not None:
            from tongban.onething import service as bundles

            bundles.record_result(session, reg, case, result or {})
            own = bundles.issues_own_license(session, case)
        elif case.origin_region is not None:
            _origin_results(session, reg, case, result or {})
        case.license_identifier = _issue_result(session, reg, case) if own else None
    elif action == "deliver":
        reason = _delivered(case, detail, reason)
    case.status = target
    _event(session, case, action, before, target, actor, reason)
    _tell(session, case, target, reason)
    _across_regions(session, reg, case, action, before, reason)


def allowed_actions(case: Case, roles: set[str]) -> set[str]:
    allowed = {
        a for a, (starts, _to, who) in TRANSITIONS.items() if case.status in starts and roles & who
    }
    if case.bundle_case_id is not None:
        # A bundle's tasks are handed in together and handed out together (统一发证).
        allowed -= {"submit", "deliver"}
    if case.remote_region is not None:
        # Handled by another region: here it is handed in, corrected and handed out only.
        allowed &= {"submit", "resubmit", "deliver"}
    if case.origin_region is not None:
        allowed -= {"deliver"}  # the accepting region hands the result out (统一出件)
    if APPLICANT not in roles and case.signed_at is None:
        # The counter hands a case in only with the applicant's signature on its pad.
        allowed -= {"submit", "resubmit"}
    return allowed


def _delivered(case: Case, detail: str | None, reason: str | None) -> str:
    """统一出件: record how the result was handed over; a post needs its waybill number."""
    note = (detail or "").strip()
    method = case.delivery_method or "pickup"
    if method == "post" and not note:
        raise validation_failed([FieldError("detail", N_("请填写邮件运单号"), "missing")])
    case.delivery_detail = note[:200] or None
    case.delivered_at = utcnow()
    text = DELIVERY_METHODS[method] + (f"：{note}" if note else "")
    return f"{text}（{reason}）" if reason else text


def _issue_result(session: Session, reg: Registry, case: Case) -> str | None:
    """统一出件: an approval of a matter that issues a license issues it, from the case's form."""
    facts = matter_case_facts(session, case.matter_code)
    if facts.issues_license is None:
        return None
    form = json.loads(reg.keyring.decrypt(session, "case.form", case.form_enc))
    type_facts = license_type_facts(session, facts.issues_license)
    content = {k: v for k, v in form.items() if k in type_facts.fields}
    holder_id = None
    uscc = None
    if type_facts.holder == "enterprise":
        enterprise = session.get(Enterprise, case.enterprise_id) if case.enterprise_id else None
        if enterprise is None:
            raise DomainError(
                code="holder_missing",
                title="持证企业不明",
                title_en="No enterprise to hold the license",
                status=409,
            )
        uscc = enterprise.uscc
    else:
        person = session.get(Person, case.person_id)
        assert person is not None
        holder_id = reg.keyring.decrypt(session, "person.id_number", person.id_number_enc)
    registry_keys = {
        "person.name",
        "person.id_number",
        "person.gender",
        "person.birth_date",
        "person.address",
        "enterprise.name",
        "enterprise.uscc",
        "enterprise.type",
        "enterprise.legal_rep_name",
        "enterprise.address",
    }
    row = licenses.issue_license(
        session,
        reg,
        licenses.SYSTEM_ACTOR,
        licenses.IssueRequest(
            type_key=facts.issues_license,
            holder_id_number=holder_id,
            holder_uscc=uscc,
            content={k: v for k, v in content.items() if k not in registry_keys},
            matter_code=case.matter_code,
        ),
    )
    return row.identifier


def result_copy(
    session: Session, reg: Registry, principal: Principal, case_id: int
) -> tuple[bytes, str]:
    """统一出件: the paper copy of the case's license, printed by the hall or department that
    hands it over; the applicant sees that it was printed."""
    case = get_case(session, principal, case_id)
    if not roles_on(session, principal, case) & {WINDOW, REVIEWER}:
        raise NotFound("case_not_found", "办件不存在", "No such case")
    if case.license_identifier is None:
        raise DomainError(
            code="no_license_result",
            title="该办件没有出具证照",
            title_en="This case has not resulted in a license",
            status=409,
        )
    record(
        session,
        actor=f"account:{principal.account_id}",
        action="case.result_printed",
        subject_type="case",
        subject_id=str(case.id),
        data_subject=case.person_id,
        reason=f"打印{case.matter_name}的纸质证照",
    )
    return licenses.result_pdf(session, reg, case.license_identifier)


def my_cases(session: Session, principal: Principal) -> list[Case]:
    """What I applied for and what was applied for me (by a relative, at a window), and the
    cases of the enterprises I act for — each only while I am still its applicant."""
    mine = and_(Case.created_by == principal.account_id, Case.visit_id.is_(None))
    if principal.person_id is not None:
        mine = or_(mine, and_(Case.person_id == principal.person_id, Case.enterprise_id.is_(None)))
    enterprises = licenses.agent_enterprises(session, principal)
    if enterprises:
        mine = or_(mine, Case.enterprise_id.in_(enterprises))
    rows = session.scalars(select(Case).where(mine).order_by(Case.id.desc()))
    return [c for c in rows if APPLICANT in roles_on(session, principal, c)]


def history(session: Session, case: Case) -> list[CaseEvent]:
    return list(
        session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
        )
    )


OPEN = frozenset({"accepted", "under_review", "correction_requested"})
WARN_SHARE = 0.8


def sweep(session: Session, today: date) -> tuple[int, int]:
    """The daily worker: mark cases that have used 80% of their working days (预警) and those
    past their due date; a case paused for 补正 is not counted against. Returns (warned, late)."""
    cal = calendar(session)
    warned = late = 0
    rows = session.scalars(
        select(Case).where(
            Case.status.in_(OPEN),
            Case.due_date.is_not(None),
            Case.paused_since.is_(None),
            Case.remote_region.is_(None),  # the handling region keeps its own clock
        )
    ).all()
    for case in rows:
        assert case.due_date is not None
        assert case.accepted_on is not None
        if today > case.due_date and case.overdue_on is None:
            case.overdue_on = today
            late += 1
            _event(
                session,
                case,
                "overdue",
                case.status,
                case.status,
                "system",
                f"应于{case.due_date}办结",
            )
        total = cal.working_days_between(case.accepted_on, case.due_date)
        used = cal.working_days_between(case.accepted_on, min(today, case.due_date))
        if case.warned_on is None and total and used >= WARN_SHARE * total:
            case.warned_on = today
            warned += 1
            _event(session, case, "warning", case.status, case.status, "system", "已用时限的80%")
    return warned, late


@dataclass(frozen=True)
class DeadlineLine:
    hall: str | None
    department: str
    open: int
    warned: int
    overdue: int


def deadline_report(session: Session) -> list[DeadlineLine]:
    """Open cases per hall and department, with how many are 预警 and how many overdue: what
    the daily sweep leaves for the halls' and departments' heads, worst first."""
    rows = session.execute(
        select(
            Case.hall_key,
            Case.department_key,
            func.count(Case.id),
            func.count(Case.warned_on),
            func.count(Case.overdue_on),
        )
        .where(Case.status.in_(OPEN))
        .group_by(Case.hall_key, Case.department_key)
    ).all()
    lines = [DeadlineLine(h, d, int(n), int(w), int(o)) for h, d, n, w, o in rows]
    return sorted(lines, key=lambda x: (-x.overdue, -x.warned, x.hall or "", x.department))


QUEUE_PAGE = 50


def queue(
    session: Session, principal: Principal, *, limit: int | None = QUEUE_PAGE, offset: int = 0
) -> list[Case]:
    """The open cases of the caller's halls (window staff) and departments (reviewers), the
    nearest deadline first (those not yet accepted, without one, last); a page of them."""
    ours = _queue_filter(principal)
    if ours is None:
        return []
    query = (
        select(Case)
        .where(ours)
        # NULLS LAST is the index's own order on PostgreSQL: a page is read off the index.
        .order_by(Case.due_date.asc().nulls_last(), Case.id)
        .offset(offset)
    )
    return list(session.scalars(query if limit is None else query.limit(limit)))


def queue_page(
    session: Session, principal: Principal, page: int, size: int = QUEUE_PAGE
) -> tuple[list[Case], int]:
    """Page `page` (from 1) of `size` cases of the queue, and the whole queue's length."""
    rows = queue(session, principal, limit=size, offset=(page - 1) * size)
    return rows, queue_size(session, principal)


def queue_size(session: Session, principal: Principal) -> int:
    ours = _queue_filter(principal)
    if ours is None:
        return 0
    return int(session.scalar(select(func.count()).select_from(Case).where(ours)) or 0)


def _queue_filter(principal: Principal) -> ColumnElement[bool] | None:
    halls = principal.bindings(Role.WINDOW_STAFF)
    departments = principal.bindings(Role.REVIEWER)
    if not halls and not departments:
        return None
    # Each branch names the statuses of the partial indexes (ix_cases_open_*) so that the
    # database reads only open cases, whatever the size of the history.
    mine = []
    if departments:
        mine.append(and_(Case.status.in_(QUEUED), Case.department_key.in_(departments)))
    if halls:
        mine.append(and_(Case.status.in_(QUEUED), Case.hall_key.in_(halls)))
    ours = and_(Case.remote_region.is_(None), or_(*mine))
    if not halls:
        return ours
    # Another region handles these; the window that took them helps with 补正 and hands the
    # result out (统一出件).
    taken_here = and_(
        Case.remote_region.is_not(None),
        Case.hall_key.in_(halls),
        Case.status.in_(("correction_requested", "approved")),
    )
    return or_(ours, taken_here)


# ---------------------------------------------------------------------------------------------
# A 一件事 bundle's tasks: each an ordinary case of its matter, made and started by the runner
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskSpec:
    bundle_case_id: int
    matter: str
    person_id: int
    enterprise_id: int | None
    created_by: int
    channel: str
    hall_key: str | None
    delivery_method: str
    delivery_address_enc: str | None
    # License types that a matter before this one in the bundle issues: not the applicant's
    # to upload, since they arrive when that matter is approved (type key -> matter name).
    from_upstream: dict[str, str]


def new_task(session: Session, reg: Registry, spec: TaskSpec) -> Case:
    """A draft case of one matter of a bundle, routed to the bundle's counter and the
    matter's own department."""
    facts = matter_case_facts(session, spec.matter)
    case = Case(
        matter_code=facts.code,
        matter_name=facts.name,
        channel=spec.channel,
        status="draft",
        person_id=spec.person_id,
        enterprise_id=spec.enterprise_id,
        created_by=spec.created_by,
        hall_key=spec.hall_key,
        department_key=facts.department_key,
        remote_region=facts.region,
        form_enc=reg.keyring.encrypt(session, "case.form", "{}"),
        delivery_method=spec.delivery_method,
        delivery_address_enc=spec.delivery_address_enc,
        bundle_case_id=spec.bundle_case_id,
    )
    case.materials = _task_materials(session, case, spec.from_upstream)
    session.add(case)
    session.flush()
    _event(session, case, "create", None, "draft", f"account:{spec.created_by}", None)
    return case


def _task_materials(
    session: Session, case: Case, from_upstream: dict[str, str]
) -> list[dict[str, Any]]:
    """The task's materials for its applicant now. A license type that a matter before it in
    the bundle issues comes from that matter, whatever the registry holds today (an older
    child's birth certificate is not this child's)."""
    applicant = Applicant(case.person_id, case.enterprise_id)
    types = {
        m.key: m.license_type_key
        for m in matter_materials_facts(session, case.matter_code).materials
    }
    out = []
    for r in resolve_materials(session, case.matter_code, applicant, licenses.today()):
        item = r.as_dict()
        upstream = from_upstream.get(types.get(r.key) or "")
        if upstream is not None:
            item.update(
                resolution="upstream",
                reason="bundle_upstream",
                detail=f"由本件事中的「{upstream}」办结后自动获取，无需提交",
            )
            item.pop("identifier", None)
        out.append(item)
    return out


def refresh_task(session: Session, case: Case, from_upstream: dict[str, str]) -> None:
    """免提交 decided again at submission: a license that lapsed since the draft covers
    nothing (what the bundle's own matters issue stays theirs)."""
    case.materials = _task_materials(session, case, from_upstream)


def task_form(session: Session, reg: Registry, case: Case, values: dict[str, Any]) -> None:
    """A task's form: the bundle's merged values that this matter asks for."""
    case.form_enc = reg.keyring.encrypt(
        session, "case.form", json.dumps(values, ensure_ascii=False)
    )


def task_form_problems(
    session: Session, reg: Registry, case: Case, ignore: set[str]
) -> list[FieldError]:
    """What stops a task's form from being final, leaving out elements an upstream fills."""
    return [
        e for e in form_problems(session, reg, case) if e.field.removeprefix("form.") not in ignore
    ]


def hand_in_task(session: Session, reg: Registry, case: Case, actor: str) -> None:
    """A task with nothing to wait for goes to its hall as the bundle is submitted."""
    _require_materials(session, case)
    _submit(session, reg, case, actor)


def park_task(session: Session, case: Case, actor: str, waiting_for: str) -> None:
    """A task that waits for upstream results; it starts by itself when they are in."""
    case.status = "waiting"
    _event(session, case, "wait", "draft", "waiting", actor, waiting_for)


def start_task(
    session: Session, reg: Registry, case: Case, why: str, results: dict[str, str]
) -> None:
    """Every input is in: the task goes to its hall like any submitted case. `results` are the
    licenses its upstream tasks issued (type -> identifier): those, not whatever of that type
    the registry holds. What is still missing is written in the event for the window, which
    asks for it by 补正."""
    types = {
        m.key: m.license_type_key
        for m in matter_materials_facts(session, case.matter_code).materials
    }
    materials = []
    for item in _task_materials(session, case, {}):
        identifier = results.get(types.get(item["key"]) or "")
        if identifier is not None:
            item = {
                **item,
                "resolution": "license",
                "reason": "bundle_result",
                "detail": "由本件事前序事项办结出具，已自动调取",
                "identifier": identifier,
            }
        materials.append(item)
    case.materials = materials
    problems = [e.message for e in form_problems(session, reg, case)]
    problems += [f"缺少材料：{m['name']}" for m in missing_materials(session, case)]
    case.status = "draft"
    _submit(session, reg, case, "system")
    note = why + (f"；待补：{'；'.join(problems)}" if problems else "")
    _event(session, case, "start", "waiting", "submitted", "system", note)


def end_task(session: Session, case: Case, why: str) -> None:
    """An upstream was refused: this task cannot go on; the applicant is told why."""
    before = case.status
    case.status = "cancelled"
    _event(session, case, "cancel", before, "cancelled", "system", why)
    _tell(session, case, "cancelled", why)


def deliver_task(
    session: Session, reg: Registry, case: Case, actor: str, detail: str | None
) -> None:
    """统一发证: the bundle hands out this task's result with all the others."""
    reason = _delivered(case, detail, None)
    case.status = "delivered"
    _event(session, case, "deliver", "approved", "delivered", actor, reason)
    _across_regions(session, reg, case, "deliver", "approved", reason)


def route(session: Session, matter: str, person_id: int, enterprise_id: int | None) -> str | None:
    return _route(session, matter_case_facts(session, matter), person_id, enterprise_id)


def route_new_enterprise(session: Session, matter: str, person_id: int) -> str | None:
    """An enterprise being founded has no district yet: its founder's district centre."""
    person = session.get(Person, person_id)
    assert person is not None
    hall = hall_for(
        session,
        matter_case_facts(session, matter),
        street=None,
        district=person.district_code,
        enterprise=True,
    )
    return hall.key if hall is not None else None


def checked_values(
    session: Session,
    fields: dict[str, ElementFacts],
    required: dict[str, bool],
    values: dict[str, Any],
) -> dict[str, Any]:
    """Values checked against their data elements, as stored (dates as ISO text)."""
    clean, errors = validate_form(fields, required, values)
    if errors:
        raise validation_failed([FieldError(f"form.{e.field}", e.message, e.code) for e in errors])
    return _stored(clean)


# ---------------------------------------------------------------------------------------------
# 跨省通办: cases another region accepted (handled here), and cases another region handles
# (accepted here). Their messages are the federation's; what they do to a case is here.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Forwarded:
    """A case another region's counter (or portal) accepted for a matter of ours."""

    origin_region: str
    origin_case: str
    origin_number: str
    origin_hall: str
    matter: str
    person_id: int
    enterprise_id: int | None
    form: dict[str, Any]
    files: list[Upload]
    delivery_method: str
    delivery_address: str | None
    signed_at: Any
    results_wanted: list[str]


def receive_forwarded(
    session: Session,
    reg: Registry,
    store: files.FileStore,
    principal: Principal,
    spec: Forwarded,
) -> Case:
    """异地代收代办, the handling side: the case made here as the accepting region handed it
    in, routed and handled by our own rules (licenses it proved materials by are kept here
    first, so 免提交 is decided as for any case). What is missing is written in its first
    event for the window, which asks for it by 补正 (the accepting region forwards the answer)."""
    facts = matter_case_facts(session, spec.matter)
    if not facts.cross_region:
        raise DomainError(
            code="matter_not_cross_region",
            title="该事项不在本地区跨省通办范围内",
            title_en="This matter is not open to cross-region applications",
            status=422,
        )
    form = _checked_form(session, spec.matter, spec.form, final=False)
    case = Case(
        matter_code=facts.code,
        matter_name=facts.name,
        channel="region",
        status="draft",
        person_id=spec.person_id,
        enterprise_id=spec.enterprise_id,
        created_by=principal.account_id,
        hall_key=_route(session, facts, spec.person_id, spec.enterprise_id),
        department_key=facts.department_key,
        form_enc=reg.keyring.encrypt(session, "case.form", json.dumps(form, ensure_ascii=False)),
        delivery_method=spec.delivery_method,
        delivery_address_enc=(
            reg.keyring.encrypt(session, "case.delivery_address", spec.delivery_address)
            if spec.delivery_address
            else None
        ),
        signed_at=spec.signed_at,
        origin_region=spec.origin_region,
        origin_case=spec.origin_case,
        origin_hall=spec.origin_hall[:200],
        origin_results=list(spec.results_wanted) or None,
    )
    applicant = Applicant(spec.person_id, spec.enterprise_id)
    case.materials = [
        m.as_dict() for m in resolve_materials(session, facts.code, applicant, licenses.today())
    ]
    session.add(case)
    session.flush()
    actor = f"region:{spec.origin_region}"
    note = f"{spec.origin_hall}异地代收，原件号{spec.origin_number}"
    _event(session, case, "create", None, "draft", actor, note)
    _keep_forwarded_files(session, reg, store, principal, case, spec.files)
    problems = [e.message for e in form_problems(session, reg, case)]
    problems += [f"缺少材料：{m['name']}" for m in missing_materials(session, case)]
    _submit(session, reg, case, actor)
    if problems:
        note = "待补：" + "；".join(problems)
        _event(session, case, "note", "submitted", "submitted", "system", note)
    return case


def _keep_forwarded_files(
    session: Session,
    reg: Registry,
    store: files.FileStore,
    principal: Principal,
    case: Case,
    items: list[Upload],
) -> None:
    """The papers scanned where the case was accepted, for the materials still to be handed
    in here (those our registry or a recognized license provides are not kept twice)."""
    uploadable = {m["key"] for m in case.materials if m["resolution"] == "upload"}
    uploadable.add(files.SIGNATURE_KEY)
    for item in items:
        if item.material_key in uploadable:
            _keep_file(session, reg, store, principal, case, item)


def answer_correction(
    session: Session,
    reg: Registry,
    store: files.FileStore,
    principal: Principal,
    case_id: int,
    form: dict[str, Any],
    items: list[Upload],
) -> Case:
    """The accepting region hands in the applicant's answer to 补正: the corrected form, the
    papers, and the case goes back to where it was (refused, and so still asked, if it is
    still incomplete)."""
    case = _locked_case(session, principal, case_id)
    if case.status != "correction_requested":
        raise _not_editable(case)
    clean = _checked_form(session, case.matter_code, form, final=False)
    case.form_enc = reg.keyring.encrypt(session, "case.form", json.dumps(clean, ensure_ascii=False))
    applicant = Applicant(case.person_id, case.enterprise_id)
    case.materials = [
        m.as_dict()
        for m in resolve_materials(session, case.matter_code, applicant, licenses.today())
    ]
    _keep_forwarded_files(session, reg, store, principal, case, items)
    _changed(session, reg, principal, case, "resubmit", None, None, None)
    return case


def delivered_elsewhere(session: Session, case_id: int, region: str, detail: str) -> Case | None:
    """统一出件 in the accepting region: the case handled here is closed as delivered there."""
    case = lock_case(session, case_id)
    if case is None or case.origin_region != region or case.status != "approved":
        return case
    case.status, case.delivered_at = "delivered", utcnow()
    case.delivery_detail = detail[:200]
    _event(session, case, "deliver", "approved", "delivered", f"region:{region}", detail)
    return case


def find_by_exchange_ref(session: Session, ref: str) -> Case | None:
    """A case this region forwarded, by the reference it gave it between the regions."""
    return session.scalars(select(Case).where(Case.exchange_ref == ref)).first()


def correction_asked_at(session: Session, case: Case) -> Any:
    """When the 补正 now being answered was asked (None if never)."""
    return session.scalar(
        select(CaseEvent.at)
        .where(
            CaseEvent.case_id == case.id,
            CaseEvent.to_status == "correction_requested",
            # the step into it (an upload during 补正 stays in it)
            CaseEvent.from_status != "correction_requested",
        )
        .order_by(CaseEvent.at.desc(), CaseEvent.id.desc())
        .limit(1)
    )


def find_forwarded(session: Session, origin_region: str, origin_case: str) -> Case | None:
    """The case made here for another region's case, if its forward arrived."""
    return session.scalars(
        select(Case).where(Case.origin_region == origin_region, Case.origin_case == origin_case)
    ).first()


def results_wanted(session: Session, case: Case) -> list[tuple[str, str]]:
    """(data element, label) an approval must give: for the bundle's next matters, here or in
    the region that accepted the case."""
    if case.bundle_case_id is not None:
        from tongban.onething import service as bundles

        return bundles.provides_of(session, case)
    keys = case.origin_results or []
    facts = data_element_facts(session, keys)
    return [(k, facts[k].label if k in facts else k) for k in keys]


def _origin_results(session: Session, reg: Registry, case: Case, result: dict[str, Any]) -> None:
    """The values the accepting region asked for, checked as their data elements and kept in
    the case's form (they travel back with the approval)."""
    wanted = case.origin_results or []
    unknown = sorted(set(result) - set(wanted))
    if unknown:
        raise validation_failed(
            [FieldError(f"result.{k}", N_("本事项不产生这项结果"), "unknown") for k in unknown]
        )
    if not wanted:
        return
    elements = data_element_facts(session, wanted)
    try:
        clean = checked_values(session, elements, dict.fromkeys(elements, True), result)
    except DomainError as exc:
        raise validation_failed(
            [
                FieldError("result." + e.field.removeprefix("form."), e.message, e.code)
                for e in exc.errors
            ]
        ) from exc
    form = form_of(session, reg, case)
    form.update(clean)
    task_form(session, reg, case, form)


def origin_results_of(session: Session, reg: Registry, case: Case) -> dict[str, Any]:
    """The approval's values the accepting region asked for."""
    form = form_of(session, reg, case)
    return {k: form[k] for k in case.origin_results or [] if k in form}


@dataclass(frozen=True)
class RemoteStep:
    """A step the handling region took, as its message says."""

    action: str
    status: str
    reason: str | None
    number: str | None
    due_date: date | None
    license_identifier: str | None = None
    results: dict[str, Any] | None = None


# What a step of the handling region does to the case kept here (its copy of the status).
REMOTE_STATUSES = frozenset(
    {
        "submitted",
        "accepted",
        "rejected_at_intake",
        "correction_requested",
        "under_review",
        "approved",
        "denied",
        "delivered",
    }
)


def apply_remote_step(
    session: Session, reg: Registry, case_id: int, region: str, step: RemoteStep
) -> Case | None:
    """跨省通办, the accepting side: the handling region moved the case on. The applicant hears
    of it here; a bundle's task drives its bundle as a task of ours does. None if the case is
    not one this region handles for us."""
    case = lock_case(session, case_id)
    if case is None or case.remote_region != region or case.exchange_ref is None:
        return None  # never forwarded to that region: nothing of its to move
    if step.status not in REMOTE_STATUSES:
        raise DomainError(
            code="remote_status_unknown",
            title="对方地区的办件状态无法识别",
            title_en=f"Unknown status {step.status!r} from region {region}",
            status=422,
        )
    if not _remote_step_allowed(case.status, step.status):
        raise DomainError(
            code="remote_step_refused",
            title="对方地区的办理步骤与本地办件状态不符",
            title_en=f"Region {region} moves the case from {case.status} to {step.status}",
            status=409,
        )
    before = case.status
    if step.number:
        case.remote_number = step.number[:30]
    if step.due_date is not None:
        case.due_date = step.due_date
        case.accepted_on = case.accepted_on or licenses.today()
    if step.status == "correction_requested":
        case.resume_to = before if before != "correction_requested" else case.resume_to
        case.paused_since = case.paused_since or licenses.today()  # shown as paused here
    else:
        case.paused_since = None
    if step.status == "approved":
        if case.bundle_case_id is not None:
            from tongban.onething import service as bundles

            bundles.record_result(session, reg, case, step.results or {})
        case.license_identifier = step.license_identifier
    if step.status == "delivered" and case.delivered_at is None:
        case.delivered_at = utcnow()
    case.status = step.status
    _event(
        session,
        case,
        f"remote_{step.action}"[:24],
        before,
        step.status,
        f"region:{region}",
        step.reason,
    )
    if before != step.status:
        _tell(session, case, step.status, step.reason)
    if case.bundle_case_id is not None:
        from tongban.onething import service as bundles

        bundles.task_changed(session, reg, case)
    return case


# The handling region's steps a case here may take: a handed-in case goes any way but back to
# a draft; a decided one only to delivered; a case not handed in, or closed, nowhere.
_REMOTE_FROM = {
    "submitted": REMOTE_STATUSES - {"delivered"},
    "accepted": REMOTE_STATUSES - {"submitted", "delivered"},
    "under_review": REMOTE_STATUSES - {"submitted", "delivered"},
    "correction_requested": REMOTE_STATUSES - {"delivered"},
    "approved": frozenset({"approved", "delivered"}),
    "denied": frozenset({"denied"}),
    "rejected_at_intake": frozenset({"rejected_at_intake"}),
    "delivered": frozenset({"delivered"}),
}


def _remote_step_allowed(current: str, target: str) -> bool:
    return target in _REMOTE_FROM.get(current, frozenset())


def remote_refused(
    session: Session, reg: Registry, case_id: int, region: str, reason: str
) -> Case | None:
    """The handling region could not take the case at all (its catalog no longer offers the
    matter to peers, the form could not be read): it ends here, and the applicant is told."""
    return apply_remote_step(
        session,
        reg,
        case_id,
        region,
        RemoteStep("refuse", "rejected_at_intake", reason, None, None),
    )
