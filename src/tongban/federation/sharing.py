"""Licenses and records shared between regions: a region asks another for a person's
licenses (or record) only under that person's consent, given where they ask; the other
region checks the consent, answers only the agreed types, and logs each disclosure where the
person can see it. A license of another region is checked against that region's trust list
before it counts here (互认), and every use of it in a case is told to the issuing region.

Requests (answered at once): data.lookup, license.verify.
Messages: license.used, consent.withdrawn (stream "licenses" / "consents").
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from tongban.audit.service import record
from tongban.catalog.service import license_type_codes
from tongban.common.regions import region_name, region_of_uscc
from tongban.crypto.trustlist import TrustList
from tongban.db import utcnow
from tongban.errors import DomainError, FieldError, NotFound, validation_failed
from tongban.federation import envelope as env
from tongban.federation import service as messages
from tongban.federation.envelope import Envelope
from tongban.federation.handlers import on_message, on_request
from tongban.federation.models import Peer, ReceivedConsent, SharingConsent
from tongban.federation.peers import (
    FORCED_REFRESH_SECONDS,
    Federation,
    PeerUnavailable,
    active_peer,
    agreed_types,
    agreements,
    fetch_trust_list,
    peer_trust,
)
from tongban.federation.schemas import (
    ConsentCreate,
    ConsentWithdrawnIn,
    LicenseUsedIn,
    LookupIn,
    VerifyIn,
)
from tongban.identity.models import Person
from tongban.identity.service import Principal, find_person_by_id_number
from tongban.licenses import recognized
from tongban.licenses import service as licenses
from tongban.licenses.document import verify_document
from tongban.licenses.identifier import InvalidIdentifier, parse_identifier
from tongban.licenses.models import PeerLicense
from tongban.licenses.service import Registry
from tongban.notify.service import notify

# -- checking a license of any region we trust -------------------------------------------------


@dataclass(frozen=True)
class Checked:
    identifier: str
    region: str  # the issuing region
    type_name: str
    local_type_key: str | None  # the type it counts as here (None: not agreed)
    holder_id: str


def checked_license(
    session: Session,
    fed: Federation,
    document: Mapping[str, Any],
    peers: Mapping[str, TrustList],
    *,
    fetch: bool = True,
) -> Checked:
    """A license document, ours or a trusted peer's, checked in full: signature by a key of
    the issuing region's list, validity, and its status (ours from the registry; a peer's
    from its status list as last fetched, else as the peer's signed message vouches).

    A department of the peer may have signed with a key newer than our copy of its list (made
    at its first license): its current list, pinned to the same root, decides — fetched here
    (`fetch`), or, while a message is being applied (no waiting on a peer inside that
    transaction), by raising RefreshNeeded so the list is fetched after it and the message
    applied again; a key still unknown then is unknown."""
    lists = {**licenses.trust_lists(session, fed.registry), **peers}
    first = verify_document(document, lists, today=licenses.today(), status=None)
    if first.reason == "license_unknown_key":
        region = issuing_region(str(document.get("identifier", "")))
        if fetch:
            lists = {**lists, **_current_lists(session, fed, document, peers)}
            first = verify_document(document, lists, today=licenses.today(), status=None)
        elif region is not None and region in peers and not _fetched_lately(fed, region):
            raise messages.RefreshNeeded(region)
    region = first.region
    if not first.valid or region is None:
        raise _not_accepted(first.reason or "license_invalid")
    identifier = str(document["identifier"])
    type_code = str(document["type"]["code"])
    if region == fed.region:
        row = licenses.find_license(session, identifier)
        status = row.status if row is not None else None
        local = {code: key for key, code in license_type_codes(session).items()}.get(type_code)
    else:
        status = _peer_status(session, region, identifier)
        local = agreed_types(session, region).get(type_code)
    if status is None:
        raise _not_accepted("license_unknown")
    result = verify_document(document, lists, today=licenses.today(), status=status)
    if not result.valid:
        raise _not_accepted(result.reason or "license_invalid")
    return Checked(
        identifier=identifier,
        region=region,
        type_name=str(document["type"]["name"]),
        local_type_key=local,
        holder_id=str((document.get("holder") or {}).get("id", "")),
    )


def _fetched_lately(fed: Federation, region: str | None) -> bool:
    last = fed.forced_refresh.get(region or "")
    return last is not None and time.monotonic() - last < FORCED_REFRESH_SECONDS


def _current_lists(
    session: Session, fed: Federation, document: Mapping[str, Any], peers: Mapping[str, TrustList]
) -> dict[str, TrustList]:
    """The issuing peer's trust list as it is now (not stored: the worker refreshes it)."""
    region = issuing_region(str(document.get("identifier", "")))
    peer = session.get(Peer, region) if region in peers else None
    if peer is None:
        return {}
    try:
        _, fresh = fetch_trust_list(fed, peer.url, peer.root_fingerprint)
    except DomainError:
        return {}
    return {region: fresh} if fresh.region_code == region else {}


