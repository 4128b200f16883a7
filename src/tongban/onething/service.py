"""一件事: plans and metrics of the catalog's bundles, and running one for an applicant.

A bundle case is one application: one form, one upload of each material, one submission, one
counter, one delivery. Each applying matter becomes a task, an ordinary case of its matter that
its department handles as it handles any. The scheduler is the case tables themselves: a task
with nothing to wait for is handed in at once, the others wait (`waiting`) and start when every
matter they need is approved; a refusal ends what depends on it and nothing else. Why not a
BPMN engine: docs/onething.md.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tongban.audit.service import record
from tongban.cases import files
from tongban.cases import service as cases
from tongban.cases.form import prefill_values
from tongban.cases.models import Case
from tongban.catalog.rules import ElementFacts
from tongban.catalog.schemas import Audience, BundleIn
from tongban.catalog.service import (
    BundleRow,
    get_bundle,
    get_hall,
    license_type_facts,
    list_bundles,
    matter_case_facts,
    plan_matters,
)
from tongban.db import utcnow
from tongban.errors import DomainError, FieldError, NotFound, validation_failed
from tongban.identity.schemas import Role
from tongban.identity.service import (
    NewEnterprise,
    Principal,
    find_person_by_id_number,
    register_enterprise,
)
from tongban.licenses import service as licenses
from tongban.licenses.resolver import Applicant
from tongban.licenses.service import Registry
from tongban.notify.service import notify
from tongban.onething.models import BundleCase, BundleEvent
from tongban.onething.plan import (
    AnswersInvalid,
    MatterMissing,
    Plan,
    build_plan,
    check_answers,
    fullest_answers,
)
from tongban.portal.i18n import N_

# The source article's averages over Shanghai's first 16 one-things (see domain.md): what our
# computed reductions are shown next to. Never used to compute anything.
ARTICLE_REDUCTIONS = {"steps": 0.69, "days": 0.54, "materials": 0.75, "trips": 0.71}

SUCCEEDED = frozenset({"approved", "delivered"})
REFUSED = frozenset({"denied", "rejected_at_intake", "cancelled"})
ENDED = SUCCEEDED | REFUSED
BUNDLE_STATUS = {
    "draft": N_("草稿"),
    "in_progress": N_("办理中"),
    "completed": N_("已全部办结，等待统一送达"),
    "delivered": N_("已统一送达"),
    "ended": N_("已结束，未出具结果（原因见办理记录）"),
}

# ---------------------------------------------------------------------------------------------
# Plans and metrics
# ---------------------------------------------------------------------------------------------


def bundles(session: Session) -> list[BundleRow]:
    return list_bundles(session)


def bundle(session: Session, code: str) -> BundleRow:
    return get_bundle(session, code)


def plan_for(session: Session, code: str, answers: Mapping[str, str] | None = None) -> Plan:
    """The plan for these answers; with none, for the bundle's fullest scenario."""
    row = get_bundle(session, code)
    return _plan(session, row.entry, answers)


def _plan(session: Session, bundle: BundleIn, answers: Mapping[str, str] | None) -> Plan:
    checked = fullest_answers(bundle) if answers is None else checked_answers(bundle, answers)
    facts = plan_matters(session, [m.matter for m in bundle.matters])
    try:
        return build_plan(bundle, checked, facts)
    except MatterMissing as exc:
        raise DomainError(
            code="bundle_matter_missing",
            title="该一件事包含的事项不在事项库中",
            title_en="A matter of this bundle is not in the catalog",
            status=409,
            detail=str(exc),
        ) from exc


_ANSWER_PROBLEMS = {
    "missing": "请回答此问题",
    "not_an_option": "答案不在可选范围内",
    "unknown_question": "没有这个问题",
}


def checked_answers(bundle: BundleIn, answers: Mapping[str, str]) -> dict[str, str]:
    """The answers to a bundle's (or an industry's) questions, or 422 with one error per
    question (`answers.<key>`)."""
    try:
        return check_answers(bundle, answers)
    except AnswersInvalid as exc:
        raise validation_failed(
            [FieldError(f"answers.{q}", _ANSWER_PROBLEMS[p], p) for q, p in exc.problems]
        ) from exc


def metrics(plan: Plan) -> dict[str, Any]:
    return {
        "bundle": plan.bundle.code,
        "name": plan.bundle.name,
        "answers": plan.answers,
        "matters": len(plan.tasks),
        "before": plan.before.as_dict(),
        "after": plan.after.as_dict(),
        "reduction": plan.reduction(),
        "per_matter": list(plan.per_matter),
        "critical_path": list(plan.critical_path),
        "article": ARTICLE_REDUCTIONS,
    }


def overview(session: Session) -> dict[str, Any]:
    """Every bundle's metrics in its fullest scenario, and their average reductions beside
    the article's."""
    items = [metrics(plan_for(session, row.entry.code)) for row in list_bundles(session)]
    average: dict[str, float | None] = {}
    for key in ARTICLE_REDUCTIONS:
        values = [m["reduction"][key] for m in items if m["reduction"][key] is not None]
        average[key] = round(sum(values) / len(values), 4) if values else None
    return {"bundles": items, "average": average, "article": ARTICLE_REDUCTIONS}


