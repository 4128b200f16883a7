"""用证授权: grants of license use to a named party, each use counted, logged and shown to the
holder; what a grantee receives is a copy marked with whom it is for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from tongban.audit.service import record
from tongban.catalog.models import Department
from tongban.db import utcnow
from tongban.errors import DomainError, FieldError, NotFound, validation_failed
from tongban.identity.models import Account
from tongban.identity.schemas import Role
from tongban.identity.service import Principal
from tongban.licenses import service
from tongban.licenses.models import License, LicenseGrant, LicenseUse
from tongban.licenses.service import Registry

KINDS = ("account", "department", "region")


@dataclass(frozen=True)
class GrantRequest:
    grantee_kind: str
    grantee: str
    identifiers: list[str]
    fields: list[str] | None
    purpose: str
    days: int
    max_uses: int | None
    holder_uscc: str | None = None


def create_grant(
    session: Session, reg: Registry, principal: Principal, req: GrantRequest
) -> LicenseGrant:
    """The holder (or an agent, for the enterprise's licenses) grants use of their licenses."""
    person_id, enterprise_id = _holder(session, principal, req.holder_uscc)
    rows = [_own_license(session, i, person_id, enterprise_id) for i in req.identifiers]
    name = _grantee_name(session, req.grantee_kind, req.grantee)
    if req.fields is not None:
        allowed = set()
        for row in rows:
            allowed |= set(service.document_of(session, reg, row)["content"])
        unknown = [f for f in req.fields if f not in allowed]
        if unknown:
            raise validation_failed(
                [FieldError("fields", f"证照中没有这些项目：{unknown}", "unknown_field")]
            )
    grant = LicenseGrant(
        holder_person_id=person_id if enterprise_id is None else None,
        holder_enterprise_id=enterprise_id,
        granted_by=principal.account_id,
        grantee_kind=req.grantee_kind,
        grantee=req.grantee,
        grantee_name=name,
        license_ids=[r.id for r in rows],
        fields=req.fields,
        purpose=req.purpose,
        expires_at=utcnow() + timedelta(days=req.days),
        max_uses=req.max_uses,
    )
    session.add(grant)
    session.flush()
    return grant


def _holder(
    session: Session, principal: Principal, uscc: str | None
) -> tuple[int | None, int | None]:
    if uscc:
        return principal.person_id, service.enterprise_acted_for(session, principal, uscc)
    if principal.person_id is None:
        raise DomainError(
            code="no_person",
            title="该账号没有可授权的证照",
            title_en="This account holds no licenses to grant",
            status=403,
        )
    return principal.person_id, None


def _own_license(
    session: Session, identifier: str, person_id: int | None, enterprise_id: int | None
) -> License:
    row = session.scalars(select(License).where(License.identifier == identifier)).first()
    mine = row is not None and (
        (enterprise_id is None and row.person_id == person_id and person_id is not None)
        or (enterprise_id is not None and row.enterprise_id == enterprise_id)
    )
    if row is None or not mine:
        raise NotFound(
            "license_not_found", "您没有这个证照", "You hold no such license", identifier
        )
    return row


def _grantee_name(session: Session, kind: str, grantee: str) -> str:
    if kind == "account":
        name = session.scalar(select(Account.display_name).where(Account.username == grantee))
    elif kind == "department":
        name = session.scalar(select(Department.name).where(Department.key == grantee))
    else:
        name = f"{grantee} 地区政务服务平台" if grantee.isdigit() and len(grantee) == 6 else None
    if name is None:
        raise validation_failed([FieldError("grantee", "被授权方不存在", "unknown_grantee")])
    return str(name)


def withdraw_grant(session: Session, principal: Principal, grant_id: int) -> LicenseGrant:
    grant = session.get(LicenseGrant, grant_id)
    if grant is None or (
        grant.granted_by != principal.account_id and not _holds(session, principal, grant)
    ):
        raise NotFound("grant_not_found", "授权不存在", "No such grant")
    if grant.withdrawn_at is None:
        grant.withdrawn_at = utcnow()
    return grant


def _holds(session: Session, principal: Principal, grant: LicenseGrant) -> bool:
    if grant.holder_person_id is not None:
        return grant.holder_person_id == principal.person_id
    return grant.holder_enterprise_id in service.agent_enterprises(session, principal)


def my_grants(session: Session, principal: Principal) -> list[LicenseGrant]:
    enterprises = service.agent_enterprises(session, principal)
    conditions = [LicenseGrant.granted_by == principal.account_id]
    if principal.person_id is not None:
        conditions.append(LicenseGrant.holder_person_id == principal.person_id)
    if enterprises:
        conditions.append(LicenseGrant.holder_enterprise_id.in_(enterprises))
    return list(
        session.scalars(
            select(LicenseGrant).where(or_(*conditions)).order_by(LicenseGrant.id.desc())
        )
    )


def uses_of(session: Session, grant: LicenseGrant) -> list[LicenseUse]:
    return list(
        session.scalars(
            select(LicenseUse).where(LicenseUse.grant_id == grant.id).order_by(LicenseUse.at)
        )
    )


def _is_grantee(principal: Principal, grant: LicenseGrant) -> bool:
    if grant.grantee_kind == "account":
        return principal.username == grant.grantee
    if grant.grantee_kind == "department":
        return any(b == grant.grantee for _, b in principal.roles)
    return grant.grantee in principal.bindings(Role.REGION_PEER)


def use_license(
    session: Session, reg: Registry, principal: Principal, grant_id: int, identifier: str
) -> tuple[LicenseGrant, License, dict[str, Any]]:
    """One use: counted atomically (so a limit of N allows exactly N), logged, and answered
    with a copy of the license marked for the grantee."""
    grant = session.get(LicenseGrant, grant_id)
    if grant is None or not _is_grantee(principal, grant):
        raise NotFound("grant_not_found", "授权不存在", "No such grant for you")
    row = _granted_version(session, grant, identifier)
    now = utcnow()
    spent = session.execute(
        update(LicenseGrant)
        .where(
            LicenseGrant.id == grant.id,
            LicenseGrant.withdrawn_at.is_(None),
            LicenseGrant.expires_at > now,
            or_(LicenseGrant.max_uses.is_(None), LicenseGrant.uses < LicenseGrant.max_uses),
        )
        .values(uses=LicenseGrant.uses + 1)
    )
    if not getattr(spent, "rowcount", 0):
        session.refresh(grant)
        raise _refusal(grant, now)
    session.add(
        LicenseUse(
            grant_id=grant.id,
            license_id=row.id,
            actor_id=principal.account_id,
            actor_name=principal.display_name or principal.username,
            purpose=grant.purpose,
            fields=grant.fields,
        )
    )
    if grant.holder_person_id is not None:
        record(
            session,
            actor=f"account:{principal.account_id}",
            actor_role=grant.grantee_kind,
            action="license.used",
            subject_type="license",
            subject_id=row.identifier,
            data_subject=grant.holder_person_id,
            reason=grant.purpose,
        )
    return grant, row, _copy(service.document_of(session, reg, row), grant)


def _granted_version(session: Session, grant: LicenseGrant, identifier: str) -> License:
    """The license asked for, if the grant covers it: a granted version or any newer one."""
    row = session.scalars(select(License).where(License.identifier == identifier)).first()
    if row is None:
        raise NotFound("license_not_found", "证照不存在", "No such license")
    chain = {row.id}
    cursor: License | None = row
    # Walk back: is this version a successor of a granted one?
    while cursor is not None and not chain & set(grant.license_ids):
        cursor = session.scalars(select(License).where(License.superseded_by == cursor.id)).first()
        if cursor is not None:
            chain.add(cursor.id)
    if not chain & set(grant.license_ids):
        raise NotFound("license_not_found", "该授权不包含此证照", "The grant does not cover it")
    return row


def _refusal(grant: LicenseGrant, now: datetime) -> DomainError:
    if grant.withdrawn_at is not None:
        return DomainError(
            code="grant_withdrawn",
            title="持证人已撤回授权",
            title_en="The grant was withdrawn",
            status=410,
        )
    if grant.expires_at <= now:
        return DomainError(
            code="grant_expired", title="授权已过期", title_en="The grant has expired", status=410
        )
    return DomainError(
        code="grant_used_up",
        title="授权次数已用完",
        title_en="The grant's uses are spent",
        status=409,
    )


def watermark(grant: LicenseGrant) -> str:
    return f"仅供{grant.grantee_name}使用"


def _copy(document: dict[str, Any], grant: LicenseGrant) -> dict[str, Any]:
    """A copy for the grantee: only the granted fields, marked with whom and what it is for.

    A copy of some fields no longer matches the signature, so it carries none; the grantee
    verifies the license by its identifier (the answer is the registry's, with no personal
    data), or the holder presents a selective-disclosure credential instead.
    """
    content = document["content"]
    copy = {k: v for k, v in document.items() if k not in ("signature", "content")}
    if grant.fields is not None:
        content = {k: v for k, v in content.items() if k in grant.fields}
        holder = document["holder"]
        granted = set(grant.fields)
        copy["holder"] = {
            "kind": holder["kind"],
            **({"name": holder["name"]} if granted & {"person.name", "enterprise.name"} else {}),
            **({"id": holder["id"]} if granted & {"person.id_number", "enterprise.uscc"} else {}),
        }
    return {
        **copy,
        "content": content,
        "copy_for": grant.grantee_name,
        "purpose": grant.purpose,
        "watermark": watermark(grant),
    }


def identifiers(session: Session, license_ids: list[int]) -> dict[int, str]:
    rows = session.execute(
        select(License.id, License.identifier).where(License.id.in_(set(license_ids)))
    )
    return {int(row[0]): str(row[1]) for row in rows}