def _peer_status(session: Session, region: str, identifier: str) -> str:
    peer = session.get(Peer, region)
    entries = (peer.status_list or {}).get("entries", {}) if peer is not None else {}
    entry = entries.get(identifier)
    return str(entry["status"]) if isinstance(entry, Mapping) else "01"


def _not_accepted(reason: str) -> DomainError:
    return DomainError(
        code="license_not_accepted",
        title="电子证照核验未通过",
        title_en="The license did not verify",
        status=422,
        detail=reason,
    )


def license_documents(
    session: Session, reg: Registry, materials: list[dict[str, Any]], peer_region: str
) -> list[dict[str, Any]]:
    """The licenses that proved a case's materials, for the region that handles it: only
    those it can check and has agreed to recognize (its own, and ours of agreed types)."""
    ours_agreed = set(agreed_types(session, peer_region).values())
    out = []
    for m in materials:
        identifier = m.get("identifier")
        if m.get("resolution") != "license" or not identifier:
            continue
        own = licenses.find_license(session, str(identifier))
        if own is not None:
            if _type_key(session, own) in ours_agreed:
                out.append(
                    {"material": m["key"], "document": licenses.document_of(session, reg, own)}
                )
            continue
        peer = recognized.find(session, str(identifier))
        if peer is not None and peer.region_code == peer_region:
            out.append(
                {"material": m["key"], "document": recognized.document_of(session, reg, peer)}
            )
    return out


def _type_key(session: Session, row: Any) -> str:
    from tongban.catalog.models import LicenseType

    return str(session.scalar(select(LicenseType.key).where(LicenseType.id == row.type_id)))


# -- consents, given here ----------------------------------------------------------------------


def give_consent(session: Session, principal: Principal, req: ConsentCreate) -> SharingConsent:
    """The person lets this region fetch their licenses (and record) from a peer region. The
    same consent again (a retry, a second click) is the one already given, while it lasts."""
    if principal.person_id is None:
        raise DomainError(
            code="no_person",
            title="该账号不能授权",
            title_en="This account cannot consent",
            status=403,
        )
    active_peer(session, req.region)
    earlier = session.scalars(
        select(SharingConsent).where(
            SharingConsent.person_id == principal.person_id,
            SharingConsent.peer_region == req.region,
            SharingConsent.purpose == req.purpose.strip(),
            SharingConsent.with_record.is_(req.with_record),
            SharingConsent.withdrawn_at.is_(None),
            SharingConsent.expires_at > utcnow(),
        )
    ).first()
    if earlier is not None:
        return earlier
    consent = SharingConsent(
        id=env.new_id(),
        person_id=principal.person_id,
        account_id=principal.account_id,
        peer_region=req.region,
        with_record=req.with_record,
        purpose=req.purpose.strip(),
        expires_at=utcnow() + timedelta(days=req.days),
        created_at=utcnow(),
    )
    session.add(consent)
    session.flush()
    record(
        session,
        actor=f"account:{principal.account_id}",
        action="federation.consent_given",
        subject_type="region",
        subject_id=req.region,
        data_subject=principal.person_id,
        reason=consent.purpose,
        details={"consent": consent.id, "days": req.days, "record": req.with_record},
    )
    return consent


