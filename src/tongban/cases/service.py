"""Applications: created once per idempotency key, routed to a hall and a department, moved
through their states by the right roles, on a working-day clock that stops during 补正, and
ending, for a matter that issues a license, in that license."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tongban.cases.models import Case, CaseEvent
from tongban.catalog.elements import validate_form
from tongban.catalog.rules import ElementFacts
from tongban.catalog.service import (
    MatterCaseFacts,
    hall_for,
    license_type_facts,
    matter_case_facts,
    matter_form_facts,
)
from tongban.db import utcnow
from tongban.errors import DomainError, FieldError, NotFound, validation_failed
from tongban.identity.models import Enterprise, Person
from tongban.identity.schemas import Role
from tongban.identity.service import Principal
from tongban.licenses import service as licenses
from tongban.licenses.resolver import Applicant, resolve_materials
from tongban.licenses.service import Registry
from tongban.notify.service import notify
from tongban.workdays.service import calendar

APPLICANT, WINDOW, REVIEWER = "applicant", "window", "reviewer"

# action -> (statuses it starts from, the status it leads to, who may take it)
TRANSITIONS: dict[str, tuple[frozenset[str], str, frozenset[str]]] = {
    "submit": (frozenset({"draft"}), "submitted", frozenset({APPLICANT})),
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
    "resubmit": (frozenset({"correction_requested"}), "(resume)", frozenset({APPLICANT})),
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


def create_case(session: Session, reg: Registry, principal: Principal, req: CreateRequest) -> Case:
    """A new case; the same idempotency key from the same account returns the first one."""
    key = (req.idempotency_key or "").strip() or None
    if key is not None:
        earlier = session.scalars(
            select(Case).where(Case.created_by == principal.account_id, Case.idempotency_key == key)
        ).first()
        if earlier is not None:
            return earlier
    facts = matter_case_facts(session, req.matter)
    enterprise_id = (
        licenses.enterprise_acted_for(session, principal, req.uscc) if req.uscc else None
    )
    if enterprise_id is None and not facts.for_person:
        raise validation_failed(
            [FieldError("uscc", "企业事项须以企业名义申请", "enterprise_required")]
        )
    if principal.person_id is None:
        raise DomainError(
            code="no_person",
            title="该账号不能申请办事",
            title_en="This account cannot apply",
            status=403,
        )
    form = _checked_form(session, req.matter, req.form, final=req.submit)
    applicant = Applicant(principal.person_id, enterprise_id)
    hall = _route(session, facts, principal.person_id, enterprise_id)
    case = Case(
        matter_code=facts.code,
        matter_name=facts.name,
        channel=req.channel,
        status="draft",
        person_id=principal.person_id,
        enterprise_id=enterprise_id,
        created_by=principal.account_id,
        idempotency_key=key,
        hall_key=hall,
        department_key=facts.department_key,
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
        existing = session.scalars(
            select(Case).where(Case.created_by == principal.account_id, Case.idempotency_key == key)
        ).one()
        return existing
    _event(session, case, "create", None, "draft", f"account:{principal.account_id}", None)
    if req.submit:
        _submit(session, case, f"account:{principal.account_id}")
    return case


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


def _submit(session: Session, case: Case, actor: str) -> None:
    case.status = "submitted"
    case.submitted_at = utcnow()
    case.number = f"TB{utcnow():%Y%m%d}{case.id:08d}"
    _event(session, case, "submit", "draft", "submitted", actor, None)
    _tell(session, case, "submitted", None)


# What the applicant is told at each step; those marked True also go by SMS.
MESSAGES: dict[str, tuple[str, bool]] = {
    "submitted": ("已提交，等待受理", False),
    "accepted": ("已受理，承诺{due}前办结", True),
    "rejected_at_intake": ("不予受理：{reason}", True),
    "correction_requested": ("需要补正：{reason}（补正期间不计时）", True),
    "under_review": ("正在审核", False),
    "approved": ("已办结，准予许可", True),
    "denied": ("不予许可：{reason}", True),
    "delivered": ("结果已送达", True),
}


def _tell(session: Session, case: Case, status: str, reason: str | None) -> None:
    template = MESSAGES.get(status)
    if template is None or case.person_id is None:
        return
    text, sms = template
    body = text.format(due=case.due_date.isoformat() if case.due_date else "", reason=reason or "")
    notify(
        session,
        case.person_id,
        f"case:{case.id}",
        f"{case.matter_name} {case.number or ''}".strip(),
        body,
        sms=sms,
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
    roles = set()
    if case.created_by == principal.account_id or (
        case.person_id is not None
        and case.person_id == principal.person_id
        and case.enterprise_id is None
    ):
        roles.add(APPLICANT)
    if case.enterprise_id is not None and case.enterprise_id in licenses.agent_enterprises(
        session, principal
    ):
        roles.add(APPLICANT)
    if case.hall_key and case.hall_key in principal.bindings(Role.WINDOW_STAFF):
        roles.add(WINDOW)
    if case.department_key in principal.bindings(Role.REVIEWER):
        roles.add(REVIEWER)
    return roles


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
) -> Case:
    case = session.get(Case, case_id, with_for_update=True)
    if case is None:
        raise NotFound("case_not_found", "办件不存在", "No such case")
    roles = roles_on(session, principal, case)
    if not roles:
        raise NotFound("case_not_found", "办件不存在", "No such case")
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
        raise validation_failed([FieldError("reason", "请说明原因", "missing")])
    before = case.status
    actor = f"account:{principal.account_id}"
    if action == "submit":
        _submit(session, case, actor)
        return case
    today = licenses.today()
    target = spec[1]
    if action == "accept":
        facts = matter_case_facts(session, case.matter_code)
        case.accepted_on = today
        case.due_date = calendar(session).add_working_days(today, facts.promised_days)
    elif action == "request_correction":
        case.paused_since = today if case.due_date else None
        case.resume_to = before
    elif action == "resubmit":
        target = case.resume_to or "submitted"
        if case.paused_since is not None and case.due_date is not None:
            cal = calendar(session)
            paused = cal.working_days_between(case.paused_since, today)
            case.due_date = cal.add_working_days(case.due_date, paused)
        case.paused_since, case.resume_to = None, None
    elif action == "approve":
        case.license_identifier = _issue_result(session, reg, case)
    case.status = target
    _event(session, case, action, before, target, actor, reason)
    _tell(session, case, target, reason)
    return case


def allowed_actions(case: Case, roles: set[str]) -> set[str]:
    return {
        a for a, (starts, _to, who) in TRANSITIONS.items() if case.status in starts and roles & who
    }


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


def my_cases(session: Session, principal: Principal) -> list[Case]:
    return list(
        session.scalars(
            select(Case).where(Case.created_by == principal.account_id).order_by(Case.id.desc())
        )
    )


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
            Case.status.in_(OPEN), Case.due_date.is_not(None), Case.paused_since.is_(None)
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


def queue(session: Session, principal: Principal) -> list[Case]:
    """The open cases of the caller's halls (window staff) and departments (reviewers), the
    nearest deadline first."""
    halls = principal.bindings(Role.WINDOW_STAFF)
    departments = principal.bindings(Role.REVIEWER)
    if not halls and not departments:
        return []
    from sqlalchemy import or_

    return list(
        session.scalars(
            select(Case)
            .where(
                Case.status.in_(OPEN | {"submitted"}),
                or_(Case.hall_key.in_(halls), Case.department_key.in_(departments)),
            )
            .order_by(Case.due_date.is_(None), Case.due_date, Case.id)
        )
    )
