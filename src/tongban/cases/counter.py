"""综合受理: a window serves the applicant in front of it.

Staff identify the person by scanning their 随申码 (a paper code with the ID card) or by the ID
card itself (number and name, checked against the population registry). That opens a visit at
the staff member's hall for two hours: within it the window sees the prefilled form and the
resolved materials for any matter, makes the case on the person's behalf, uploads what is still
missing, and has the person sign on the pad or confirm on their phone. Each look at the
person's data is in the person's data-usage list.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tongban.audit.models import AuditEntry
from tongban.audit.service import record
from tongban.cases.models import CounterVisit
from tongban.common.masking import mask_id_number
from tongban.db import utcnow
from tongban.errors import DomainError, FieldError, NotFound, validation_failed
from tongban.idcode.service import Codes, identify_at_window
from tongban.identity.models import Enterprise, Person
from tongban.identity.schemas import Role
from tongban.identity.service import Principal, find_person_by_id_number
from tongban.licenses.service import Registry, person_enterprises
from tongban.portal.i18n import N_

VISIT_HOURS = 2


def find_visit(session: Session, visit_id: int) -> CounterVisit | None:
    """A counter visit by id, for modules that check access themselves (好差评)."""
    return session.get(CounterVisit, visit_id)


def staff_hall(principal: Principal, hall: str | None) -> str:
    """The hall the window works at: its only one, or the one it names among its own."""
    halls = principal.bindings(Role.WINDOW_STAFF)
    if hall is not None:
        if hall not in halls:
            raise DomainError(
                code="hall_not_yours",
                title="您不在该大厅的窗口",
                title_en="You do not work at that hall",
                status=403,
            )
        return hall
    if len(halls) != 1:
        raise validation_failed([FieldError("hall", N_("请选择受理大厅"), "missing")])
    return next(iter(halls))


def start_visit(
    session: Session,
    codes: Codes,
    staff: Principal,
    *,
    hall: str | None,
    code: str | None,
    id_number: str | None,
    name: str | None,
) -> CounterVisit:
    hall_key = staff_hall(staff, hall)
    if code:
        person_id = identify_at_window(session, codes, staff, hall_key, code, id_number)
        how = "code"
    elif id_number and name:
        person_id, how = _by_id_card(session, codes, staff, id_number, name), "id_card"
    else:
        raise validation_failed(
            [FieldError("code", N_("请扫描随申码，或录入身份证号码和姓名"), "missing")]
        )
    visit = CounterVisit(
        hall_key=hall_key,
        staff_account=staff.account_id,
        person_id=person_id,
        identified_by=how,
        expires_at=utcnow() + timedelta(hours=VISIT_HOURS),
    )
    session.add(visit)
    session.flush()
    record(
        session,
        actor=f"account:{staff.account_id}",
        actor_role=Role.WINDOW_STAFF.value,
        action="counter.identify",
        subject_type="person",
        subject_id=str(person_id),
        data_subject=person_id,
        reason=f"综合受理窗口核验身份（{'随申码' if how == 'code' else '身份证'}）",
        details={"hall": hall_key, "visit": visit.id},
    )
    return visit


# Wrong number-and-name pairs one window may enter in an hour: a clerk mistypes now and then;
# someone trying numbers against a name does not get far.
MISMATCH_LIMIT = 10


def _by_id_card(session: Session, codes: Codes, staff: Principal, id_number: str, name: str) -> int:
    failures = session.scalar(
        select(func.count(AuditEntry.seq)).where(
            AuditEntry.action == "counter.identify_failed",
            AuditEntry.actor == f"account:{staff.account_id}",
            AuditEntry.at > utcnow() - timedelta(hours=1),
        )
    )
    if (failures or 0) >= MISMATCH_LIMIT:
        raise DomainError(
            code="rate_limited",
            title="核验失败次数过多，请一小时后再试或联系值班长",
            title_en="Too many failed identity checks; try again in an hour",
            status=429,
        )
    person = find_person_by_id_number(session, codes.keyring, id_number)
    if person is None or person.name != name.strip():
        # Kept although the request is refused (the API commits refusals of this kind).
        record(
            session,
            actor=f"account:{staff.account_id}",
            actor_role=Role.WINDOW_STAFF.value,
            action="counter.identify_failed",
            reason="身份证号与姓名不匹配",
        )
        raise validation_failed(
            [FieldError("id_number", N_("身份证号与姓名不匹配，请核对证件"), "person_mismatch")]
        )
    return person.id


def open_visit(session: Session, staff: Principal, visit_id: int) -> CounterVisit:
    """The caller's own visit, still open; another window's or an old one is not found."""
    visit = session.get(CounterVisit, visit_id)
    if visit is None or visit.staff_account != staff.account_id:
        raise NotFound("visit_not_found", "接待记录不存在", "No such counter visit")
    if visit.expires_at <= utcnow():
        raise DomainError(
            code="visit_expired",
            title="接待已超时，请重新核验身份",
            title_en="The visit has timed out; identify the applicant again",
            status=409,
        )
    return visit


def read_for_visit(session: Session, staff: Principal, visit: CounterVisit, why: str) -> None:
    """Staff read the person's data at the window: the person sees who, when and why."""
    record(
        session,
        actor=f"account:{staff.account_id}",
        actor_role=Role.WINDOW_STAFF.value,
        action="person.read",
        subject_type="person",
        subject_id=str(visit.person_id),
        data_subject=visit.person_id,
        reason=why,
        details={"hall": visit.hall_key, "visit": visit.id},
    )