def plan_document(plan: Plan) -> dict[str, Any]:
    """A plan as the API and the running case keep it."""
    provides = {m.matter: list(m.provides) for m in plan.bundle.matters}
    registers = {m.matter for m in plan.bundle.matters if m.registers_enterprise}
    return {
        "bundle": plan.bundle.code,
        "lead_department": plan.bundle.lead_department,
        "answers": plan.answers,
        "skipped": list(plan.skipped),
        "days": plan.days,
        "critical_path": list(plan.critical_path),
        "tasks": [
            {
                "code": t.code,
                "name": t.name,
                "department": t.department_key,
                "department_name": t.department_name,
                "days": t.days,
                "needs": list(t.needs),
                "provides": provides.get(t.code, []),
                "registers_enterprise": t.code in registers,
                "stage": t.stage,
                "start_day": t.start,
                "finish_day": t.finish,
                "critical": t.critical,
            }
            for t in plan.tasks
        ],
        "fields": [
            {
                "key": f.key,
                "label": f.label,
                "type": f.type,
                "options": list(f.options),
                "required": f.required,
                "prefillable": f.prefillable,
                "used_by": list(f.used_by),
                "provided_by": f.provided_by,
            }
            for f in plan.fields
        ],
        "materials": [
            {
                "identity": m.identity,
                "name": m.name,
                "required": m.required,
                "via": m.via,
                "provided_by": m.provided_by,
                "department": m.department_name,
                "used_by": [list(k) for k in m.keys],
            }
            for m in plan.materials
        ],
    }


# ---------------------------------------------------------------------------------------------
# Running a bundle
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StartRequest:
    bundle: str
    answers: dict[str, str]
    channel: str
    uscc: str | None = None
    idempotency_key: str | None = None
    delivery: str | None = None
    delivery_address: str | None = None
    kind: str = "bundle"  # or an 一业一证 kind: industry, industry_change, industry_renewal
    amends: str | None = None  # 一业一证: the license version a change or renewal is for


def start(session: Session, reg: Registry, principal: Principal, req: StartRequest) -> BundleCase:
    """A draft bundle case with one draft task per applying matter; the same idempotency key
    from the same account, for the same request, returns the first one."""
    earlier = replay(session, principal, req)
    if earlier is not None:
        return earlier
    row = get_bundle(session, req.bundle)
    return start_case(session, reg, principal, req, row.entry, row.version)


def replay(session: Session, principal: Principal, req: StartRequest) -> BundleCase | None:
    """The case an earlier request with this idempotency key created, if any (422 when the key
    was used for a different request)."""
    key = (req.idempotency_key or "").strip() or None
    if key is None:
        return None
    earlier = _created_with(session, principal, key)
    return None if earlier is None else _replayed(session, principal, earlier, _fingerprint(req))


def start_case(
    session: Session,
    reg: Registry,
    principal: Principal,
    req: StartRequest,
    bundle: BundleIn,
    version: int,
    carried: list[dict[str, Any]] | None = None,
) -> BundleCase:
    """A draft case of this (bundle or industry) definition: one task per applying matter."""
    key = (req.idempotency_key or "").strip() or None
    fingerprint = _fingerprint(req) if key else None
    earlier = replay(session, principal, req)
    if earlier is not None:
        return earlier
    plan = _plan(session, bundle, req.answers)
    if not plan.tasks:
        raise DomainError(
            code="nothing_applies",
            title="根据您的回答，没有需要办理的事项",
            title_en="Given these answers, no matter of the bundle applies",
            status=422,
        )
    person_id, enterprise_id = _applicant(session, principal, bundle, req.uscc, plan)
    issued = _issued_by(session, plan)
    method, address = _delivery(
        # 一业一证 always issues its comprehensive license, whatever its permits issue
        req.delivery,
        req.delivery_address,
        bool(issued) or req.kind != "bundle",
    )
    hall = _counter(session, plan, person_id, enterprise_id)
    prefilled = _prefilled(session, reg, plan, Applicant(person_id, enterprise_id), issued)
    bc = BundleCase(
        bundle_code=bundle.code,
        bundle_name=bundle.name,
        bundle_version=version,
        kind=req.kind,
        amends=req.amends,
        carried=carried,
        channel=req.channel,
        status="draft",
        person_id=person_id,
        enterprise_id=enterprise_id,
        created_by=principal.account_id,
        idempotency_key=key,
        request_hash=fingerprint,
        hall_key=hall,
        answers=plan.answers,
        plan=plan_document(plan),
        form_enc=_encrypt_form(session, reg, prefilled),
        delivery_method=method,
        delivery_address_enc=(
            reg.keyring.encrypt(session, "bundle.delivery_address", address) if address else None
        ),
    )
    try:
        with session.begin_nested():
            session.add(bc)
            session.flush()
    except IntegrityError:
        assert key is not None
        existing = _created_with(session, principal, key)
        assert existing is not None
        return _replayed(session, principal, existing, fingerprint)
    _make_tasks(session, reg, bc, plan, address, issued)
    _write_task_forms(session, reg, bc, prefilled)
    _event(session, bc, "create", f"account:{principal.account_id}", None)
    return bc


