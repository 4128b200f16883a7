"""Issuing, versioning and changing the status of e-licenses; reading and verifying them."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tongban.catalog.elements import validate_form
from tongban.catalog.service import LicenseTypeFacts, license_type_facts
from tongban.crypto import sm2
from tongban.crypto.service import Keyring
from tongban.crypto.signing import SigningKeys
from tongban.crypto.trustlist import TrustList
from tongban.db import utcnow
from tongban.errors import DomainError, FieldError, NotFound, validation_failed
from tongban.identity.models import Enterprise, EnterpriseAgent
from tongban.identity.schemas import Role
from tongban.identity.service import Principal, find_person_by_id_number
from tongban.licenses.document import (
    FORMAT,
    STATUS_FORMAT,
    Verification,
    sign_document,
    signed_bytes,
    verify_document,
)
from tongban.licenses.identifier import InvalidIdentifier, LicenseIdentifier, parse_identifier
from tongban.licenses.models import License, LicenseEvent, LicenseSerial
from tongban.settings import Settings

CHINA = timezone(timedelta(hours=8))
LICENSE = "license"
DOCUMENT_FIELD = "license.document"

# action -> (statuses it may start from, status it leads to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "suspend": (frozenset({"01"}), "02"),
    "restore": (frozenset({"02"}), "01"),
    "revoke": (frozenset({"01", "02"}), "03"),
    "cancel": (frozenset({"01", "02"}), "04"),
    "transfer": (frozenset({"01"}), "06"),
    "withdraw": (frozenset({"01", "02"}), "07"),
}


@dataclass
class Registry:
    """What the registry needs at run time, made once per application."""

    settings: Settings
    keyring: Keyring
    signing: SigningKeys


@dataclass(frozen=True)
class Actor:
    """Who acts on the registry: an issuer of some departments, or the platform itself."""

    name: str
    departments: frozenset[str] | None  # None: the platform (approved cases, the demo)

    @classmethod
    def of(cls, principal: Principal) -> Actor:
        return cls(f"account:{principal.account_id}", frozenset(principal.bindings(Role.ISSUER)))

    def may_issue_for(self, department_key: str) -> bool:
        return self.departments is None or department_key in self.departments


@dataclass(frozen=True)
class IssueRequest:
    type_key: str
    holder_id_number: str | None = None
    holder_uscc: str | None = None
    content: dict[str, Any] | None = None
    valid_from: date | None = None
    valid_until: date | None = None
    matter_code: str | None = None
    license_number: str | None = None
    paper_number: str | None = None


SYSTEM_ACTOR = Actor("system", None)


def today() -> date:
    return datetime.now(CHINA).date()


# -- issuing -----------------------------------------------------------------------------------


def issue_license(session: Session, reg: Registry, actor: Actor, req: IssueRequest) -> License:
    """A new license, signed by the department's key, at the same moment as its paper twin."""
    facts = license_type_facts(session, req.type_key)
    _require_issuer(actor, facts)
    holder = _holder(session, reg.keyring, facts, req)
    content = _content(facts, holder.prefill, req.content or {})
    issued = today()
    valid_from = req.valid_from or issued
    valid_until = req.valid_until or (
        _add_years(valid_from, facts.validity_years) if facts.validity_years else None
    )
    if valid_until is not None and valid_until < valid_from:
        raise validation_failed([FieldError("valid_until", "有效期止早于起始日期", "before_start")])
    issuer_code = _issuer_code(facts)
    serial = f"{_next_serial(session, facts.id, facts.department_id):08d}"
    identifier = LicenseIdentifier(facts.code, issuer_code, serial, 1)
    row = License(
        identifier=str(identifier),
        serial=serial,
        version=1,
        type_id=facts.id,
        issuer_id=facts.department_id,
        holder_kind=facts.holder,
        person_id=holder.person_id,
        enterprise_id=holder.enterprise_id,
        license_number=req.license_number or f"{facts.code[-3:]}{issued:%Y}{serial}",
        paper_number=req.paper_number or f"P{issued:%Y}{serial}",
        issued_on=issued,
        valid_from=valid_from,
        valid_until=valid_until,
        matter_code=req.matter_code,
        status="01",
        current=True,
    )
    document = _document(reg, facts, row, holder, content)
    _seal(session, reg, facts, row, document)
    session.add(row)
    session.flush()
    _event(session, row, "issued", None, "01", actor.name, None)
    return row


