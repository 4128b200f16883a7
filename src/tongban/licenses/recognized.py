"""互认: licenses other regions issued, as this registry keeps them for their holders here.

Each one was checked against its region's trust list when it came (`federation` fetches and
checks); what is kept is the signed document (encrypted), its status as the issuing region
last said, and which of our license types it counts as under the agreed list. It satisfies a
material (免提交) only while it is valid, its status is recent, and the types are agreed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tongban.db import utcnow
from tongban.errors import DomainError
from tongban.identity.models import Enterprise
from tongban.identity.service import find_person_by_id_number
from tongban.licenses.document import epoch_of
from tongban.licenses.models import PeerLicense
from tongban.licenses.service import Registry
from tongban.licenses.service import today as licenses_today

PEER_DOCUMENT = "license.peer_document"
# A status older than this is not relied on: the issuing region's status list is refreshed
# hourly and lives a day, so two days without news means we cannot say it is still valid.
STATUS_FRESH = timedelta(days=2)


@dataclass(frozen=True)
class Holder:
    person_id: int | None
    enterprise_id: int | None


def holder_here(session: Session, reg: Registry, document: Mapping[str, Any]) -> Holder | None:
    """Who here holds a license of another region: the person with its holder's ID number,
    or the enterprise with its credit code; None if nobody here."""
    holder = document.get("holder") or {}
    if holder.get("kind") == "enterprise":
        found = session.scalar(
            select(Enterprise.id).where(Enterprise.uscc == str(holder.get("id", "")))
        )
        return Holder(None, int(found)) if found is not None else None
    person = find_person_by_id_number(session, reg.keyring, str(holder.get("id", "")))
    return Holder(person.id, None) if person is not None else None


def keep(
    session: Session,
    reg: Registry,
    document: Mapping[str, Any],
    *,
    region: str,
    holder: Holder,
    local_type_key: str | None,
    source: str,
    status: str = "01",
    status_at: datetime | None = None,
) -> PeerLicense:
    """Keep a checked license of another region for its holder here (again: refreshed)."""
    identifier = str(document["identifier"])
    # Sealed first: the keyring reads its key from the database, which would flush a row
    # still being filled in.
    sealed = reg.keyring.encrypt(session, PEER_DOCUMENT, json.dumps(document, ensure_ascii=False))
    row = session.scalars(select(PeerLicense).where(PeerLicense.identifier == identifier)).first()
    if row is None:
        row = PeerLicense(identifier=identifier, source=source, document_enc=sealed)
        session.add(row)
    elif (row.person_id, row.enterprise_id) != (holder.person_id, holder.enterprise_id):
        raise DomainError(
            code="peer_license_held_by_another",
            title="该证照已登记在他人名下",
            title_en="This license is kept for another holder",
            status=409,
        )
    kind = str((document.get("holder") or {}).get("kind", "person"))
    row.region_code = region
    row.type_code = str(document["type"]["code"])
    row.type_name = str(document["type"]["name"])
    row.local_type_key = local_type_key
    row.holder_kind = kind
    row.person_id, row.enterprise_id = holder.person_id, holder.enterprise_id
    row.issuer_name = str(document["issuer"]["name"])
    row.valid_from = date.fromisoformat(str(document["valid_from"]))
    until = document.get("valid_until")
    row.valid_until = date.fromisoformat(str(until)) if until else None
    row.status = status
    row.status_at = status_at or utcnow()
    row.document_enc = sealed
    row.fetched_at = utcnow()
    session.flush()
    return row


def document_of(session: Session, reg: Registry, row: PeerLicense) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(
        reg.keyring.decrypt(session, PEER_DOCUMENT, row.document_enc)
    )
    return document


def find(session: Session, identifier: str) -> PeerLicense | None:
    return session.scalars(select(PeerLicense).where(PeerLicense.identifier == identifier)).first()


def held(session: Session, person_id: int | None, enterprise_ids: list[int]) -> list[PeerLicense]:
    """Other regions' licenses a person holds, and those of the enterprises they act for."""
    rows: list[PeerLicense] = []
    if person_id is not None:
        rows += session.scalars(
            select(PeerLicense)
            .where(PeerLicense.person_id == person_id)
            .order_by(PeerLicense.fetched_at.desc())
        )
    if enterprise_ids:
        rows += session.scalars(
            select(PeerLicense)
            .where(PeerLicense.enterprise_id.in_(enterprise_ids))
            .order_by(PeerLicense.fetched_at.desc())
        )
    return rows


def usable_for(
    session: Session, person_id: int | None, enterprise_id: int | None, types: set[str]
) -> dict[str, PeerLicense]:
    """The holder's peer licenses that count as our types `types`, by type key (a valid one
    wins, then the newest): one indexed query per holder."""
    found: dict[str, PeerLicense] = {}
    for column, holder_id in (
        (PeerLicense.person_id, person_id),
        (PeerLicense.enterprise_id, enterprise_id),
    ):
        if holder_id is None or not types:
            continue
        rows = session.scalars(
            select(PeerLicense)
            .where(column == holder_id, PeerLicense.local_type_key.in_(types))
            .order_by(PeerLicense.valid_from)
        )
        today = licenses_today()
        for row in rows:
            key = str(row.local_type_key)
            if key not in found or is_usable(row, today) or not is_usable(found[key], today):
                found[key] = row
    return found


def is_usable(row: PeerLicense, today: date) -> bool:
    """Valid today, by a status the issuing region gave recently."""
    return (
        row.status == "01"
        and row.valid_from <= today
        and (row.valid_until is None or today <= row.valid_until)
        and utcnow() - row.status_at <= STATUS_FRESH
    )


def recognize_types(session: Session, region: str, agreed: Mapping[str, str]) -> None:
    """After the agreed list changed: each of the region's licenses counts as the type the
    list now pairs with its type code, or as none."""
    for row in session.scalars(select(PeerLicense).where(PeerLicense.region_code == region)):
        row.local_type_key = agreed.get(row.type_code)
    session.flush()


def apply_status_list(session: Session, region: str, status_list: Mapping[str, Any]) -> int:
    """The issuing region's signed status list (already checked): every license of it we
    keep takes its status (a license not listed is valid) as of the list's issue. Returns how
    many changed."""
    entries = status_list.get("entries") or {}
    issued = epoch_of(status_list.get("issued_at"))
    if issued is None:
        raise DomainError(
            code="status_list_invalid",
            title="证照状态列表无效",
            title_en="The status list has no issue time",
            status=422,
        )
    at = datetime.fromtimestamp(issued, UTC)
    changed = 0
    for row in session.scalars(select(PeerLicense).where(PeerLicense.region_code == region)):
        entry = entries.get(row.identifier)
        status = str(entry["status"]) if isinstance(entry, Mapping) else "01"
        if status != row.status:
            changed += 1
        row.status = status
        row.status_at = max(row.status_at, at)
    session.flush()
    return changed


def set_status(session: Session, identifier: str, status: str) -> None:
    """What the issuing region just told us of one license (in an answer or a message)."""
    session.execute(
        update(PeerLicense)
        .where(PeerLicense.identifier == identifier)
        .values(status=status, status_at=utcnow())
    )