def consents_of(session: Session, principal: Principal) -> list[SharingConsent]:
    if principal.person_id is None:
        return []
    return list(
        session.scalars(
            select(SharingConsent)
            .where(SharingConsent.person_id == principal.person_id)
            .order_by(SharingConsent.created_at.desc())
        )
    )


def _own_consent(session: Session, principal: Principal, consent_id: str) -> SharingConsent:
    consent = session.get(SharingConsent, consent_id)
    if consent is None or consent.person_id != principal.person_id:
        raise NotFound("consent_not_found", "授权不存在", "No such consent")
    return consent


def withdraw_consent(
    session: Session, reg: Registry, principal: Principal, consent_id: str
) -> SharingConsent:
    """The consent ends here at once, and the peer is told (it refuses it from then on)."""
    consent = _own_consent(session, principal, consent_id)
    if consent.withdrawn_at is None:
        consent.withdrawn_at = utcnow()
        messages.enqueue(
            session,
            reg,
            consent.peer_region,
            "consent.withdrawn",
            "consents",
            {"consent": consent.id},
        )
    return consent


@dataclass(frozen=True)
class Fetched:
    kept: list[PeerLicense]
    record: dict[str, Any] | None
    not_shared: list[str]


def fetch_from_peer(
    session: Session, fed: Federation, principal: Principal, consent_id: str
) -> Fetched:
    """Under the person's consent: their licenses of the agreed types from the peer, each
    checked against the peer's trust list and kept for them here (互认)."""
    consent = _own_consent(session, principal, consent_id)
    if consent.withdrawn_at is not None or consent.expires_at <= utcnow():
        raise DomainError(
            code="consent_inactive",
            title="该授权已撤回或已过期，请重新授权",
            title_en="The consent was withdrawn or has expired",
            status=409,
        )
    person = session.get(Person, consent.person_id)
    assert person is not None
    id_number = fed.registry.keyring.decrypt(session, "person.id_number", person.id_number_enc)
    types = sorted(agreed_types(session, consent.peer_region))
    answer = messages.request(
        session,
        fed,
        consent.peer_region,
        "data.lookup",
        {
            "consent": {
                "id": consent.id,
                "person": {"name": person.name, "id_number": id_number},
                "purpose": consent.purpose,
                "given_at": consent.created_at.isoformat(),
                "expires_at": consent.expires_at.isoformat(),
            },
            "types": types,
            "record": consent.with_record,
        },
    )
    trust = peer_trust(active_peer(session, consent.peer_region), int(time.time()))
    kept = []
    for document in answer.get("licenses") or []:
        checked = checked_license(session, fed, document, {consent.peer_region: trust})
        if checked.holder_id != id_number or checked.region != consent.peer_region:
            continue  # not theirs, or not the peer's: nothing we asked for
        kept.append(
            recognized.keep(
                session,
                fed.registry,
                document,
                region=checked.region,
                holder=recognized.Holder(person.id, None),
                local_type_key=checked.local_type_key,
                source="shared",
            )
        )
    record(
        session,
        actor=f"account:{principal.account_id}",
        action="federation.fetched",
        subject_type="region",
        subject_id=consent.peer_region,
        data_subject=person.id,
        reason=consent.purpose,
        details={"consent": consent.id, "licenses": [k.identifier for k in kept]},
    )
    found = answer.get("record")
    return Fetched(
        kept, found if isinstance(found, dict) else None, list(answer.get("not_shared") or [])
    )


# -- answering a peer's look-up -----------------------------------------------------------------


def _refuse(code: str, title: str, title_en: str, status: int = 409) -> DomainError:
    return DomainError(code=code, title=title, title_en=title_en, status=status)


