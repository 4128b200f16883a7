"""免提交: for a matter and an applicant, where each material comes from — a valid license in
the registry (the applicant's own, or their enterprise's), a department's shared data — or why
the applicant must hand it in after all."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tongban.catalog.models import LicenseType
from tongban.catalog.service import MaterialFacts, matter_materials_facts
from tongban.common.regions import region_name
from tongban.licenses import recognized
from tongban.licenses.document import STATUS_LABELS
from tongban.licenses.models import License, PeerLicense


@dataclass(frozen=True)
class Applicant:
    person_id: int | None
    enterprise_id: int | None  # when acting for an enterprise


@dataclass(frozen=True)
class Resolution:
    key: str
    name: str
    required: bool
    resolution: str  # license | department | upload
    reason: str
    detail: str
    identifier: str | None = None
    region: str | None = None  # a license another region issued (互认)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def resolve_materials(
    session: Session, matter_code: str, applicant: Applicant, today: date
) -> list[Resolution]:
    facts = matter_materials_facts(session, matter_code)
    held = _held_licenses(session, facts.materials, applicant)
    missing = {
        m.license_type_key
        for m in facts.materials
        if m.license_type_key and not _valid(held.get(m.license_type_key), today)
    }
    peers = recognized.usable_for(session, applicant.person_id, applicant.enterprise_id, missing)
    return [_resolve(m, held, peers, today) for m in facts.materials]


def _valid(row: License | None, today: date) -> bool:
    return (
        row is not None
        and row.status == "01"
        and (row.valid_until is None or row.valid_until >= today)
    )


def _held_licenses(
    session: Session, materials: list[MaterialFacts], applicant: Applicant
) -> dict[str, License]:
    """The applicant's current licenses of the types the materials name, by type key: one
    indexed query per holder, whatever the registry's size."""
    types = {m.license_type_key for m in materials if m.license_type_key}
    if not types:
        return {}
    held: dict[str, License] = {}
    for column, holder_id in (
        (License.person_id, applicant.person_id),
        (License.enterprise_id, applicant.enterprise_id),
    ):
        if holder_id is None:
            continue
        rows = session.execute(
            select(LicenseType.key, License)
            .join(LicenseType, LicenseType.id == License.type_id)
            .where(column == holder_id, License.current.is_(True), LicenseType.key.in_(types))
            .order_by(License.issued_on)
        ).all()
        for key, row in rows:
            # A valid one wins over one that is not; among equals, the newest.
            if key not in held or row.status == "01" or held[key].status != "01":
                held[key] = row
    return held


def _answer(
    m: MaterialFacts, resolution: str, reason: str, detail: str, identifier: str | None = None
) -> Resolution:
    return Resolution(m.key, m.name, m.required, resolution, reason, detail, identifier)


def _resolve(
    m: MaterialFacts, held: dict[str, License], peers: dict[str, PeerLicense], today: date
) -> Resolution:
    if m.source == "license" and m.license_type_key:
        name = m.license_type_name
        row = held.get(m.license_type_key)
        peer = peers.get(m.license_type_key)
        if not _valid(row, today) and peer is not None and recognized.is_usable(peer, today):
            detail = (
                f"已从{region_name(peer.region_code)}电子证照库调取「{peer.type_name}」"
                "（长三角互认），免于提交"
            )
            return Resolution(
                m.key,
                m.name,
                m.required,
                "license",
                "found_peer",
                detail,
                peer.identifier,
                peer.region_code,
            )
        if row is None:
            return _answer(
                m, "upload", "no_license", f"电子证照库中没有您的「{name}」，请提交或先申领"
            )
        if row.status != "01" or (row.valid_until is not None and row.valid_until < today):
            status = STATUS_LABELS["05" if row.status == "01" else row.status]
            detail = f"您的「{name}」状态为{status}，请提交有效证明"
            return _answer(m, "upload", "license_not_valid", detail, row.identifier)
        detail = f"已从电子证照库调取「{name}」，免于提交"
        return _answer(m, "license", "found", detail, row.identifier)
    if m.source == "department" and m.exempt:
        detail = f"由{m.department_name}通过数据共享提供，受理时调取，免于提交"
        return _answer(m, "department", "data_sharing", detail)
    if m.source == "department":
        detail = f"由{m.department_name}出具，不在本市数据共享范围，需申请人提交"
        return _answer(m, "upload", "issued_outside", detail)
    return _answer(m, "upload", "applicant_provides", "由申请人提交")