def _fingerprint(req: StartRequest) -> str:
    body = {k: v for k, v in req.__dict__.items() if k != "idempotency_key"}
    canonical = json.dumps(body, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _created_with(session: Session, principal: Principal, key: str) -> BundleCase | None:
    return session.scalars(
        select(BundleCase).where(
            BundleCase.created_by == principal.account_id, BundleCase.idempotency_key == key
        )
    ).first()


def _replayed(
    session: Session, principal: Principal, earlier: BundleCase, fingerprint: str | None
) -> BundleCase:
    if cases.APPLICANT not in roles_on(session, principal, earlier):
        raise _not_found()
    if earlier.request_hash is not None and earlier.request_hash != fingerprint:
        raise DomainError(
            code="idempotency_key_reused",
            title="该请求编号已用于另一份申请",
            title_en="This Idempotency-Key was used for a different application",
            status=422,
            extra={"bundle_case": earlier.id},
        )
    return earlier


def _not_found() -> NotFound:
    return NotFound("bundle_case_not_found", "一件事办件不存在", "No such bundle case")


def _applicant(
    session: Session, principal: Principal, bundle: BundleIn, uscc: str | None, plan: Plan
) -> tuple[int, int | None]:
    """Who applies: the person themselves, or (an enterprise bundle) an enterprise the caller
    is a current agent of, whose scope covers every applying matter."""
    if principal.person_id is None:
        raise DomainError(
            code="no_person",
            title="该账号不能申请办事",
            title_en="This account cannot apply",
            status=403,
        )
    if bundle.audience is Audience.PERSON or _founding(bundle):
        if uscc:
            raise validation_failed(
                [FieldError("uscc", "个人一件事或设立新企业不以已有企业名义申请", "personal_only")]
            )
        return principal.person_id, None
    if not uscc:
        raise validation_failed(
            [FieldError("uscc", "企业一件事须以企业名义申请", "enterprise_required")]
        )
    enterprise_id = licenses.enterprise_acted_for(session, principal, uscc)
    scope = licenses.agent_scope(session, principal, enterprise_id)
    kinds = {matter_case_facts(session, t.code).kind for t in plan.tasks}
    if "*" not in scope and not kinds <= set(scope):
        raise DomainError(
            code="agent_out_of_scope",
            title="您的经办授权不包括此一件事的全部事项",
            title_en="Your authorization as the enterprise's agent does not cover every matter",
            status=403,
        )
    return principal.person_id, enterprise_id


def _counter(session: Session, plan: Plan, person_id: int, enterprise_id: int | None) -> str:
    """一口受理: the hall of 两个集中 for the applicant, from the first matter handled at the
    general halls; without one nobody could accept the bundle or hand out its results."""
    founding = _founding(plan.bundle)
    for t in plan.tasks:
        if founding:  # an enterprise not yet registered: the founder's district centre
            hall = cases.route_new_enterprise(session, t.code, person_id)
        else:
            hall = cases.route(session, t.code, person_id, enterprise_id)
        if hall is not None:
            return hall
    raise DomainError(
        code="no_hall",
        title="无法确定受理大厅，请先在个人信息中完善居住地址",
        title_en="No service hall can be found for you; complete your address first",
        status=409,
    )


def _founding(bundle: BundleIn) -> bool:
    """The bundle starts a new enterprise (one of its matters registers it)."""
    return any(m.registers_enterprise for m in bundle.matters)


def _delivery(method: str | None, address: str | None, any_license: bool) -> tuple[str, str | None]:
    """统一发证: one way for every result; post needs an address, an e-license only a bundle
    that issues one."""
    chosen = method or "pickup"
    if chosen not in cases.DELIVERY_METHODS:
        raise validation_failed([FieldError("delivery", "领取方式不在可选范围内", "invalid")])
    if chosen == "electronic" and not any_license:
        raise validation_failed(
            [FieldError("delivery", "这些事项不出具电子证照，请选择窗口领取或邮寄", "no_license")]
        )
    clean = (address or "").strip() or None
    if chosen == "post" and clean is None:
        raise validation_failed([FieldError("delivery_address", "请填写邮寄地址", "missing")])
    if clean is not None and len(clean) > 200:
        raise validation_failed([FieldError("delivery_address", "地址过长", "too_long")])
    return chosen, clean if chosen == "post" else None


def _prefilled(
    session: Session,
    reg: Registry,
    plan: Plan,
    applicant: Applicant,
    issued: dict[str, tuple[str, str]],
) -> dict[str, Any]:
    """免填报 for the merged form: every asked field the platform already holds — except what
    would come from a license that this bundle issues itself: the one held now is an earlier
    one (an older child's birth certificate), not the one this bundle is about."""
    own: set[str] = set()
    for lt, _ in issued.values():
        own |= set(license_type_facts(session, lt).fields)
    known = prefill_values(session, reg, applicant)
    return {
        f.key: known[f.key][0]
        for f in plan.asked_fields()
        if f.key in known and not (f.key in own and known[f.key][1].startswith("电子证照"))
    }


def _upstream_licenses(
    tasks: list[dict[str, Any]], issued: dict[str, tuple[str, str]]
) -> dict[str, dict[str, str]]:
    """For each task: the license types its ancestors in the bundle issue (type -> the
    issuing matter's name)."""
    ancestors: dict[str, set[str]] = {}
    out = {}
    for t in tasks:
        ancestors[t["code"]] = set(t["needs"]).union(*(ancestors[u] for u in t["needs"]))
        out[t["code"]] = {
            lt: name for code, (lt, name) in issued.items() if code in ancestors[t["code"]]
        }
    return out


def _make_tasks(
    session: Session,
    reg: Registry,
    bc: BundleCase,
    plan: Plan,
    address: str | None,
    issued: dict[str, tuple[str, str]],
) -> None:
    upstream_of = _upstream_licenses(bc.plan["tasks"], issued)
    for t in plan.tasks:
        upstream = upstream_of[t.code]
        cases.new_task(
            session,
            reg,
            cases.TaskSpec(
                bundle_case_id=bc.id,
                matter=t.code,
                person_id=bc.person_id,
                enterprise_id=bc.enterprise_id,
                created_by=bc.created_by,
                channel=bc.channel,
                hall_key=bc.hall_key,
                delivery_method=bc.delivery_method,
                delivery_address_enc=(
                    reg.keyring.encrypt(session, "case.delivery_address", address)
                    if address
                    else None
                ),
                from_upstream=upstream,
            ),
        )


def _issued_by(session: Session, plan: Plan) -> dict[str, tuple[str, str]]:
    """matter code -> (the license type it issues, the matter's name)."""
    return _issued_by_codes(session, {t.code: {"name": t.name} for t in plan.tasks})


def _issued_by_codes(
    session: Session, tasks: Mapping[str, Mapping[str, Any]]
) -> dict[str, tuple[str, str]]:
    out = {}
    for code, t in tasks.items():
        lt = matter_case_facts(session, code).issues_license
        if lt is not None:
            out[code] = (lt, str(t["name"]))
    return out


def _encrypt_form(session: Session, reg: Registry, values: dict[str, Any]) -> str:
    return reg.keyring.encrypt(session, "bundle.form", json.dumps(values, ensure_ascii=False))


def form_of(session: Session, reg: Registry, bc: BundleCase) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(reg.keyring.decrypt(session, "bundle.form", bc.form_enc))
    return data


def tasks_of(session: Session, bc: BundleCase) -> list[Case]:
    return list(session.scalars(select(Case).where(Case.bundle_case_id == bc.id).order_by(Case.id)))


def _event(session: Session, bc: BundleCase, action: str, actor: str, reason: str | None) -> None:
    session.add(
        BundleEvent(
            bundle_case_id=bc.id, action=action, status=bc.status, actor=actor, reason=reason
        )
    )
    session.flush()


def events_of(session: Session, bc: BundleCase) -> list[BundleEvent]:
    return list(
        session.scalars(
            select(BundleEvent).where(BundleEvent.bundle_case_id == bc.id).order_by(BundleEvent.id)
        )
    )


def roles_on(
    session: Session, principal: Principal, bc: BundleCase, tasks: list[Case] | None = None
) -> set[str]:
    """What the caller is to the bundle case: what they are to any of its tasks. Staff have
    nothing to do with a draft: it is the applicant's until submitted."""
    roles: set[str] = set()
    for task in tasks if tasks is not None else tasks_of(session, bc):
        roles |= cases.roles_on(session, principal, task)
    roles -= {cases.COUNTER}
    lead = bc.plan.get("lead_department")
    if bc.kind != "bundle" and lead in principal.bindings(Role.REVIEWER):
        roles.add(cases.REVIEWER)  # 一帽牵头: the lead department follows the whole review
    return roles & {cases.APPLICANT} if bc.status == "draft" else roles


def get_bundle_case(session: Session, principal: Principal, bc_id: int) -> BundleCase:
    bc = session.get(BundleCase, bc_id)
    if bc is None or not roles_on(session, principal, bc):
        raise _not_found()
    return bc


def read_as_staff(session: Session, principal: Principal, bc: BundleCase) -> None:
    """Staff opening a bundle case see which matters it holds and how far each has got; the
    applicant sees who looked, and why."""
    if cases.APPLICANT in roles_on(session, principal, bc):
        return
    record(
        session,
        actor=f"account:{principal.account_id}",
        actor_role=",".join(sorted({r for r, _ in principal.roles})),
        action="bundle.read",
        subject_type="bundle_case",
        subject_id=str(bc.id),
        data_subject=bc.person_id,
        reason=f"办理{bc.bundle_name}中的事项",
    )


def _locked(session: Session, principal: Principal, bc_id: int) -> BundleCase:
    """The bundle case under a write lock: two submissions or uploads do not interleave."""
    session.execute(
        update(BundleCase)
        .where(BundleCase.id == bc_id)
        .values(id=BundleCase.id)
        .execution_options(synchronize_session=False)
    )
    bc = session.get(BundleCase, bc_id, with_for_update=True, populate_existing=True)
    if bc is None or not roles_on(session, principal, bc):
        raise _not_found()
    return bc


def _own_draft(session: Session, principal: Principal, bc_id: int) -> BundleCase:
    bc = _locked(session, principal, bc_id)
    if cases.APPLICANT not in roles_on(session, principal, bc):
        raise DomainError(
            code="not_your_case",
            title="您不能修改此办件",
            title_en="You may not change this case",
            status=403,
        )
    if bc.status != "draft":
        raise DomainError(
            code="case_not_editable",
            title="办件已提交，不能再修改",
            title_en="The bundle case was submitted and can no longer be changed",
            status=409,
            extra={"status": bc.status},
        )
    return bc


def _merged_elements(bc: BundleCase) -> tuple[dict[str, ElementFacts], dict[str, bool]]:
    """The merged form's asked fields as data elements, and which are required."""
    elements, required = {}, {}
    for f in bc.plan["fields"]:
        if f["provided_by"] is None:
            elements[f["key"]] = ElementFacts(
                f["key"], f["label"], f["label"], f["type"], tuple(f["options"]), None
            )
            required[f["key"]] = bool(f["required"])
    return elements, required


def save_form(
    session: Session, reg: Registry, principal: Principal, bc_id: int, values: dict[str, Any]
) -> BundleCase:
    """Saves the merged form (a draft may be incomplete); each task gets its own fields."""
    bc = _own_draft(session, principal, bc_id)
    elements, _required = _merged_elements(bc)
    unknown = sorted(set(values) - set(elements))
    if unknown:
        raise validation_failed(
            [FieldError(f"form.{k}", "此一件事的表单没有这一项", "unknown") for k in unknown]
        )
    merged = form_of(session, reg, bc)
    merged.update(values)
    merged = {k: v for k, v in merged.items() if v not in (None, "")}
    clean = cases.checked_values(session, elements, dict.fromkeys(elements, False), merged)
    bc.form_enc = _encrypt_form(session, reg, clean)
    _write_task_forms(session, reg, bc, clean)
    return bc


def _write_task_forms(
    session: Session, reg: Registry, bc: BundleCase, merged: dict[str, Any]
) -> None:
    used = {f["key"]: set(f["used_by"]) for f in bc.plan["fields"]}
    for task in tasks_of(session, bc):
        mine = {k: v for k, v in merged.items() if task.matter_code in used.get(k, set())}
        cases.task_form(session, reg, task, mine)


@dataclass(frozen=True)
class MaterialState:
    identity: str
    name: str
    required: bool
    via: str
    detail: str
    needs_upload: bool  # required, and nothing uploaded yet
    uploadable: bool  # some task takes it from the applicant (required or not)
    files: list[dict[str, Any]]
    used_by: list[str]


def materials_view(session: Session, bc: BundleCase, tasks: list[Case]) -> list[MaterialState]:
    """The merged material list as it stands for this applicant: each paper once, with what
    the registry, the departments or an upstream matter supply, and what is still to upload."""
    by_code = {t.matter_code: t for t in tasks}
    names = {t["code"]: t["name"] for t in bc.plan["tasks"]}
    out = []
    for m in bc.plan["materials"]:
        needs_upload, uploadable, details = False, False, []
        uploaded: dict[str, dict[str, Any]] = {}
        for code, key in m["used_by"]:
            task = by_code.get(code)
            if task is None:
                continue
            item = next((x for x in task.materials if x["key"] == key), None)
            if item is None:
                continue
            if item["resolution"] == "upload":
                uploadable = True
                needs_upload = needs_upload or bool(item["required"])
                for f in files.files_of(session, task.id):
                    if f.material_key == key:
                        uploaded.setdefault(f.sha256, {"name": f.filename, "size": f.size})
            details.append(item["detail"])
        out.append(
            MaterialState(
                identity=m["identity"],
                name=m["name"],
                required=bool(m["required"]),
                via=m["via"],
                detail=details[0] if details else "",
                needs_upload=needs_upload and not uploaded,
                uploadable=uploadable,
                files=list(uploaded.values()),
                used_by=[names.get(c, c) for c, _ in m["used_by"]],
            )
        )
    return out


def upload(
    session: Session,
    reg: Registry,
    store: files.FileStore,
    principal: Principal,
    bc_id: int,
    identity: str,
    filename: str | None,
    data: bytes,
) -> int:
    """One file for one merged material: kept with every task that needs it (each sealed for
    its own case and department). Returns how many tasks took it."""
    bc = _own_draft(session, principal, bc_id)
    material = next((m for m in bc.plan["materials"] if m["identity"] == identity), None)
    if material is None:
        raise validation_failed([FieldError("material", "此一件事没有这项材料", "unknown")])
    by_code = {t.matter_code: t for t in tasks_of(session, bc)}
    taken = 0
    for code, key in material["used_by"]:
        task = by_code.get(code)
        item = next((x for x in task.materials if x["key"] == key), None) if task else None
        if task is None or item is None or item["resolution"] != "upload":
            continue
        cases.store_upload(session, reg, store, principal, task, cases.Upload(key, filename, data))
        taken += 1
    if taken == 0:
        raise DomainError(
            code="material_resolved",
            title="该材料已由电子证照、部门共享或本件事的前序事项提供，无需上传",
            title_en="This material is provided by the registry or an earlier matter",
            status=409,
        )
    return taken


def remove_upload(session: Session, principal: Principal, bc_id: int, identity: str) -> int:
    """Take a paper back out of a draft: every task's copy of it goes. Returns how many."""
    bc = _own_draft(session, principal, bc_id)
    material = next((m for m in bc.plan["materials"] if m["identity"] == identity), None)
    if material is None:
        raise validation_failed([FieldError("material", "此一件事没有这项材料", "unknown")])
    by_code = {t.matter_code: t for t in tasks_of(session, bc)}
    removed = 0
    for code, key in material["used_by"]:
        task = by_code.get(code)
        if task is not None:
            removed += cases.drop_files(session, task, key)
    return removed


def submit(session: Session, reg: Registry, principal: Principal, bc_id: int) -> BundleCase:
    """一次提交: every task's form and materials complete (what an upstream supplies aside);
    the tasks with nothing to wait for go to their halls now, the others wait."""
    bc = _own_draft(session, principal, bc_id)
    if bc.kind != "bundle":
        # Imported here: the industry module builds on this one.
        from tongban.industry import service as industry

        industry.check_submittable(session, bc)
    tasks = tasks_of(session, bc)
    plan_tasks = {t["code"]: t for t in bc.plan["tasks"]}
    provided = {f["key"] for f in bc.plan["fields"] if f["provided_by"]}
    upstream_of = _upstream_licenses(bc.plan["tasks"], _issued_by_codes(session, plan_tasks))
    problems: dict[str, FieldError] = {}
    for task in tasks:
        cases.refresh_task(session, task, upstream_of[task.matter_code])
        for e in cases.task_form_problems(session, reg, task, provided):
            problems.setdefault(e.field, e)
        for m in cases.missing_materials(session, task):
            identity = _identity_of(bc, task.matter_code, m["key"])
            problems.setdefault(
                f"materials.{identity}",
                FieldError(f"materials.{identity}", f"请上传：{m['name']}", "missing"),
            )
    if problems:
        raise DomainError(
            code="bundle_incomplete",
            title="表单或材料还不完整",
            title_en="The form or the materials are not complete yet",
            status=422,
            errors=list(problems.values()),
        )
    actor = f"account:{principal.account_id}"
    names = {t["code"]: t["name"] for t in bc.plan["tasks"]}
    for task in tasks:
        needs = plan_tasks[task.matter_code]["needs"]
        if needs:
            cases.park_task(session, task, actor, "等待：" + "、".join(names[n] for n in needs))
        else:
            cases.hand_in_task(session, reg, task, actor)
    bc.status = "in_progress"
    bc.submitted_at = utcnow()
    bc.number = f"YJS{utcnow():%Y%m%d}{bc.id:07d}"
    _event(session, bc, "submit", actor, None)
    _tell(session, bc, f"已提交，共{len(tasks)}个事项，预计{bc.plan['days']}个工作日内全部办结")
    return bc


def _identity_of(bc: BundleCase, code: str, key: str) -> str:
    for m in bc.plan["materials"]:
        if [code, key] in m["used_by"]:
            return str(m["identity"])
    return key


def record_result(session: Session, reg: Registry, task: Case, result: dict[str, Any]) -> None:
    """An approval of a task whose matter provides data to those after it: the values are
    required, checked as their data elements, and kept in the task's form for them."""
    bc = session.get(BundleCase, task.bundle_case_id)
    assert bc is not None
    entry = next(t for t in bc.plan["tasks"] if t["code"] == task.matter_code)
    wanted = entry["provides"]
    if not wanted:
        return
    labels = {f["key"]: f for f in bc.plan["fields"]}
    elements = {
        k: ElementFacts(
            k,
            labels[k]["label"] if k in labels else k,
            k,
            labels[k]["type"] if k in labels else "string",
            tuple(labels[k]["options"]) if k in labels else (),
            None,
        )
        for k in wanted
    }
    unknown = sorted(set(result) - set(wanted))
    if unknown:
        raise validation_failed(
            [FieldError(f"result.{k}", "本事项不产生这项结果", "unknown") for k in unknown]
        )
    try:
        clean = cases.checked_values(session, elements, dict.fromkeys(wanted, True), result)
    except DomainError as exc:
        raise validation_failed(
            [
                FieldError("result." + e.field.removeprefix("form."), e.message, e.code)
                for e in exc.errors
            ]
        ) from exc
    form = cases.form_of(session, reg, task)
    form.update(clean)
    cases.task_form(session, reg, task, form)
    if entry.get("registers_enterprise"):
        _register_enterprise(session, reg, bc, form)


def _register_enterprise(
    session: Session, reg: Registry, bc: BundleCase, form: dict[str, Any]
) -> None:
    """企业设立 approved: the enterprise enters the legal-person registry with the credit code
    the approval gives, the applicant becomes its agent, and every task of the bundle from now
    on acts for it (the business licence is issued to it next, in the same transaction)."""
    legal_rep = find_person_by_id_number(
        session, reg.keyring, str(form.get("enterprise.legal_rep_id_number") or "")
    )
    if legal_rep is None:
        raise DomainError(
            code="legal_rep_unknown",
            title="拟任法定代表人不在人口库中，无法登记",
            title_en="The proposed legal representative is not in the population registry",
            status=409,
        )
    assert bc.hall_key is not None
    enterprise = register_enterprise(
        session,
        NewEnterprise(
            uscc=str(form["enterprise.uscc"]),
            name=str(form.get("enterprise.name") or ""),
            type=str(form.get("business.registration_kind") or "有限责任公司"),
            address=str(form.get("enterprise.address") or ""),
            # Registered where it was accepted: the district centre of the founder's district.
            district_code=get_hall(session, bc.hall_key).district,
            legal_rep_id=legal_rep.id,
        ),
        bc.created_by,
        f"{bc.bundle_name}：企业设立登记核准",
    )
    bc.enterprise_id = enterprise.id
    for t in tasks_of(session, bc):
        t.enterprise_id = enterprise.id
    session.flush()


def issues_own_license(session: Session, task: Case) -> bool:
    """A 一件事 task issues its matter's license; an 一业一证 permit does not: the industry's
    one comprehensive license carries it."""
    bc = session.get(BundleCase, task.bundle_case_id)
    return bc is None or bc.kind == "bundle"


def provides_of(session: Session, task: Case) -> list[tuple[str, str]]:
    """(data element, label) a task's approval must give for the matters after it."""
    if task.bundle_case_id is None:
        return []
    bc = session.get(BundleCase, task.bundle_case_id)
    assert bc is not None
    entry = next((t for t in bc.plan["tasks"] if t["code"] == task.matter_code), None)
    labels = {f["key"]: f["label"] for f in bc.plan["fields"]}
    return [(k, labels.get(k, k)) for k in (entry["provides"] if entry else [])]


def task_changed(session: Session, reg: Registry, task: Case) -> None:
    """After any step of a task: start what is now ready, end what can no longer go on, and
    bring the bundle's own status along."""
    bc = session.get(BundleCase, task.bundle_case_id, with_for_update=True)
    assert bc is not None
    tasks = tasks_of(session, bc)
    by_code = {t.matter_code: t for t in tasks}
    plan_tasks = {t["code"]: t for t in bc.plan["tasks"]}
    if task.status in REFUSED:
        _end_dependents(session, bc, task, tasks, plan_tasks)
    elif task.status == "approved":
        _start_ready(session, reg, bc, tasks, by_code, plan_tasks, task)
    if bc.status == "in_progress" and all(t.status in ENDED for t in tasks):
        done = sum(t.status in SUCCEEDED for t in tasks)
        bc.completed_at = utcnow()
        if done == 0:  # nothing to hand out
            bc.status = "ended"
            _event(session, bc, "end", "system", "所有事项均未能办理")
            _tell(session, bc, "所有事项均未能办理，原因见各事项")
            return
        if bc.kind != "bundle":
            # Imported here: the industry module builds on this one.
            from tongban.industry import service as industry

            why_not = industry.issue_comprehensive_license(session, reg, bc, tasks)
            if why_not is not None:  # the license it was to amend is no longer in force
                bc.status = "ended"
                _event(session, bc, "end", "system", why_not)
                _tell(session, bc, why_not)
                return
        bc.status = "completed"
        _event(session, bc, "complete", "system", f"{done}/{len(tasks)}个事项办结")
        _tell(session, bc, f"全部事项已办理完毕（{done}/{len(tasks)}项办结），结果将统一送达")


def _start_ready(
    session: Session,
    reg: Registry,
    bc: BundleCase,
    tasks: list[Case],
    by_code: dict[str, Case],
    plan_tasks: dict[str, dict[str, Any]],
    approved: Case,
) -> None:
    for t in tasks:
        if t.status != "waiting":
            continue
        needs = plan_tasks[t.matter_code]["needs"]
        if approved.matter_code not in needs:
            continue
        if all(by_code[n].status in SUCCEEDED for n in needs):
            _carry_results(session, reg, bc, t, [by_code[n] for n in needs])
            results = _results_before(session, t, by_code, plan_tasks)
            cases.start_task(session, reg, t, f"前序事项已办结：{approved.matter_name}", results)


def _results_before(
    session: Session, task: Case, by_code: dict[str, Case], plan_tasks: dict[str, dict[str, Any]]
) -> dict[str, str]:
    """The licenses this task's ancestors issued in this bundle: type -> identifier."""
    seen: set[str] = set()
    todo = list(plan_tasks[task.matter_code]["needs"])
    out: dict[str, str] = {}
    while todo:
        code = todo.pop()
        if code in seen:
            continue
        seen.add(code)
        todo.extend(plan_tasks[code]["needs"])
        up = by_code[code]
        lt = matter_case_facts(session, code).issues_license
        if lt is not None and up.license_identifier is not None:
            out[lt] = up.license_identifier
    return out


def _carry_results(
    session: Session, reg: Registry, bc: BundleCase, task: Case, upstream: list[Case]
) -> None:
    """The data an upstream result provides flows into this task's form."""
    asks = {f["key"] for f in bc.plan["fields"] if task.matter_code in f["used_by"]}
    form = cases.form_of(session, reg, task)
    plan_tasks = {t["code"]: t for t in bc.plan["tasks"]}
    for up in upstream:
        values = cases.form_of(session, reg, up)
        for key in plan_tasks[up.matter_code]["provides"]:
            if key in asks and key in values:
                form[key] = values[key]
    cases.task_form(session, reg, task, form)


def _end_dependents(
    session: Session,
    bc: BundleCase,
    refused: Case,
    tasks: list[Case],
    plan_tasks: dict[str, dict[str, Any]],
) -> None:
    """Every task that (directly or through others) needs the refused one ends, saying why;
    the rest go on."""
    outcome = _REFUSAL_WORDS.get(refused.status, "未办结")
    why = f"前序事项「{refused.matter_name}」{outcome}，本事项无法继续办理"
    doomed = {refused.matter_code}
    for code, entry in plan_tasks.items():  # the plan lists a task after all it needs
        if doomed & set(entry["needs"]):
            doomed.add(code)
    for task in tasks:
        if task.matter_code in doomed and task.status == "waiting":
            cases.end_task(session, task, why)
    _event(
        session,
        bc,
        "task_refused",
        "system",
        f"{refused.matter_name}：{_REFUSAL_WORDS.get(refused.status, refused.status)}",
    )


_REFUSAL_WORDS = {"denied": "不予许可", "rejected_at_intake": "不予受理", "cancelled": "已终止"}


def deliver(
    session: Session, reg: Registry, principal: Principal, bc_id: int, detail: str | None
) -> BundleCase:
    """统一发证: the window of the bundle's counter hands out every result at once."""
    bc = _locked(session, principal, bc_id)
    tasks = tasks_of(session, bc)
    roles = roles_on(session, principal, bc, tasks)
    if cases.WINDOW not in roles or bc.status != "completed":
        raise DomainError(
            code="transition_not_allowed",
            title="当前状态下不能统一送达",
            title_en="The bundle's results cannot be handed out now",
            status=409,
            extra={"status": bc.status},
        )
    actor = f"account:{principal.account_id}"
    for t in tasks:
        if t.status == "approved":
            cases.deliver_task(session, reg, t, actor, detail)
    bc.status = "delivered"
    bc.delivered_at = utcnow()
    text = cases.DELIVERY_METHODS[bc.delivery_method]
    _event(session, bc, "deliver", actor, f"{text}：{detail}" if detail else text)
    _tell(session, bc, f"办理结果已统一送达（{text}）")
    return bc


def _tell(session: Session, bc: BundleCase, body: str) -> None:
    subject = f"{bc.bundle_name} {bc.number or ''}".strip()
    notify(session, bc.person_id, f"bundle:{bc.id}", subject, body, sms=bc.status != "in_progress")


def status_line(
    bc: BundleCase, tasks: list[Case], say: Callable[[str], str] = lambda text: text
) -> str:
    """One line for the applicant: where the bundle stands. `say` words it in a page's
    language (the default: as written, in Chinese)."""
    if bc.status == "draft":
        return say(N_("草稿：填写表单、上传材料后一次提交"))
    done = sum(t.status in SUCCEEDED for t in tasks)
    refused = sum(t.status in REFUSED for t in tasks)
    fixing = [t.matter_name for t in tasks if t.status == "correction_requested"]
    waiting = sum(t.status == "waiting" for t in tasks)
    parts = [say(N_("%(done)s/%(total)s项已办结")) % {"done": done, "total": len(tasks)}]
    if fixing:
        parts.append(say(N_("需要补正：%(matters)s")) % {"matters": say(N_("、")).join(fixing)})
    if waiting:
        parts.append(say(N_("%(n)s项等待前序事项")) % {"n": waiting})
    if refused:
        parts.append(say(N_("%(n)s项未能办理")) % {"n": refused})
    return say(N_("%(status)s（%(parts)s）")) % {
        "status": say(BUNDLE_STATUS[bc.status]),
        "parts": say(N_("，")).join(parts),
    }


def my_bundle_cases(session: Session, principal: Principal) -> list[BundleCase]:
    mine = select(BundleCase).where(BundleCase.created_by == principal.account_id)
    rows = session.scalars(mine.order_by(BundleCase.id.desc())).all()
    return [b for b in rows if cases.APPLICANT in roles_on(session, principal, b)]