@on_request("data.lookup")
def _answer_lookup(
    session: Session, fed: Federation, peer: Peer, envelope: Envelope
) -> dict[str, Any]:
    """The person's licenses of the agreed types (and base record, if we agreed to share
    records with this peer), under the consent the asking region says it was given.

    We cannot see the person agree: we rely on the asking region's signed word, as we rely on
    its identification of an applicant. What bounds it: a consent lives at most a year and is
    bound to one person; a withdrawal the asking region tells us of is final; only agreed
    types leave; and every disclosure is told to the person here (their inbox and data-usage
    list), so a consent nobody gave is seen by the one it names."""
    try:
        body = LookupIn.model_validate(envelope.body)
    except ValidationError as exc:
        raise validation_failed([FieldError("body", "请求内容无法识别", "invalid")]) from exc
    consent = body.consent
    now = utcnow()
    if (
        consent.expires_at <= now
        or consent.given_at > now + timedelta(minutes=5)
        or consent.expires_at > consent.given_at + timedelta(days=366)
    ):
        raise _refuse("consent_expired", "授权已过期或期限无效", "The consent is out of date")
    received = _received_consent(session, peer, body)
    if received.withdrawn_at is not None:
        raise _refuse("consent_withdrawn", "本人已撤回授权", "The person withdrew the consent")
    person = find_person_by_id_number(session, fed.registry.keyring, consent.person.id_number)
    if person is None or person.name != consent.person.name:
        # Said as "nothing to share", not "no such person": the answer is no test of who
        # lives here.
        return {"licenses": [], "not_shared": [], "record": None}
    if received.person_id not in (None, person.id):
        raise _refuse("consent_mismatch", "授权不属于此人", "The consent was given by someone else")
    received.person_id = person.id
    received.uses += 1
    codes = license_type_codes(session)
    shared = {a.local_type_key for a in agreements(session, peer.region_code)}
    by_code = {code: key for key, code in codes.items() if key in shared}
    wanted = {by_code[c] for c in body.types if c in by_code}
    rows = [
        r
        for r in licenses.holder_licenses(session, person_id=person.id)
        if r.status == "01" and _type_key(session, r) in wanted
    ]
    for r in rows:
        _record_for_peer(
            session,
            peer,
            action="license.shared_with_region",
            subject_type="license",
            subject_id=r.identifier,
            data_subject=person.id,
            reason=f"{peer.name}：{consent.purpose}",
            details={"consent": consent.id},
        )
    record_shared = (
        body.record
        and peer.share_records
        # Only what our own registry holds: a person another region recorded here (as it
        # identified them) is not ours to vouch for.
        and not (person.real_name_provider or "").startswith("region:")
    )
    answer: dict[str, Any] = {
        "licenses": [licenses.document_of(session, fed.registry, r) for r in rows],
        "not_shared": sorted(c for c in body.types if c not in by_code),
        "record": _record_of(session, fed, peer, person, consent.purpose)
        if record_shared
        else None,
    }
    if rows or record_shared:
        notify(
            session,
            person.id,
            f"region:{peer.region_code}",
            f"{peer.name}调取了您的数据",
            f"经您在{peer.name}的授权（{consent.purpose}），本地区向其提供了"
            + "、".join(
                [licenses_type_name(session, r) for r in rows]
                + (["户籍信息"] if record_shared else [])
            )
            + "。如非本人授权，请拨打政务服务热线。",
            sms=False,
        )
    return answer


def licenses_type_name(session: Session, row: Any) -> str:
    from tongban.catalog.models import LicenseType

    return str(session.scalar(select(LicenseType.name).where(LicenseType.id == row.type_id)))


def _received_consent(session: Session, peer: Peer, body: LookupIn) -> ReceivedConsent:
    consent = body.consent
    row = session.scalars(
        select(ReceivedConsent).where(
            ReceivedConsent.peer_region == peer.region_code,
            ReceivedConsent.consent_id == consent.id,
        )
    ).first()
    if row is None:
        row = ReceivedConsent(
            peer_region=peer.region_code,
            consent_id=consent.id,
            purpose=consent.purpose,
            expires_at=consent.expires_at,
            uses=0,
            first_seen_at=utcnow(),
        )
        session.add(row)
        session.flush()
    return row


