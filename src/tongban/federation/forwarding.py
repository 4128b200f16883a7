"""异地代收代办 and 多地联办: a case accepted in one region for a matter another region
handles travels there as a signed message, is handled there by that region's own rules, and
each of its steps comes back, so the applicant follows it (and collects the result) where they
handed it in. A bundle's task that another region handles is such a case: its steps drive the
bundle here as a local task's do.

Messages on a case's stream `case:<exchange ref>` (a random reference the accepting region gives
the case when it forwards it: never reused, even by a database restored from a backup):
  accepting -> handling: case.forward, case.resubmit (补正 answered), case.delivered
  handling -> accepting: case.status (every change, with the license and results on
                         approval), case.refused (could not take it at all)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from tongban.audit.service import record
from tongban.cases import files
from tongban.cases import service as cases
from tongban.cases.models import Case, CaseFile, CounterVisit
from tongban.catalog.service import get_hall, matter_case_facts
from tongban.common.regions import region_name
from tongban.errors import DomainError
from tongban.federation import envelope as env
from tongban.federation import service as messages
from tongban.federation.envelope import Envelope, MessageRefused
from tongban.federation.handlers import before_sending, on_dead, on_message
from tongban.federation.models import Peer
from tongban.federation.peers import Federation, peer_principal, peer_trust
from tongban.federation.schemas import (
    DeliveredIn,
    FileIn,
    ForwardIn,
    LicenseIn,
    RefusedIn,
    ResubmitIn,
    StatusIn,
)
from tongban.federation.sharing import checked_license, license_documents
from tongban.identity.models import Enterprise, Person
from tongban.identity.service import NewPerson, create_person, find_person_by_id_number
from tongban.licenses import recognized
from tongban.licenses import service as licenses
from tongban.licenses.service import Registry


def _stream(ref: str) -> str:
    return f"case:{ref}"


# Refusals that a retry may cure (the peer's list out of date, our keys not loaded): the
# message is tried again, never answered with a refusal the applicant would see.
RETRYABLE = frozenset({"peer_trust_expired", "peer_unavailable", "keys_unavailable"})


def _retryable(exc: DomainError) -> bool:
    return isinstance(exc, MessageRefused) or exc.status >= 500 or exc.code in RETRYABLE


def case_moved(
    session: Session, reg: Registry, case: Case, action: str, before: str, reason: str | None
) -> None:
    """The hook of `cases.service`: what a step of a cross-region case sends, if anything."""
    if case.remote_region is not None:
        if action == "submit":
            _forward(session, reg, case)
        elif action == "resubmit":
            _resubmit(session, reg, case)
        elif action == "deliver":
            ref = _ref_of(case)
            messages.enqueue(
                session,
                reg,
                case.remote_region,
                "case.delivered",
                _stream(ref),
                {"case": ref, "detail": reason or "已送达"},
            )
    elif case.origin_region is not None and (before != case.status or action == "submit"):
        _tell_origin(session, reg, case, action, reason)


# -- the accepting region ----------------------------------------------------------------------


def _applicant(session: Session, reg: Registry, case: Case) -> dict[str, Any]:
    person = session.get(Person, case.person_id)
    assert person is not None
    return {
        "name": person.name,
        "id_number": reg.keyring.decrypt(session, "person.id_number", person.id_number_enc),
        "phone": (
            reg.keyring.decrypt(session, "person.phone", person.phone_enc)
            if person.phone_enc
            else None
        ),
    }


def _ref_of(case: Case) -> str:
    if case.exchange_ref is None:
        raise LookupError(f"case {case.id} was never forwarded")
    return case.exchange_ref


def _file_refs(session: Session, case: Case, since: Any = None) -> list[dict[str, Any]]:
    """The case's files (uploaded since a moment, if given) as references; they are read and
    sent inline when the message goes."""
    return [
        {
            "material": f.material_key,
            "filename": f.filename,
            "content_type": f.content_type,
            "sha256": f.sha256,
            "size": f.size,
            "file_id": f.id,
        }
        for f in files.files_of(session, case.id)
        if since is None or f.created_at >= since
    ]


def _inline_size(refs: list[dict[str, Any]]) -> int:
    return sum(int(r["size"]) for r in refs)


def _forward(session: Session, reg: Registry, case: Case) -> None:
    assert case.remote_region is not None
    facts = matter_case_facts(session, case.matter_code)
    visit = session.get(CounterVisit, case.visit_id) if case.visit_id else None
    hall = get_hall(session, case.hall_key) if case.hall_key else None
    enterprise = session.get(Enterprise, case.enterprise_id) if case.enterprise_id else None
    wanted = [k for k, _ in cases.results_wanted(session, case)]
    case.exchange_ref = case.exchange_ref or env.new_id()
    papers = _file_refs(session, case)
    body = {
        "id": case.exchange_ref,
        "number": case.number,
        "matter": facts.peer_code or facts.code,
        "matter_name": case.matter_name,
        "channel": case.channel,
        "hall": {"key": hall.code, "name": hall.name} if hall else None,
        "identified_by": visit.identified_by if visit else "online",
        "applicant": _applicant(session, reg, case),
        "enterprise": {"uscc": enterprise.uscc, "name": enterprise.name} if enterprise else None,
        "form": cases.form_of(session, reg, case),
        "delivery_method": case.delivery_method or "pickup",
        "delivery_address": cases.delivery_address(session, reg, case),
        "signed_at": case.signed_at.isoformat() if case.signed_at else None,
        "files": papers,
        "licenses": license_documents(session, reg, case.materials, case.remote_region),
        "results_wanted": wanted,
    }
    messages.enqueue(
        session,
        reg,
        case.remote_region,
        "case.forward",
        _stream(case.exchange_ref),
        body,
        inline_bytes=_inline_size(papers),
    )
    record(
        session,
        actor="system",
        action="case.forwarded",
        subject_type="case",
        subject_id=str(case.id),
        data_subject=case.person_id,
        reason=f"跨省通办：{case.matter_name}转{region_name(case.remote_region)}办理",
    )


def _resubmit(session: Session, reg: Registry, case: Case) -> None:
    """The answer to 补正: the form as corrected and the papers handed in since it was asked
    (the handling region has the earlier ones)."""
    assert case.remote_region is not None
    ref = _ref_of(case)
    papers = _file_refs(session, case, since=cases.correction_asked_at(session, case))
    body = {
        "id": ref,
        "form": cases.form_of(session, reg, case),
        "files": papers,
        "licenses": license_documents(session, reg, case.materials, case.remote_region),
    }
    messages.enqueue(
        session,
        reg,
        case.remote_region,
        "case.resubmit",
        _stream(ref),
        body,
        inline_bytes=_inline_size(papers),
    )


def _inline_files(session: Session, fed: Federation, body: dict[str, Any]) -> dict[str, Any]:
    """The stored body names the case's files; the message carries them."""
    out = []
    for ref in body.get("files") or []:
        row = session.get(CaseFile, int(ref["file_id"]))
        if row is None:
            raise LookupError(f"file {ref['file_id']} of the case is gone")
        data = files.read_file(session, fed.files, fed.registry.keyring, row)
        item = {k: v for k, v in ref.items() if k != "file_id"}
        out.append({**item, "data": base64.b64encode(data).decode()})
    return {**body, "files": out}