def visit_out(session: Session, reg: Registry, visit: CounterVisit) -> dict[str, Any]:
    person = session.get(Person, visit.person_id)
    assert person is not None
    id_number = reg.keyring.decrypt(session, "person.id_number", person.id_number_enc)
    return {
        "id": visit.id,
        "hall": visit.hall_key,
        "identified_by": visit.identified_by,
        "person": {"name": person.name, "id_number": mask_id_number(id_number)},
        "expires_at": visit.expires_at.isoformat(),
    }


def person_label(session: Session, reg: Registry, person_id: int | None) -> dict[str, str]:
    """The applicant as a receipt shows them: the name and a masked ID number."""
    person = session.get(Person, person_id) if person_id else None
    if person is None:
        return {"name": "—", "id_number": "—"}
    id_number = reg.keyring.decrypt(session, "person.id_number", person.id_number_enc)
    return {"name": person.name, "id_number": mask_id_number(id_number)}


# -- 帮办: assisted filing ----------------------------------------------------------------------


def acts_for(session: Session, person_id: int) -> list[dict[str, Any]]:
    """帮办: the enterprises the person at the window may apply for."""
    out = []
    for enterprise_id in person_enterprises(session, person_id):
        e = session.get(Enterprise, enterprise_id)
        if e is not None:
            role = N_("法定代表人") if e.legal_rep_id == person_id else N_("经办人")
            out.append({"id": e.id, "uscc": e.uscc, "name": e.name, "role": role})
    return sorted(out, key=lambda e: e["name"])


def assisted(form: dict[str, Any]) -> dict[str, Any]:
    """帮办 at a glance: what the registries and licenses filled in (信息免填报), what staff
    still ask for, and exactly which papers must still be handed over (材料免提交 aside)."""
    fields = form["fields"]
    filled = [f for f in fields if f["value"] is not None]
    materials = form["materials"]
    return {
        "filled": len(filled),
        "fields": len(fields),
        "sources": sorted({f["prefilled_from"] for f in filled if f["prefilled_from"]}),
        "to_ask": [f["label"] for f in fields if f["value"] is None and f["required"]],
        "to_hand_over": [
            m["name"] for m in materials if m["resolution"] == "upload" and m["required"]
        ],
        "if_any": [
            m["name"] for m in materials if m["resolution"] == "upload" and not m["required"]
        ],
        "exempt": len([m for m in materials if m["resolution"] != "upload"]),
    }


def visit_enterprise(
    session: Session, visit: CounterVisit, uscc: str, kind: str | None = None
) -> int:
    """The enterprise the person at the window applies for (帮办): one they represent, or act
    for with a scope covering the matter's kind; 403 otherwise."""
    found = next((e for e in acts_for(session, visit.person_id) if e["uscc"] == uscc), None)
    if found is None:
        raise DomainError(
            code="not_enterprise_agent",
            title="申请人不是该企业的法定代表人或有效经办人",
            title_en="The applicant neither represents nor acts for this enterprise",
            status=403,
        )
    if kind is not None and not may_act_for(session, visit.person_id, int(found["id"]), kind):
        raise DomainError(
            code="agent_out_of_scope",
            title="申请人的经办授权不包括此类事项",
            title_en="The applicant's authorization does not cover this matter",
            status=403,
        )
    return int(found["id"])


def may_act_for(session: Session, person_id: int, enterprise_id: int, kind: str) -> bool:
    """The person represents the enterprise, or is its current agent for this kind of matter."""
    scope = person_enterprises(session, person_id).get(enterprise_id)
    return scope is not None and ("*" in scope or kind in scope)