def _record_for_peer(session: Session, peer: Peer, action: str, **entry: Any) -> None:
    """An audit entry of something a peer region did here: the region is the actor, so the
    person sees which region used their data and why."""
    record(
        session,
        actor=f"region:{peer.region_code}",
        actor_role="region_peer",
        action=action,
        **entry,
    )


def _record_of(
    session: Session, fed: Federation, peer: Peer, person: Person, purpose: str
) -> dict[str, Any]:
    """The person's base record (人口库): what the asking region may show them and prefill."""
    _record_for_peer(
        session,
        peer,
        action="person.record_shared_with_region",
        subject_type="person",
        subject_id=str(person.id),
        data_subject=person.id,
        reason=f"{peer.name}：{purpose}",
    )
    address = (
        fed.registry.keyring.decrypt(session, "person.address", person.address_enc)
        if person.address_enc
        else None
    )
    return {
        "person.name": person.name,
        "person.gender": person.gender,
        "person.birth_date": person.birth_date.isoformat(),
        "person.address": address,
        "region": fed.region,
    }


@on_message("consent.withdrawn", ordered=False)
def _on_consent_withdrawn(
    session: Session, fed: Federation, peer: Peer, envelope: Envelope
) -> None:
    body = ConsentWithdrawnIn.model_validate(envelope.body)
    row = session.scalars(
        select(ReceivedConsent).where(
            ReceivedConsent.peer_region == peer.region_code,
            ReceivedConsent.consent_id == body.consent,
        )
    ).first()
    if row is None:  # never used here: remember it, so it is never accepted
        row = ReceivedConsent(
            peer_region=peer.region_code,
            consent_id=body.consent,
            purpose="",
            expires_at=utcnow(),
            uses=0,
            first_seen_at=utcnow(),
        )
        session.add(row)
    row.withdrawn_at = row.withdrawn_at or utcnow()


# -- verifying a peer's license by its identifier ----------------------------------------------


def issuing_region(identifier: str) -> str | None:
    """The region whose department issued the license (its issuer code says)."""
    try:
        return region_of_uscc(parse_identifier(identifier).issuer)
    except InvalidIdentifier:
        return None


def issued_elsewhere(fed: Federation, document: Any) -> bool:
    """Whether a presented document names an issuer of another region."""
    identifier = document.get("identifier") if isinstance(document, Mapping) else None
    region = issuing_region(identifier) if isinstance(identifier, str) else None
    return region is not None and region != fed.region


def verify_presented(session: Session, fed: Federation, document: Any) -> dict[str, Any]:
    """A license document of another region, checked here against that region's pinned
    trust list, its status from that region's signed status list (when we have a current one:
    otherwise the answer says the status was not checked)."""
    identifier = str(document.get("identifier"))
    region = issuing_region(identifier)
    peer = session.get(Peer, region) if region else None
    now = int(time.time())
    lists: dict[str, TrustList] = {}
    status: str | None = None
    if peer is not None and peer.active:
        try:
            lists = {peer.region_code: peer_trust(peer, now)}
        except DomainError:
            lists = {}
        if lists and peer.status_list is not None and _status_list_current(peer.status_list, now):
            status = _peer_status(session, peer.region_code, identifier)
    result = verify_document(document, lists, today=licenses.today(), status=status)
    answer = result.as_dict()
    answer.update(
        region=region,
        region_name=region_name(region) if region else None,
        verified_by="trust_list",
    )
    return answer


def _status_list_current(status_list: Mapping[str, Any], now: int) -> bool:
    due = env.epoch(status_list.get("next_update"))
    return due is not None and now <= due


def verify_elsewhere(session: Session, fed: Federation, identifier: str) -> dict[str, Any]:
    """`GET /licenses/{identifier}/verify` for a license another region issued: that region
    checks its registry's copy and signs the answer (no personal data moves); the answer
    names the issuing region."""
    region = issuing_region(identifier)
    peer = session.get(Peer, region) if region else None
    if peer is None or not peer.active:
        raise NotFound("license_not_found", "证照不存在", "No such license")
    cached = _VERIFIED.get((peer.region_code, identifier))
    if cached is not None and time.monotonic() - cached[0] < VERIFIED_FOR_SECONDS:
        return dict(cached[1])
    answer = messages.request(
        session, fed, peer.region_code, "license.verify", {"identifier": identifier}
    )
    verification = _verdict(answer.get("verification"), peer.region_code)
    if len(_VERIFIED) > 10_000:
        _VERIFIED.clear()
    _VERIFIED[(peer.region_code, identifier)] = (time.monotonic(), verification)
    return dict(verification)