before_sending("case.forward")(_inline_files)
before_sending("case.resubmit")(_inline_files)


@on_message("case.status")
def _on_status(session: Session, fed: Federation, peer: Peer, envelope: Envelope) -> None:
    body = StatusIn.model_validate(envelope.body)
    case = cases.find_by_exchange_ref(session, body.case)
    if case is None or case.remote_region != peer.region_code:
        raise LookupError(f"case {body.case} is not handled by {peer.region_code} for us")
    identifier = None
    if body.license is not None:
        identifier = _keep_result(session, fed, peer, case, body.license)
    cases.apply_remote_step(
        session,
        fed.registry,
        case.id,
        peer.region_code,
        cases.RemoteStep(
            action=body.action,
            status=body.status,
            reason=body.reason,
            number=body.number,
            due_date=body.due_date,
            license_identifier=identifier,
            results=body.results,
        ),
    )


def _keep_result(
    session: Session, fed: Federation, peer: Peer, case: Case, document: dict[str, Any]
) -> str:
    """The license the handling region issued: checked against its trust list and kept for
    the applicant here (互认: it counts as ours where the types are agreed)."""
    trust = peer_trust(peer, int(time.time()))
    checked = checked_license(session, fed, document, {peer.region_code: trust}, fetch=False)
    if checked.region != peer.region_code or checked.holder_id != _holder_id(session, fed, case):
        raise DomainError(
            code="result_not_applicants",
            title="办理结果不是对方地区签发给申请人的证照",
            title_en="The result is not a license the handling region issued to the applicant",
            status=422,
        )
    row = recognized.keep(
        session,
        fed.registry,
        document,
        region=peer.region_code,
        holder=_holder_of(case),
        local_type_key=checked.local_type_key,
        source="result",
    )
    return row.identifier