@dataclass(frozen=True)
class _Holder:
    kind: str
    name: str
    id: str
    id_type: str
    person_id: int | None
    enterprise_id: int | None
    prefill: dict[str, Any]


def _holder(
    session: Session, keyring: Keyring, facts: LicenseTypeFacts, req: IssueRequest
) -> _Holder:
    if facts.holder == "person":
        if not req.holder_id_number:
            raise validation_failed(
                [FieldError("holder_id_number", "请填写持证人身份证号", "missing")]
            )
        person = find_person_by_id_number(session, keyring, req.holder_id_number)
        if person is None:
            raise NotFound("holder_not_found", "未找到持证人", "No such holder")
        id_number = keyring.decrypt(session, "person.id_number", person.id_number_enc)
        address = (
            keyring.decrypt(session, "person.address", person.address_enc)
            if person.address_enc
            else None
        )
        prefill = {
            "person.name": person.name,
            "person.id_number": id_number,
            "person.gender": person.gender,
            "person.birth_date": person.birth_date.isoformat(),
            "person.address": address,
        }
        return _Holder("person", person.name, id_number, "111", person.id, None, prefill)
    if not req.holder_uscc:
        raise validation_failed(
            [FieldError("holder_uscc", "请填写持证企业的统一社会信用代码", "missing")]
        )
    enterprise = session.scalars(
        select(Enterprise).where(Enterprise.uscc == req.holder_uscc.strip().upper())
    ).first()
    if enterprise is None:
        raise NotFound("holder_not_found", "未找到持证企业", "No such holder")
    prefill = {
        "enterprise.name": enterprise.name,
        "enterprise.uscc": enterprise.uscc,
        "enterprise.type": enterprise.type,
        "enterprise.legal_rep_name": enterprise.legal_rep.name,
        "enterprise.address": enterprise.address,
    }
    return _Holder(
        "enterprise", enterprise.name, enterprise.uscc, "uscc", None, enterprise.id, prefill
    )


def _content(
    facts: LicenseTypeFacts, prefill: dict[str, Any], given: dict[str, Any]
) -> dict[str, Any]:
    """The license's fields: the registry's values for the holder, then what the issuer gave.

    The issuer cannot contradict the base registries (a name, an ID number); every value is
    checked by its data element.
    """
    errors = [
        FieldError(key, "与基础库中持证人的信息不一致", "conflicts_registry")
        for key, value in given.items()
        if key in prefill and prefill[key] is not None and str(value) != str(prefill[key])
    ]
    if errors:
        raise validation_failed(errors)
    values = {k: v for k, v in prefill.items() if k in facts.fields and v is not None}
    values.update(given)
    clean, problems = validate_form(facts.fields, dict.fromkeys(facts.fields, False), values)
    if problems:
        raise validation_failed(
            [FieldError(f"content.{e.field}", e.message, e.code) for e in problems]
        )
    return {k: _jsonable(v) for k, v in clean.items()}