# The issuing region's verdicts, kept a minute per process: a page refreshed or a QR scanned
# twice asks the peer once (and logs once for the holder there).
VERIFIED_FOR_SECONDS = 60.0
_VERIFIED: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}


def _verdict(found: Any, region: str) -> dict[str, Any]:
    """The peer's verdict in our answer's shape, only the members we know, of their types."""
    if not isinstance(found, Mapping) or not isinstance(found.get("valid"), bool):
        raise PeerUnavailable(region, "the verdict does not read")
    checks = [
        {"check": str(c.get("check", ""))[:60], "ok": bool(c.get("ok")),
         "detail": str(c.get("detail", ""))[:200]}
        for c in found.get("checks") or []
        if isinstance(c, Mapping)
    ][:20]  # fmt: skip
    status, reason = found.get("status"), found.get("reason")
    return {
        "valid": found["valid"],
        "status": str(status)[:2] if status is not None else None,
        "reason": str(reason)[:60] if reason is not None else None,
        "checks": checks,
        "region": region,
        "region_name": region_name(region),
        "verified_by": "issuing_region",
    }


@on_request("license.verify")
def _answer_verify(
    session: Session, fed: Federation, peer: Peer, envelope: Envelope
) -> dict[str, Any]:
    try:
        body = VerifyIn.model_validate(envelope.body)
    except ValidationError as exc:
        raise validation_failed(
            [FieldError("identifier", "证照标识格式不正确", "invalid")]
        ) from exc
    result = licenses.verify_registered(session, fed.registry, body.identifier)
    row = licenses.find_license(session, body.identifier)
    if row is not None and row.person_id is not None:
        _record_for_peer(
            session,
            peer,
            action="license.verified_for_region",
            subject_type="license",
            subject_id=body.identifier,
            data_subject=row.person_id,
            reason=f"{peer.name}核验证照真伪",
        )
    return {"verification": result.as_dict()}


# -- a peer's license used in a case here ------------------------------------------------------


def peer_licenses_used(session: Session, reg: Registry, case: Any) -> None:
    """A case handed in here on another region's licenses: the use is logged here and told
    to the issuing region, which logs it for the holder there too."""
    for m in case.materials:
        if m.get("reason") != "found_peer" or not m.get("identifier"):
            continue
        row = recognized.find(session, str(m["identifier"]))
        if row is None or row.region_code == case.remote_region:
            continue  # the handling region sees its own license in the case it receives
        purpose = f"办理{case.matter_name}"
        record(
            session,
            actor="system",
            action="license.peer_used",
            subject_type="license",
            subject_id=row.identifier,
            data_subject=case.person_id,
            reason=f"{purpose}（{region_name(row.region_code)}电子证照，长三角互认）",
        )
        if session.get(Peer, row.region_code) is not None:
            messages.enqueue(
                session,
                reg,
                row.region_code,
                "license.used",
                "licenses",
                {"identifier": row.identifier, "purpose": purpose, "case_number": case.number},
            )


@on_message("license.used", ordered=False)
def _on_license_used(session: Session, fed: Federation, peer: Peer, envelope: Envelope) -> None:
    body = LicenseUsedIn.model_validate(envelope.body)
    row = licenses.find_license(session, body.identifier)
    if row is None:
        return
    _record_for_peer(
        session,
        peer,
        action="license.used_by_region",
        subject_type="license",
        subject_id=row.identifier,
        data_subject=row.person_id,
        reason=f"{peer.name}：{body.purpose}"
        + (f"（{body.case_number}）" if body.case_number else ""),
    )