def _holder_id(session: Session, fed: Federation, case: Case) -> str:
    """The ID number (or credit code) the case's licenses are issued to."""
    if case.enterprise_id is not None:
        enterprise = session.get(Enterprise, case.enterprise_id)
        assert enterprise is not None
        return enterprise.uscc
    person = session.get(Person, case.person_id)
    assert person is not None
    return fed.registry.keyring.decrypt(session, "person.id_number", person.id_number_enc)


def _holder_of(case: Case) -> recognized.Holder:
    if case.enterprise_id is not None:
        return recognized.Holder(None, case.enterprise_id)
    return recognized.Holder(case.person_id, None)


@on_message("case.refused")
def _on_refused(session: Session, fed: Federation, peer: Peer, envelope: Envelope) -> None:
    body = RefusedIn.model_validate(envelope.body)
    problems = "；".join(e.get("message", "") for e in body.errors if e.get("message"))
    reason = f"{peer.name}未能接收：{body.reason}" + (f"（{problems}）" if problems else "")
    case = cases.find_by_exchange_ref(session, body.case)
    if case is None or case.remote_region != peer.region_code:
        raise LookupError(f"case {body.case} is not handled by {peer.region_code} for us")
    cases.remote_refused(session, fed.registry, case.id, peer.region_code, reason)


# -- the handling region -----------------------------------------------------------------------


def _tell_origin(
    session: Session, reg: Registry, case: Case, action: str, reason: str | None
) -> None:
    assert case.origin_region is not None
    assert case.origin_case is not None
    body: dict[str, Any] = {
        "case": case.origin_case,
        "action": action,
        "status": case.status,
        "reason": reason,
        "number": case.number,
        "due_date": case.due_date.isoformat() if case.due_date else None,
        "results": {},
    }
    if case.status == "approved":
        body["results"] = cases.origin_results_of(session, reg, case)
        if case.license_identifier:
            row = licenses.find_license(session, case.license_identifier)
            if row is not None:
                body["license"] = licenses.document_of(session, reg, row)
    messages.enqueue(
        session, reg, case.origin_region, "case.status", _stream(case.origin_case), body
    )


def _refuse(
    session: Session,
    fed: Federation,
    peer: Peer,
    origin_case: str,
    reason: str,
    errors: list[dict[str, str]] | None = None,
) -> None:
    messages.enqueue(
        session,
        fed.registry,
        peer.region_code,
        "case.refused",
        _stream(origin_case),
        {"case": origin_case, "reason": reason, "errors": errors or []},
    )