def _jsonable(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _require_issuer(actor: Actor, facts: LicenseTypeFacts) -> None:
    if not actor.may_issue_for(facts.department_key):
        raise DomainError(
            code="not_issuer",
            title="您不是该证照的发证部门",
            title_en="You do not issue this type of license",
            status=403,
        )


def _issuer_code(facts: LicenseTypeFacts) -> str:
    if not facts.department_uscc:
        raise DomainError(
            code="issuer_without_code",
            title="发证部门缺少统一社会信用代码",
            title_en="The issuing department has no credit code",
            status=409,
        )
    return facts.department_uscc


def _add_years(start: date, years: int) -> date:
    try:
        return start.replace(year=start.year + years) - timedelta(days=1)
    except ValueError:  # 29 February
        return start.replace(year=start.year + years, day=28) - timedelta(days=1)


def _next_serial(session: Session, type_id: int, issuer_id: int) -> int:
    for _ in range(3):
        value = session.execute(
            update(LicenseSerial)
            .where(LicenseSerial.type_id == type_id, LicenseSerial.issuer_id == issuer_id)
            .values(last=LicenseSerial.last + 1)
            .returning(LicenseSerial.last)
        ).scalar()
        if value is not None:
            return int(value)
        try:
            with session.begin_nested():
                session.add(LicenseSerial(type_id=type_id, issuer_id=issuer_id, last=1))
                session.flush()
            return 1
        except IntegrityError:
            continue
    raise RuntimeError("could not take a license serial")


def _document(
    reg: Registry, facts: LicenseTypeFacts, row: License, holder: _Holder, content: dict[str, Any]
) -> dict[str, Any]:
    """The GB/T 36903 metadata and the content, as JSON (signed next)."""
    return {
        "format": FORMAT,
        "identifier": row.identifier,
        "version": row.version,
        "type": {"key": facts.key, "code": facts.code, "name": facts.name},
        "defining_body": facts.code[:18],
        "license_number": row.license_number,
        "paper_number": row.paper_number,
        "issuer": {
            "department": facts.department_key,
            "name": facts.department_name,
            "code": facts.department_uscc,
        },
        "jurisdiction": reg.settings.region_name,
        "issued_on": row.issued_on.isoformat(),
        "valid_from": row.valid_from.isoformat(),
        "valid_until": row.valid_until.isoformat() if row.valid_until else None,
        "holder": {
            "kind": holder.kind,
            "name": holder.name,
            "id": holder.id,
            "id_type": holder.id_type,
        },
        "matter": row.matter_code,
        "content": content,
    }


def _seal(
    session: Session, reg: Registry, facts: LicenseTypeFacts, row: License, document: dict[str, Any]
) -> None:
    kid, signer = reg.signing.signer(session, LICENSE, f"dept:{facts.department_key}")
    document["signed_at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    signed = sign_document(document, kid, signer)
    row.kid = kid
    row.document_enc = reg.keyring.encrypt(
        session, DOCUMENT_FIELD, json.dumps(signed, ensure_ascii=False)
    )


def _event(
    session: Session,
    row: License,
    action: str,
    before: str | None,
    after: str,
    actor: str,
    reason: str | None,
) -> None:
    session.add(
        LicenseEvent(
            license_id=row.id,
            action=action,
            from_status=before,
            to_status=after,
            actor=actor,
            reason=reason,
        )
    )


# -- changing ----------------------------------------------------------------------------------


def _by_identifier(session: Session, identifier: str, *, lock: bool = False) -> License:
    try:
        parse_identifier(identifier)
    except InvalidIdentifier as exc:
        raise validation_failed([FieldError("identifier", str(exc), "invalid_identifier")]) from exc
    query = select(License).where(License.identifier == identifier.strip())
    row = session.scalars(query.with_for_update() if lock else query).first()
    if row is None:
        raise NotFound("license_not_found", "证照不存在", "No such license")
    return row


def result_pdf(session: Session, reg: Registry, identifier: str) -> tuple[bytes, str]:
    """The printable copy of a license a case resulted in, for the hall that hands it over
    (the caller has checked it is theirs to print): the paper twin of the e-license."""
    row = _by_identifier(session, identifier)
    return license_pdf(session, reg, row), f"license-{row.serial}-{row.version}.pdf"


def document_of(session: Session, reg: Registry, row: License) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(
        reg.keyring.decrypt(session, DOCUMENT_FIELD, row.document_enc)
    )
    return document


def new_version(
    session: Session,
    reg: Registry,
    actor: Actor,
    identifier: str,
    content: dict[str, Any],
    valid_until: date | None,
    reason: str,
) -> License:
    """A change makes a new version (same serial, version + 1); the old one is superseded, not
    changed, and keeps verifying as what it was — superseded."""
    old = _by_identifier(session, identifier, lock=True)
    facts = license_type_facts(session, _type_key(session, old))
    _require_issuer(actor, facts)
    if not old.current or old.status not in ("01", "02"):
        raise DomainError(
            code="license_not_current",
            title="只能变更现行有效的证照",
            title_en="Only the current, live version can be changed",
            status=409,
        )
    before = document_of(session, reg, old)
    holder = _Holder(
        before["holder"]["kind"],
        before["holder"]["name"],
        before["holder"]["id"],
        before["holder"]["id_type"],
        old.person_id,
        old.enterprise_id,
        {},
    )
    merged = _content(facts, {}, {**before["content"], **content})
    next_id = parse_identifier(old.identifier).next_version()
    row = License(
        identifier=str(next_id),
        serial=old.serial,
        version=old.version + 1,
        type_id=old.type_id,
        issuer_id=old.issuer_id,
        holder_kind=old.holder_kind,
        person_id=old.person_id,
        enterprise_id=old.enterprise_id,
        license_number=old.license_number,
        paper_number=old.paper_number,
        issued_on=today(),
        valid_from=old.valid_from,
        valid_until=valid_until or old.valid_until,
        matter_code=old.matter_code,
        status=old.status,
        current=True,
    )
    _seal(session, reg, facts, row, _document(reg, facts, row, holder, merged))
    session.add(row)
    session.flush()
    old.current = False
    old.superseded_by = row.id
    previous = old.status
    old.status = "99"
    old.status_changed_at = utcnow()
    _event(session, old, "superseded", previous, "99", actor.name, reason)
    _event(session, row, "updated", None, row.status, actor.name, reason)
    return row


def change_status(
    session: Session, reg: Registry, actor: Actor, identifier: str, action: str, reason: str
) -> License:
    row = _by_identifier(session, identifier, lock=True)
    facts = license_type_facts(session, _type_key(session, row))
    _require_issuer(actor, facts)
    allowed, target = TRANSITIONS[action]
    if row.status not in allowed or not row.current:
        raise DomainError(
            code="status_change_not_allowed",
            title="该证照当前状态下不能进行此操作",
            title_en=f"A license in status {row.status} cannot be made {target}",
            status=409,
        )
    before = row.status
    row.status = target
    row.status_changed_at = utcnow()
    _event(session, row, action, before, target, actor.name, reason)
    reg.signing.forget()  # the status list changes now, not in a minute
    return row


def expire_due(
    session: Session, on: date | None = None, renewing: frozenset[int] | set[int] = frozenset()
) -> int:
    """失效: licenses whose validity ended before `on` (today). Run daily. `renewing`: ids of
    licenses whose renewal was applied for in time and is not decided yet; they stay in force
    until it is (行政许可法 第五十条)."""
    day = on or today()
    due = [
        row
        for row in session.scalars(
            select(License).where(
                License.status.in_(("01", "02")),
                License.valid_until.is_not(None),
                License.valid_until < day,
            )
        )
        if row.id not in renewing
    ]
    for row in due:
        before = row.status
        row.status = "05"
        row.status_changed_at = utcnow()
        _event(session, row, "expired", before, "05", "system", f"有效期至 {row.valid_until}")
    return len(due)


def _type_key(session: Session, row: License) -> str:
    from tongban.catalog.models import LicenseType

    key = session.scalar(select(LicenseType.key).where(LicenseType.id == row.type_id))
    assert key is not None
    return key


# -- reading -----------------------------------------------------------------------------------


def holder_licenses(
    session: Session, *, person_id: int | None = None, enterprise_id: int | None = None
) -> list[License]:
    query = select(License).where(License.current.is_(True))
    if person_id is not None:
        query = query.where(License.person_id == person_id)
    elif enterprise_id is not None:
        query = query.where(License.enterprise_id == enterprise_id)
    else:
        return []
    return list(session.scalars(query.order_by(License.issued_on.desc(), License.id.desc())))


def agent_enterprises(session: Session, principal: Principal) -> list[int]:
    """The enterprises the caller currently acts for (as 经办人)."""
    bound = {int(b) for b in principal.bindings(Role.ENTERPRISE_AGENT) if b.isdigit()}
    if not bound or principal.person_id is None:
        return []
    return list(
        session.scalars(
            select(EnterpriseAgent.enterprise_id).where(
                EnterpriseAgent.enterprise_id.in_(bound),
                EnterpriseAgent.person_id == principal.person_id,
                EnterpriseAgent.revoked_at.is_(None),
                EnterpriseAgent.expires_at > utcnow(),
            )
        )
    )


def person_enterprises(session: Session, person_id: int) -> dict[int, list[str]]:
    """The enterprises a person may act for in person, at a window: those they are the legal
    representative of (every matter) and those they are a current agent of (their scope)."""
    out: dict[int, list[str]] = {
        int(e): ["*"]
        for e in session.scalars(select(Enterprise.id).where(Enterprise.legal_rep_id == person_id))
    }
    rows = session.execute(
        select(EnterpriseAgent.enterprise_id, EnterpriseAgent.scope).where(
            EnterpriseAgent.person_id == person_id,
            EnterpriseAgent.revoked_at.is_(None),
            EnterpriseAgent.expires_at > utcnow(),
        )
    )
    for enterprise_id, scope in rows:
        out.setdefault(int(enterprise_id), list(scope or []))
    return out


def agent_scope(session: Session, principal: Principal, enterprise_id: int) -> list[str]:
    """The matter kinds the caller may apply for on the enterprise's behalf (["*"]: all)."""
    scope = session.scalar(
        select(EnterpriseAgent.scope).where(
            EnterpriseAgent.enterprise_id == enterprise_id,
            EnterpriseAgent.person_id == principal.person_id,
            EnterpriseAgent.revoked_at.is_(None),
            EnterpriseAgent.expires_at > utcnow(),
        )
    )
    return list(scope or [])


def may_read(session: Session, principal: Principal, row: License) -> bool:
    """The holder, an agent of the holding enterprise, or an issuer of the department."""
    if row.person_id is not None and row.person_id == principal.person_id:
        return True
    if row.enterprise_id is not None and row.enterprise_id in agent_enterprises(session, principal):
        return True
    from tongban.catalog.models import Department

    department = session.scalar(select(Department.key).where(Department.id == row.issuer_id))
    return department in principal.bindings(Role.ISSUER)


def expiring(session: Session, type_keys: set[str], today: date, within_days: int) -> list[License]:
    """Current, valid licenses of these types whose validity ends within `within_days`."""
    type_ids = [license_type_facts(session, key).id for key in sorted(type_keys)]
    if not type_ids:
        return []
    return list(
        session.scalars(
            select(License)
            .where(
                License.type_id.in_(type_ids),
                License.current.is_(True),
                License.status == "01",
                License.valid_until.is_not(None),
                License.valid_until >= today,
                License.valid_until <= today + timedelta(days=within_days),
            )
            .order_by(License.valid_until)
        )
    )


def find_license(session: Session, identifier: str) -> License | None:
    """A license version by its identifier, for services that check it themselves."""
    return session.scalars(select(License).where(License.identifier == identifier)).first()


def read_license(session: Session, reg: Registry, principal: Principal, identifier: str) -> License:
    row = _by_identifier(session, identifier)
    if not may_read(session, principal, row):
        # The same answer as for a license that does not exist: identifiers are not secrets,
        # but whether one is in the registry for someone else is none of the caller's business.
        raise NotFound("license_not_found", "证照不存在", "No such license")
    return row


def history(session: Session, row: License) -> list[LicenseEvent]:
    """Every event of every version of this license, oldest first."""
    ids = select(License.id).where(
        License.serial == row.serial,
        License.type_id == row.type_id,
        License.issuer_id == row.issuer_id,
    )
    return list(
        session.scalars(
            select(LicenseEvent)
            .where(LicenseEvent.license_id.in_(ids))
            .order_by(LicenseEvent.at, LicenseEvent.id)
        )
    )


# -- verifying ---------------------------------------------------------------------------------


def trust_lists(session: Session, reg: Registry) -> dict[str, TrustList]:
    """This region's license keys, as the server itself uses them."""
    from tongban.crypto.signing import trusted_key

    def make() -> dict[str, TrustList]:
        keys = [
            trusted_key(r)
            for purpose in (LICENSE, "sdjwt")
            for r in reg.signing.published(session, purpose)
        ]
        root_kid, root = reg.signing.root(session)
        issued = int(time.time())
        region = reg.settings.region_code
        trust = TrustList(
            region_code=region,
            region_name=reg.settings.region_name,
            issued_at=issued,
            next_update=issued + reg.settings.trust_list_days * 86400,
            root_kid=root_kid,
            keys={k.kid: k for k in keys},
            root_key=root.public_key,
        )
        return {region: trust}

    lists: dict[str, TrustList] = reg.signing.cached("license-trust", make)
    return lists


def verify_registered(session: Session, reg: Registry, identifier: str) -> Verification:
    """Is the license with this identifier genuine and valid today? (Public: no personal data.)"""
    row = _by_identifier(session, identifier)
    return verify_document(
        document_of(session, reg, row), trust_lists(session, reg), today=today(), status=row.status
    )


def verify_presented(session: Session, reg: Registry, document: dict[str, Any]) -> Verification:
    """Check a license document someone holds: its signature, and its status in the registry."""
    status: str | None = None
    identifier = document.get("identifier") if isinstance(document, dict) else None
    if isinstance(identifier, str):
        status = session.scalar(select(License.status).where(License.identifier == identifier))
    result = verify_document(
        document, trust_lists(session, reg), today=today(), status=status or "01"
    )
    if status is None and result.valid:
        result.check("registered", False, "license_unknown", "not in this region's registry")
    return result


def status_list(session: Session, reg: Registry) -> dict[str, Any]:
    """Every license of the region that is not simply valid, signed by the region's root key."""

    def make() -> dict[str, Any]:
        rows = session.execute(
            select(License.identifier, License.status, License.status_changed_at).where(
                License.status != "01"
            )
        ).all()
        issued = int(time.time())
        document: dict[str, Any] = {
            "format": STATUS_FORMAT,
            "region_code": reg.settings.region_code,
            "issued_at": _iso(issued),
            "next_update": _iso(issued + 86400),
            "entries": {
                identifier: {"status": status, "since": changed.strftime("%Y-%m-%dT%H:%M:%SZ")}
                for identifier, status, changed in rows
            },
        }
        kid, root = reg.signing.root(session)
        return sign_document(document, kid, root)

    signed: dict[str, Any] = reg.signing.cached("license-status", make)
    return signed


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def load_status_list(document: dict[str, Any], trust: TrustList, *, now: int) -> dict[str, Any]:
    """A status list checked against the region's root key and its age."""
    import base64

    problem = None
    signature = document.get("signature") or {}
    try:
        raw = sm2.der_to_raw(base64.b64decode(str(signature.get("value", "")), validate=True))
    except ValueError:
        raw = b""
    if document.get("format") != STATUS_FORMAT or document.get("region_code") != trust.region_code:
        problem = "not a status list of this region"
    elif signature.get("key_id") != trust.root_kid or not sm2.verify(
        trust.root_key, signed_bytes(document), raw
    ):
        problem = "the root signature does not verify"
    elif now > int(
        datetime.strptime(str(document.get("next_update")), "%Y-%m-%dT%H:%M:%SZ")
        .replace(tzinfo=UTC)
        .timestamp()
    ):
        problem = "the status list is out of date"
    if problem:
        raise DomainError(
            code="status_list_invalid",
            title="证照状态列表无效或已过期",
            title_en="The status list is invalid or out of date",
            status=422,
            detail=problem,
        )
    return document


def holdings(
    session: Session, person_id: int | None, enterprise_id: int | None
) -> list[dict[str, Any]]:
    """What a hall's window sees of a holder's licenses after a check-in: no content, only
    which licenses there are and whether they are valid."""
    from tongban.catalog.models import LicenseType

    query = (
        select(License.identifier, LicenseType.name, License.status, License.valid_until)
        .join(LicenseType, LicenseType.id == License.type_id)
        .where(License.current.is_(True))
    )
    if person_id is not None:
        query = query.where(License.person_id == person_id)
    elif enterprise_id is not None:
        query = query.where(License.enterprise_id == enterprise_id)
    else:
        return []
    return [
        {
            "identifier": identifier,
            "type_name": name,
            "status": status,
            "valid_until": until.isoformat() if until else None,
        }
        for identifier, name, status, until in session.execute(query.order_by(License.id))
    ]


def license_pdf(
    session: Session, reg: Registry, row: License, watermark: str | None = None
) -> bytes:
    """The printable license, with a QR signed by the issuing department's current key."""
    from tongban.licenses.document import STATUS_LABELS, qr_payload
    from tongban.licenses.render import license_pdf as render_pdf

    document = document_of(session, reg, row)
    facts = license_type_facts(session, document["type"]["key"])
    kid, signer = reg.signing.signer(session, LICENSE, f"dept:{facts.department_key}")
    labels = {k: e.label for k, e in facts.fields.items()}
    return render_pdf(
        document,
        labels,
        STATUS_LABELS.get(row.status, row.status),
        qr_payload(row.identifier, kid, signer),
        watermark,
    )


def enterprise_acted_for(session: Session, principal: Principal, uscc: str) -> int:
    """The id of the enterprise with this credit code, if the caller is its current agent."""
    enterprise_id = session.scalar(
        select(Enterprise.id).where(Enterprise.uscc == uscc.strip().upper())
    )
    if enterprise_id is None or enterprise_id not in agent_enterprises(session, principal):
        raise DomainError(
            code="not_enterprise_agent",
            title="您不是该企业的有效经办人",
            title_en="You are not a current agent of this enterprise",
            status=403,
        )
    return int(enterprise_id)


CREDENTIAL_DAYS = 30


def issue_credential(
    session: Session, reg: Registry, principal: Principal, identifier: str
) -> tuple[str, list[str]]:
    """An SD-JWT credential of one of the caller's valid licenses, and the fields it can show."""
    from tongban.licenses import sdjwt

    row = _by_identifier(session, identifier)
    own = (row.person_id is not None and row.person_id == principal.person_id) or (
        row.enterprise_id is not None and row.enterprise_id in agent_enterprises(session, principal)
    )
    if not own:
        raise NotFound("license_not_found", "您没有这个证照", "You hold no such license")
    if row.status != "01" or not row.current:
        raise DomainError(
            code="license_not_valid",
            title="只能为有效的证照生成凭证",
            title_en="Only a valid, current license can become a credential",
            status=409,
        )
    document = document_of(session, reg, row)
    department = document["issuer"]["department"]
    kid, key = reg.signing.es256_key(session, f"dept:{department}")
    now = int(time.time())
    ttl = CREDENTIAL_DAYS * 86400
    if row.valid_until is not None:
        end = datetime.combine(row.valid_until, datetime.max.time(), CHINA)
        ttl = max(60, min(ttl, int(end.timestamp()) - now))
    credential = sdjwt.issue(document, kid, key, now=now, ttl=ttl)
    return credential, ["holder_name", "holder_id", *document["content"]]


def verify_credential(session: Session, reg: Registry, presentation: str) -> dict[str, Any]:
    """A presentation checked (signature, expiry, every disclosure) and the license's status."""
    from tongban.licenses import sdjwt

    result = sdjwt.verify(presentation, trust_lists(session, reg), now=int(time.time()))
    identifier = (result.get("license") or {}).get("identifier")
    status = session.scalar(select(License.status).where(License.identifier == str(identifier)))
    result["status"] = status
    result["valid"] = status == "01"
    return result


def wallet(session: Session, principal: Principal) -> list[License]:
    """The current licenses the caller holds, and those of the enterprises they act for."""
    rows = holder_licenses(session, person_id=principal.person_id) if principal.person_id else []
    for enterprise_id in agent_enterprises(session, principal):
        rows += holder_licenses(session, enterprise_id=enterprise_id)
    return rows
