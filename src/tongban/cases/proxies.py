"""代办: a person lets a relative apply on their behalf.

The person records the authorization online (naming the relative by ID number and name, which
must match the population registry), or window staff record it from the signed paper form the
person brings. It names the relation, the matters ("*" for all personal matters) and an end
date; the person can withdraw it at any time. Both people see it, and every case made under it
names it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from tongban.audit.service import record
from tongban.cases.models import ProxyAuthorization
from tongban.crypto.service import Keyring
from tongban.db import utcnow
from tongban.errors import DomainError, FieldError, NotFound, validation_failed
from tongban.identity.models import Person
from tongban.identity.service import Principal, find_person_by_id_number
from tongban.portal.i18n import N_

RELATIONS = {
    "spouse": N_("配偶"),
    "parent": N_("父母"),
    "child": N_("子女"),
    "sibling": N_("兄弟姐妹"),
    "grandparent": N_("祖父母、外祖父母"),
    "grandchild": N_("孙子女、外孙子女"),
    "other": N_("其他近亲属"),
}


@dataclass(frozen=True)
class ProxyRequest:
    agent_id_number: str
    agent_name: str
    relation: str
    matters: list[str]
    days: int


def authorize(
    session: Session,
    keyring: Keyring,
    recorded_by: Principal,
    grantor: Person,
    req: ProxyRequest,
    reason: str,
) -> ProxyAuthorization:
    if req.relation not in RELATIONS:
        raise validation_failed([FieldError("relation", N_("亲属关系不在可选范围内"), "invalid")])
    agent = find_person_by_id_number(session, keyring, req.agent_id_number)
    # One answer for "no such person" and "the name does not match": nobody learns whether an
    # ID number is registered by trying names.
    if agent is None or agent.name != req.agent_name.strip():
        raise validation_failed(
            [FieldError("agent_id_number", N_("代办人身份证号与姓名不匹配"), "person_mismatch")]
        )
    if agent.id == grantor.id:
        raise validation_failed([FieldError("agent_id_number", N_("不能委托本人"), "self")])
    row = ProxyAuthorization(
        grantor_person_id=grantor.id,
        agent_person_id=agent.id,
        relation=req.relation,
        matters=sorted(set(req.matters)) or ["*"],
        expires_at=utcnow() + timedelta(days=req.days),
        recorded_by=recorded_by.account_id,
    )
    session.add(row)
    session.flush()
    for subject in (grantor.id, agent.id):
        record(
            session,
            actor=f"account:{recorded_by.account_id}",
            action="proxy.authorize",
            subject_type="proxy",
            subject_id=str(row.id),
            data_subject=subject,
            reason=reason,
            details={"relation": row.relation, "matters": row.matters, "days": req.days},
        )
    return row


def withdraw(session: Session, principal: Principal, proxy_id: int) -> ProxyAuthorization:
    """The person who gave it, or the relative who holds it, ends it."""
    row = session.get(ProxyAuthorization, proxy_id)
    if row is None or principal.person_id not in (row.grantor_person_id, row.agent_person_id):
        raise NotFound("proxy_not_found", "代办授权不存在", "No such authorization")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        record(
            session,
            actor=f"account:{principal.account_id}",
            action="proxy.withdraw",
            subject_type="proxy",
            subject_id=str(row.id),
            data_subject=row.grantor_person_id,
        )
    return row


def mine(session: Session, principal: Principal) -> list[ProxyAuthorization]:
    if principal.person_id is None:
        return []
    return list(
        session.scalars(
            select(ProxyAuthorization)
            .where(
                or_(
                    ProxyAuthorization.grantor_person_id == principal.person_id,
                    ProxyAuthorization.agent_person_id == principal.person_id,
                )
            )
            .order_by(ProxyAuthorization.id.desc())
        )
    )


def usable(
    session: Session, principal: Principal, proxy_id: int, matter_code: str
) -> ProxyAuthorization:
    """The authorization, if the caller holds it now and it covers the matter; else a 403."""
    row = session.get(ProxyAuthorization, proxy_id)
    if row is None or principal.person_id is None or row.agent_person_id != principal.person_id:
        raise NotFound("proxy_not_found", "代办授权不存在", "No such authorization")
    if row.revoked_at is not None or row.expires_at <= utcnow():
        raise DomainError(
            code="proxy_expired",
            title="代办授权已撤回或过期",
            title_en="The authorization was withdrawn or has expired",
            status=403,
        )
    if "*" not in row.matters and matter_code not in row.matters:
        raise DomainError(
            code="proxy_out_of_scope",
            title="代办授权不包括此事项",
            title_en="The authorization does not cover this matter",
            status=403,
        )
    return row


def is_active(row: ProxyAuthorization | None) -> bool:
    return row is not None and row.revoked_at is None and row.expires_at > utcnow()


def read_for_form(
    session: Session, principal: Principal, row: ProxyAuthorization, code: str
) -> None:
    """The relative is about to see the person's data in a prefilled form: the person sees it."""
    record(
        session,
        actor=f"account:{principal.account_id}",
        action="person.read",
        subject_type="person",
        subject_id=str(row.grantor_person_id),
        data_subject=row.grantor_person_id,
        reason="亲属代办：预填申请表",
        details={"proxy": row.id, "matter": code},
    )


def out(session: Session, principal: Principal, row: ProxyAuthorization) -> dict[str, object]:
    grantor = session.get(Person, row.grantor_person_id)
    agent = session.get(Person, row.agent_person_id)
    assert grantor is not None
    assert agent is not None
    now = utcnow()
    return {
        "id": row.id,
        "direction": "given" if row.grantor_person_id == principal.person_id else "received",
        "grantor": grantor.name,
        "agent": agent.name,
        "relation": row.relation,
        "relation_label": RELATIONS[row.relation],
        "matters": row.matters,
        "expires_at": row.expires_at.isoformat(),
        "active": row.revoked_at is None and row.expires_at > now,
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
    }