def _files(items: list[FileIn]) -> list[cases.Upload]:
    out = []
    for f in items:
        try:
            data = base64.b64decode(f.data, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise _unreadable(f"file {f.filename} is not base64") from exc
        if hashlib.sha256(data).hexdigest() != f.sha256 or len(data) != f.size:
            raise _unreadable(f"file {f.filename} does not match its digest")
        out.append(cases.Upload(f.material, f.filename, data))
    return out


def _unreadable(detail: str) -> DomainError:
    return DomainError(
        code="forward_unreadable",
        title="转来的办件无法读取",
        title_en="The forwarded case cannot be read",
        status=422,
        detail=detail,
    )


def _keep_presented(
    session: Session,
    fed: Federation,
    peer: Peer,
    items: list[LicenseIn],
    holder: recognized.Holder,
    holder_id: str,
) -> None:
    """Licenses the accepting region proved materials by: each checked here (ours against our
    registry, another region's against its trust list and the agreed list) and, if it is the
    applicant's, kept for them, so that our own 免提交 finds it as it finds any license."""
    trust = peer_trust(peer, int(time.time()))
    for item in items:
        try:
            checked = checked_license(
                session, fed, item.document, {peer.region_code: trust}, fetch=False
            )
        except DomainError:
            continue  # not proved: the window here asks for the paper by 补正
        if checked.holder_id != holder_id or checked.region == fed.region:
            continue  # someone else's; or ours, which our registry already holds
        recognized.keep(
            session,
            fed.registry,
            item.document,
            region=checked.region,
            holder=holder,
            local_type_key=checked.local_type_key,
            source="presented",
        )


@on_message("case.forward")
def _on_forward(session: Session, fed: Federation, peer: Peer, envelope: Envelope) -> None:
    origin = str((envelope.body or {}).get("id", ""))[:40]
    if not origin:
        raise LookupError("a forwarded case without its id")
    try:
        body = ForwardIn.model_validate(envelope.body)
    except ValidationError as exc:
        _refuse(session, fed, peer, origin, "办件内容无法识别", _pydantic_errors(exc))
        return
    if cases.find_forwarded(session, peer.region_code, body.id) is not None:
        return  # made already (a replayed dead letter)
    try:
        with session.begin_nested():
            person_id = _applicant_here(session, fed, peer, body)
            enterprise_id = _enterprise_here(session, body)
            holder = (
                recognized.Holder(None, enterprise_id)
                if enterprise_id is not None
                else recognized.Holder(person_id, None)
            )
            holder_id = body.enterprise.uscc if body.enterprise else body.applicant.id_number
            _keep_presented(session, fed, peer, body.licenses, holder, holder_id)
            cases.receive_forwarded(
                session,
                fed.registry,
                fed.files,
                peer_principal(session, peer),
                cases.Forwarded(
                    origin_region=peer.region_code,
                    origin_case=body.id,
                    origin_number=body.number,
                    origin_hall=f"{peer.name}{body.hall.name if body.hall else '网上受理'}",
                    matter=body.matter,
                    person_id=person_id,
                    enterprise_id=enterprise_id,
                    form=body.form,
                    files=_files(body.files),
                    delivery_method=body.delivery_method,
                    delivery_address=body.delivery_address,
                    signed_at=body.signed_at,
                    results_wanted=body.results_wanted,
                ),
            )
    except DomainError as exc:
        if _retryable(exc):
            raise  # a moment's trouble: the message is applied again later
        # Ours to say: the accepting region tells the applicant.
        _refuse(session, fed, peer, body.id, exc.title, [e.as_dict() for e in exc.errors])


@on_dead("case.forward")
def _forward_given_up(session: Session, fed: Federation, peer: Peer, envelope: Envelope) -> None:
    """A forward we could not apply however often we tried (a fault of ours): the accepting
    region is told, so the applicant does not wait for nothing; an administrator may still
    replay it."""
    origin = str((envelope.body or {}).get("id", ""))[:40]
    if origin and cases.find_forwarded(session, peer.region_code, origin) is None:
        _refuse(session, fed, peer, origin, "因技术原因暂未能接收，已通知系统管理员")


def _pydantic_errors(exc: ValidationError) -> list[dict[str, str]]:
    return [
        {"field": ".".join(str(p) for p in e["loc"]), "code": e["type"], "message": e["msg"]}
        for e in exc.errors()[:20]
    ]


def _applicant_here(session: Session, fed: Federation, peer: Peer, body: ForwardIn) -> int:
    """The applicant in our population registry; a person we do not know is recorded as the
    accepting region identified them (its window checked their ID card or code)."""
    who = body.applicant
    person = find_person_by_id_number(session, fed.registry.keyring, who.id_number)
    if person is not None:
        if person.name != who.name:
            raise DomainError(
                code="applicant_mismatch",
                title="申请人姓名与本地区人口库不一致",
                title_en="The applicant's name differs from our population registry",
                status=422,
            )
        return person.id
    new = NewPerson(name=who.name, id_number=who.id_number, phone=who.phone)
    person = create_person(session, fed.registry.keyring, new)
    person.real_name_provider = f"region:{peer.region_code}"
    return person.id


def _enterprise_here(session: Session, body: ForwardIn) -> int | None:
    if body.enterprise is None:
        return None
    found = session.scalar(select(Enterprise.id).where(Enterprise.uscc == body.enterprise.uscc))
    if found is None:
        raise DomainError(
            code="enterprise_unknown",
            title="本地区法人库中没有该企业",
            title_en="The enterprise is not in our legal-person registry",
            status=422,
        )
    return int(found)


@on_message("case.resubmit")
def _on_resubmit(session: Session, fed: Federation, peer: Peer, envelope: Envelope) -> None:
    body = ResubmitIn.model_validate(envelope.body)
    case = cases.find_forwarded(session, peer.region_code, body.id)
    if case is None:
        raise LookupError(f"no case here for {peer.region_code}'s case {body.id}")
    person = session.get(Person, case.person_id)
    enterprise = session.get(Enterprise, case.enterprise_id) if case.enterprise_id else None
    assert person is not None
    holder_id = (
        enterprise.uscc
        if enterprise
        else fed.registry.keyring.decrypt(session, "person.id_number", person.id_number_enc)
    )
    try:
        with session.begin_nested():
            _keep_presented(session, fed, peer, body.licenses, _holder_of(case), holder_id)
            cases.answer_correction(
                session,
                fed.registry,
                fed.files,
                peer_principal(session, peer),
                case.id,
                body.form,
                _files(body.files),
            )
    except DomainError as exc:
        if _retryable(exc):
            raise
        if exc.status == 422:  # still incomplete: the applicant is asked again
            missing = "；".join(e.message for e in exc.errors) or exc.title
            _tell(
                session,
                fed,
                peer,
                case,
                "request_correction",
                f"补正后仍不齐全：{missing}",
                status="correction_requested",
            )
        else:  # not (or no longer) waiting for 补正 here: the accepting region learns where
            _tell(session, fed, peer, case, "resync", None, status=case.status)


def _tell(
    session: Session,
    fed: Federation,
    peer: Peer,
    case: Case,
    action: str,
    reason: str | None,
    *,
    status: str,
) -> None:
    """A step sent back that is not a transition here (a refused answer to 补正)."""
    assert case.origin_case is not None
    messages.enqueue(
        session,
        fed.registry,
        peer.region_code,
        "case.status",
        _stream(case.origin_case),
        {
            "case": case.origin_case,
            "action": action,
            "status": status,
            "reason": reason,
            "number": case.number,
            "due_date": case.due_date.isoformat() if case.due_date else None,
            "results": {},
        },
    )


@on_message("case.delivered")
def _on_delivered(session: Session, fed: Federation, peer: Peer, envelope: Envelope) -> None:
    body = DeliveredIn.model_validate(envelope.body)
    case = cases.find_forwarded(session, peer.region_code, body.case)
    if case is None:
        raise LookupError(f"no case here for {peer.region_code}'s case {body.case}")
    cases.delivered_elsewhere(session, case.id, peer.region_code, f"{peer.name}：{body.detail}")
