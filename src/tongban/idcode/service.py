"""Issuing codes, scanning them in scenes, and the holder's view of who scanned them."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tongban.audit.service import record
from tongban.catalog.models import Hall
from tongban.common.masking import mask_id_number, mask_name
from tongban.common.ratelimit import RateLimiter, rate_limited
from tongban.crypto.primitives import sm3
from tongban.crypto.service import Keyring
from tongban.db import utcnow
from tongban.errors import DomainError, NotFound
from tongban.idcode.errors import CodeRefused
from tongban.idcode.keys import CodeKeys
from tongban.idcode.models import CodeIssue, CodeScan, CodeUse, HallQueueCounter, QueueTicket
from tongban.idcode.scenes import Scene
from tongban.idcode.token import Channel, Claims, SubjectType, signed_part, to_text
from tongban.idcode.trust import Verified, verify_token
from tongban.identity.models import Enterprise, EnterpriseAgent, Person
from tongban.identity.schemas import Role
from tongban.identity.service import (
    Principal,
    age_on,
    find_person_by_id_number,
    normalize_id_number,
)
from tongban.settings import Settings

CHINA = timezone(timedelta(hours=8))  # no daylight saving: a fixed offset is exact
PAPER_AGE_UNDER = 18
PAPER_AGE_FROM = 60
PAPER_MISMATCH_LIMIT = 5


@dataclass
class Codes:
    """Everything the code needs at run time, made once per application."""

    settings: Settings
    keyring: Keyring
    keys: CodeKeys
    scenes: dict[str, Scene]
    limiter: RateLimiter | None = None

    def __post_init__(self) -> None:
        if self.limiter is None:
            self.limiter = RateLimiter(self.settings.code_rate_per_minute)


@dataclass(frozen=True)
class Subject:
    kind: str  # person | enterprise
    person_id: int | None = None
    enterprise_id: int | None = None


@dataclass(frozen=True)
class Issued:
    token: str
    ref: str
    issued_at: datetime
    expires_at: datetime
    paper: bool


# -- issuing -----------------------------------------------------------------------------------


def subject_for(session: Session, principal: Principal, kind: str, uscc: str | None) -> Subject:
    """Whose code the caller may show: their own, or an enterprise they are an agent of."""
    if kind == "person":
        if principal.person_id is None:
            raise DomainError(
                code="no_person",
                title="该账号未关联自然人，无法生成个人码",
                title_en="This account is not a person's; it has no personal code",
                status=403,
            )
        return Subject("person", person_id=principal.person_id)
    bound = {int(b) for b in principal.bindings(Role.ENTERPRISE_AGENT) if b.isdigit()}
    now = utcnow()
    query = (
        select(Enterprise)
        .join(EnterpriseAgent, EnterpriseAgent.enterprise_id == Enterprise.id)
        .where(
            Enterprise.id.in_(bound),
            EnterpriseAgent.person_id == principal.person_id,
            EnterpriseAgent.revoked_at.is_(None),
            EnterpriseAgent.expires_at > now,
        )
    )
    if uscc:
        query = query.where(Enterprise.uscc == uscc.strip().upper())
    found = session.scalars(query.order_by(Enterprise.id)).all()
    if not found:
        raise DomainError(
            code="not_enterprise_agent",
            title="您不是该企业的有效经办人",
            title_en="You are not a current agent of this enterprise",
            status=403,
        )
    if len(found) > 1:
        raise DomainError(
            code="enterprise_ambiguous",
            title="您是多家企业的经办人，请指定统一社会信用代码",
            title_en="You act for several enterprises; name one by its credit code",
            status=422,
        )
    return Subject("enterprise", enterprise_id=found[0].id)


def issue_code(
    session: Session,
    codes: Codes,
    subject: Subject,
    *,
    channel: Channel,
    paper: bool = False,
    issued_by: int | None = None,
) -> Issued:
    """Sign a new code for the subject and remember whose it is (the code only says `ref`).

    A page asks for a code a minute; an account asking for many more is refused (429) rather
    than left to fill the table.
    """
    if issued_by is not None and codes.limiter is not None:
        wait = codes.limiter.allow(f"account:{issued_by}")
        if wait is not None:
            raise rate_limited(wait)
    kid, signer = codes.keys.signer(session)
    issued = int(time.time())
    validity = codes.settings.paper_code_days * 86400 if paper else codes.settings.code_ttl_seconds
    claims = Claims(
        subject_type=SubjectType.PERSON if subject.kind == "person" else SubjectType.ENTERPRISE,
        region_code=codes.settings.region_code,
        ref=secrets.token_bytes(12).hex(),
        issued_at=issued,
        validity=validity,
        paper=paper,
        kid=kid,
        channel=channel,
    )
    signed = signed_part(claims)
    token = to_text(signed, signer.sign(signed))
    issue = CodeIssue(
        ref=claims.ref,
        subject_type=subject.kind,
        person_id=subject.person_id,
        enterprise_id=subject.enterprise_id,
        kind="paper" if paper else "dynamic",
        channel=channel.name.lower(),
        kid=kid,
        issued_at=datetime.fromtimestamp(issued, UTC),
        expires_at=datetime.fromtimestamp(claims.expires_at, UTC),
        issued_by=issued_by,
        token=token if paper else None,
    )
    session.add(issue)
    session.flush()
    return Issued(token, claims.ref, issue.issued_at, issue.expires_at, paper)


def today() -> date:
    """Today in China, whatever zone the server runs in."""
    return datetime.now(CHINA).date()


def paper_eligible(person: Person, today: date) -> bool:
    """纸质码: for those who may have no phone: children, people over 60, disabled people."""
    age = age_on(person.birth_date, today)
    return age < PAPER_AGE_UNDER or age >= PAPER_AGE_FROM or person.disabled


def current_paper_code(session: Session, person_id: int) -> CodeIssue | None:
    return session.scalars(
        select(CodeIssue).where(
            CodeIssue.person_id == person_id,
            CodeIssue.kind == "paper",
            CodeIssue.revoked_at.is_(None),
            CodeIssue.expires_at > utcnow(),
        )
    ).first()


def issue_paper_code(
    session: Session, codes: Codes, person_id: int, issued_by: int | None
) -> Issued:
    """A long-lived printable code; a new one revokes the one before (one paper code a person)."""
    person = session.get(Person, person_id)
    assert person is not None
    if not paper_eligible(person, today()):
        raise DomainError(
            code="paper_code_not_eligible",
            title="纸质码面向未成年人、60周岁以上老人和残疾人",
            title_en="Paper codes are for minors, people aged 60 or over and disabled people",
            status=403,
        )
    revoke_paper_codes(session, person_id)
    return issue_code(
        session,
        codes,
        Subject("person", person_id=person_id),
        channel=Channel.PAPER,
        paper=True,
        issued_by=issued_by,
    )


def counter_paper_code(
    session: Session, codes: Codes, staff_account: int, id_number: str
) -> CodeIssue:
    """A window prints a paper code for the person at the counter; the person will see who did
    it in their data-usage list."""
    person = find_person_by_id_number(session, codes.keyring, id_number)
    if person is None:
        raise NotFound("person_not_found", "未找到此人", "No such person")
    issue_paper_code(session, codes, person.id, staff_account)
    record(
        session,
        actor=f"account:{staff_account}",
        actor_role=Role.WINDOW_STAFF.value,
        action="code.paper_issued",
        subject_type="person",
        subject_id=str(person.id),
        data_subject=person.id,
        reason="窗口为持证人打印纸质随申码",
    )
    issue = current_paper_code(session, person.id)
    assert issue is not None
    return issue


def revoke_paper_codes(session: Session, person_id: int) -> int:
    result = session.execute(
        update(CodeIssue)
        .where(
            CodeIssue.person_id == person_id,
            CodeIssue.kind == "paper",
            CodeIssue.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)


# -- scanning ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScanRequest:
    scene: Scene
    verifier: Principal
    verifier_name: str
    token: str
    id_number: str | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True)
class ScanOutcome:
    status: int
    body: dict[str, Any]


def scene_place(scene: Scene, verifier: Principal) -> str | None:
    """Where the verifier scans for this scene, or refuse: a scanner is bound to its scene."""
    places: set[str | None] = set()
    for binding in verifier.bindings(Role.VERIFIER):
        name, _, place = binding.partition("@")
        if name == scene.key:
            places.add(place or None)
    if scene.place == "hall":
        places |= set(verifier.bindings(Role.WINDOW_STAFF))  # a window may check people in
        places.discard(None)
        places.discard("")
    if not places:
        raise DomainError(
            code="scene_not_allowed",
            title="您的账号未获准在该场景扫码",
            title_en="Your account may not scan codes in this scene",
            status=403,
        )
    return sorted(places, key=lambda p: p or "")[0]


def scan(session: Session, codes: Codes, request: ScanRequest) -> ScanOutcome:
    """Verify a code for a scene, release exactly the scene's attributes, and log the scan.

    A repeated request (same verifier, same Idempotency-Key) gets the first answer again and
    changes nothing: a gate that retries after a timeout does not spend a second use.
    """
    place = scene_place(request.scene, request.verifier)
    key = (request.idempotency_key or "").strip() or None
    fingerprint = sm3(
        "\x1f".join([request.scene.key, request.token.strip(), request.id_number or ""]).encode()
    ).hex()
    if key is not None:
        earlier = session.scalars(
            select(CodeScan).where(
                CodeScan.verifier_id == request.verifier.account_id,
                CodeScan.idempotency_key == key,
            )
        ).first()
        if earlier is not None:
            return _replayed(session, codes, earlier, fingerprint)
    row = CodeScan(
        scene=request.scene.key,
        verifier_id=request.verifier.account_id,
        verifier_name=request.verifier_name,
        place=place,
        idempotency_key=key,
        request_hash=fingerprint if key else None,
        attributes=[],
        at=utcnow(),
    )
    try:
        try:
            body = _accept(session, codes, request, row, place)
            outcome = ScanOutcome(200, body)
            row.outcome = "ok"
        except CodeRefused as refused:
            outcome = ScanOutcome(refused.status, refused.problem())
            row.outcome = refused.code
        row.status = outcome.status
        # Only a retry can ask for the answer again, and only a request with a key can retry.
        if key is not None:
            row.response_enc = codes.keyring.encrypt(
                session, "code_scan.response", json.dumps(outcome.body, ensure_ascii=False)
            )
        session.add(row)
        session.flush()
    except IntegrityError:
        # The same request (same key) is being answered by another worker right now: this
        # transaction is rolled back whole, the code use included.
        raise DomainError(
            code="scan_in_progress",
            title="该扫码请求正在处理，请稍后重试",
            title_en="This scan request is being processed; retry shortly",
            status=409,
        ) from None
    return outcome


RETRY_WINDOW = timedelta(minutes=10)


def _replayed(session: Session, codes: Codes, earlier: CodeScan, fingerprint: str) -> ScanOutcome:
    """The first answer again, for the same request retried within minutes; else a refusal."""
    if earlier.request_hash != fingerprint:
        raise DomainError(
            code="idempotency_key_reused",
            title="该请求编号已用于另一次扫码",
            title_en="This Idempotency-Key was used for a different scan",
            status=422,
        )
    if earlier.at < utcnow() - RETRY_WINDOW or earlier.response_enc is None:
        raise DomainError(
            code="idempotency_key_expired",
            title="重试已超时，请重新扫码",
            title_en="Too late to retry with this Idempotency-Key; scan again",
            status=422,
        )
    body = json.loads(codes.keyring.decrypt(session, "code_scan.response", earlier.response_enc))
    return ScanOutcome(earlier.status, body)


def _accept(
    session: Session, codes: Codes, request: ScanRequest, row: CodeScan, place: str | None
) -> dict[str, Any]:
    scene = request.scene
    verified = _verify(session, codes, request.token)
    claims = verified.claims
    row.ref = claims.ref
    issue = session.scalars(select(CodeIssue).where(CodeIssue.ref == claims.ref)).first()
    if issue is None:
        raise CodeRefused("code_unknown")
    row.person_id, row.enterprise_id = issue.person_id, issue.enterprise_id
    if issue.subject_type != _subject_name(claims.subject_type) or issue.kid != claims.kid:
        raise CodeRefused("code_altered", "the code does not match its issue record")
    if issue.revoked_at is not None:
        raise CodeRefused("code_revoked")
    if issue.subject_type not in scene.subjects:
        raise CodeRefused("code_wrong_subject")
    if claims.paper:
        _check_paper(session, codes.keyring, scene, issue, request.id_number)
    # A paper code lives a year and is checked against the ID card each time, so it is never
    # spent; a dynamic code in a once-only scene is spent by its first scan.
    if scene.once and not claims.paper:
        try:
            with session.begin_nested():
                session.add(CodeUse(ref=claims.ref, scene=scene.key))
                session.flush()
        except IntegrityError:
            raise CodeRefused("code_replayed") from None
    at_window = place is not None and place in request.verifier.bindings(Role.WINDOW_STAFF)
    names = scene.releases(issue.subject_type, window=at_window)
    row.attributes = list(names)
    body: dict[str, Any] = {
        "valid": True,
        "scene": scene.key,
        "subject_type": issue.subject_type,
        "paper": claims.paper,
        "expires_at": issue.expires_at.isoformat(),
        "attributes": release(session, codes.keyring, issue, names) if names else {},
    }
    if scene.place == "hall" and place:
        row.outcome, row.status = "ok", 200
        session.add(row)
        session.flush()  # the ticket points at its scan
        body["hall"] = check_in(session, place, issue, row)
    return body


def _verify(session: Session, codes: Codes, token: str) -> Verified:
    settings = codes.settings
    lists = codes.keys.trust_lists(session)
    try:
        return verify_token(
            token, lists, now=int(time.time()), skew=settings.code_clock_skew_seconds
        )
    except CodeRefused as refused:
        if refused.code != "code_forged":
            raise
    # A key this process has not seen yet may have been made by another one: look once more.
    lists = codes.keys.trust_lists(session, refresh=True)
    return verify_token(token, lists, now=int(time.time()), skew=settings.code_clock_skew_seconds)


def identify_at_window(
    session: Session,
    codes: Codes,
    staff: Principal,
    hall_key: str,
    token: str,
    id_number: str | None,
) -> int:
    """综合受理: the person whose code the window scanned (a paper code with the ID card).

    Logged in the holder's scan list like any scan; a refusal is logged too (so the paper
    code's lockout counts it) and raised. Nothing is spent: the window may scan again.
    """
    row = CodeScan(
        scene="hall",
        verifier_id=staff.account_id,
        verifier_name=staff.display_name or staff.username,
        place=hall_key,
        attributes=["identity"],
        at=utcnow(),
    )
    try:
        verified = _verify(session, codes, token)
        row.ref = verified.claims.ref
        issue = session.scalars(
            select(CodeIssue).where(CodeIssue.ref == verified.claims.ref)
        ).first()
        if issue is None:
            raise CodeRefused("code_unknown")
        row.person_id, row.enterprise_id = issue.person_id, issue.enterprise_id
        if issue.kid != verified.claims.kid:
            raise CodeRefused("code_altered", "the code does not match its issue record")
        if issue.revoked_at is not None:
            raise CodeRefused("code_revoked")
        if issue.subject_type != "person" or issue.person_id is None:
            raise CodeRefused("code_wrong_subject")
        if verified.claims.paper:
            hall = codes.scenes.get("hall")
            if hall is None:  # a registry of its own without the hall scene takes no paper
                raise CodeRefused("code_paper_not_accepted")
            _check_paper(session, codes.keyring, hall, issue, id_number)
    except CodeRefused as refused:
        row.outcome, row.status = refused.code, refused.status
        session.add(row)
        session.flush()
        raise
    row.outcome, row.status = "ok", 200
    session.add(row)
    session.flush()
    return issue.person_id


def _subject_name(kind: SubjectType) -> str:
    return "person" if kind == SubjectType.PERSON else "enterprise"


def _check_paper(
    session: Session, keyring: Keyring, scene: Scene, issue: CodeIssue, id_number: str | None
) -> None:
    if not scene.accepts_paper:
        raise CodeRefused("code_paper_not_accepted")
    if not id_number or not id_number.strip():
        raise CodeRefused("code_id_check_required")
    misses = session.scalar(
        select(func.count(CodeScan.id)).where(
            CodeScan.ref == issue.ref,
            CodeScan.outcome == "code_id_mismatch",
            CodeScan.at > utcnow() - timedelta(days=1),
        )
    )
    if (misses or 0) >= PAPER_MISMATCH_LIMIT:
        # Guessing ID numbers against a photographed card would otherwise end in a hit.
        raise CodeRefused("code_locked")
    person = session.get(Person, issue.person_id)
    index = keyring.blind_index(session, "person.id_number", normalize_id_number(id_number))
    if person is None or person.id_number_index != index:
        raise CodeRefused("code_id_mismatch")


# -- what a scene may see ----------------------------------------------------------------------

PersonResolver = Callable[[Session, Keyring, Person], Any]
EnterpriseResolver = Callable[[Enterprise], Any]


def _id_number(session: Session, keyring: Keyring, p: Person) -> str:
    return keyring.decrypt(session, "person.id_number", p.id_number_enc)


def _age(p: Person) -> int:
    return age_on(p.birth_date, today())


PERSON_RESOLVERS: dict[str, PersonResolver] = {
    "name": lambda s, k, p: p.name,
    "masked_name": lambda s, k, p: mask_name(p.name),
    "id_number": _id_number,
    "masked_id_number": lambda s, k, p: mask_id_number(_id_number(s, k, p)),
    "photo_ref": lambda s, k, p: p.photo_ref,
    "medical_voucher": lambda s, k, p: (
        k.decrypt(s, "person.medical_voucher", p.medical_voucher_enc)
        if p.medical_voucher_enc
        else None
    ),
    "adult": lambda s, k, p: _age(p) >= 18,
    "senior": lambda s, k, p: _age(p) >= 60,
}
ENTERPRISE_RESOLVERS: dict[str, EnterpriseResolver] = {
    "name": lambda e: e.name,
    "uscc": lambda e: e.uscc,
    "registration_status": lambda e: e.registration_status,
    "credit_class": lambda e: e.credit_class,
}


def release(
    session: Session, keyring: Keyring, issue: CodeIssue, names: tuple[str, ...]
) -> dict[str, Any]:
    """Exactly the named attributes of the code's holder: nothing is read that is not released."""
    subject = Subject(issue.subject_type, issue.person_id, issue.enterprise_id)
    held = {n: HOLDINGS[n](session, subject) for n in names if n in HOLDINGS}
    own = [n for n in names if n not in HOLDINGS]
    if issue.subject_type == "person":
        person = session.get(Person, issue.person_id)
        assert person is not None
        values = {n: PERSON_RESOLVERS[n](session, keyring, person) for n in own}
    else:
        enterprise = session.get(Enterprise, issue.enterprise_id)
        assert enterprise is not None
        values = {n: ENTERPRISE_RESOLVERS[n](enterprise) for n in own}
    return {n: held[n] if n in held else values[n] for n in names}


# -- hall check-in -----------------------------------------------------------------------------

# Attributes that other modules hold about a subject (what licenses, what open cases): each
# registers a provider under the attribute's name in the scene catalogue; a scene releases it
# like any other attribute (the hall releases them to window staff only).
HoldingsProvider = Callable[[Session, Subject], list[dict[str, Any]]]
HOLDINGS: dict[str, HoldingsProvider] = {}


def check_in(session: Session, hall_key: str, issue: CodeIssue, scan: CodeScan) -> dict[str, Any]:
    """大厅取号 and 一站式: a queue ticket, and the holder's open cases and licenses."""
    hall = session.scalars(select(Hall).where(Hall.key == hall_key)).first()
    if hall is None:
        raise DomainError(
            code="hall_not_found",
            title="扫码设备绑定的大厅不存在",
            title_en="The scanner is bound to a hall that does not exist",
            status=409,
        )
    day = today()
    seq = _next_ticket(session, hall_key, day)
    prefix = "A" if issue.subject_type == "person" else "B"
    ticket = QueueTicket(
        hall_key=hall_key,
        service_date=day,
        seq=seq,
        number=f"{prefix}{seq:03d}",
        person_id=issue.person_id,
        enterprise_id=issue.enterprise_id,
        scan_id=scan.id,
    )
    session.add(ticket)
    session.flush()
    ahead = session.scalar(
        select(func.count(QueueTicket.id)).where(
            QueueTicket.hall_key == hall_key,
            QueueTicket.service_date == day,
            QueueTicket.status == "waiting",
            QueueTicket.seq < seq,
        )
    )
    result: dict[str, Any] = {
        "key": hall.key,
        "name": hall.name,
        "ticket": ticket.number,
        "waiting_ahead": int(ahead or 0),
    }
    return result


def _next_ticket(session: Session, hall_key: str, day: date) -> int:
    """The next number of the hall's day, taken atomically (the row update is the lock)."""
    for _ in range(3):
        seq = session.execute(
            update(HallQueueCounter)
            .where(HallQueueCounter.hall_key == hall_key, HallQueueCounter.service_date == day)
            .values(last_seq=HallQueueCounter.last_seq + 1)
            .returning(HallQueueCounter.last_seq)
        ).scalar()
        if seq is not None:
            return int(seq)
        try:
            with session.begin_nested():
                session.add(HallQueueCounter(hall_key=hall_key, service_date=day, last_seq=1))
                session.flush()
            return 1
        except IntegrityError:
            continue  # another check-in opened the day first: take the next number
    raise RuntimeError("could not take a queue number")


# -- the holder's view -------------------------------------------------------------------------


def scans_of(
    session: Session,
    *,
    person_id: int | None = None,
    enterprise_id: int | None = None,
    limit: int = 100,
) -> list[CodeScan]:
    """谁扫了我的码: every scan of the holder's codes, newest first."""
    query = select(CodeScan)
    if person_id is not None:
        query = query.where(CodeScan.person_id == person_id, CodeScan.enterprise_id.is_(None))
    elif enterprise_id is not None:
        query = query.where(CodeScan.enterprise_id == enterprise_id)
    else:
        return []
    return list(
        session.scalars(query.order_by(CodeScan.at.desc(), CodeScan.id.desc()).limit(limit))
    )


PHOTO_WINDOW = timedelta(minutes=10)


def photo_for_verifier(session: Session, verifier_id: int, scene: Scene, ref: str) -> bool:
    """A scanner may fetch a photo only just after a scan that released it, for that holder."""
    recent = session.scalars(
        select(CodeScan).where(
            CodeScan.verifier_id == verifier_id,
            CodeScan.scene == scene.key,
            CodeScan.outcome == "ok",
            CodeScan.at > utcnow() - PHOTO_WINDOW,
            CodeScan.person_id.is_not(None),
        )
    ).all()
    for row in recent:
        if "photo_ref" in row.attributes:
            person = session.get(Person, row.person_id)
            if person is not None and person.photo_ref == ref:
                return True
    return False


def prune(session: Session, *, issues_days: int, scans_days: int) -> tuple[int, int]:
    """Forget dynamic codes that expired `issues_days` ago and scans older than `scans_days`.

    Paper codes stay while they are valid; a scan row keeps the holder's id and the code's
    reference by value, so the history outlives the codes it mentions.
    """
    now = utcnow()
    issues = session.execute(
        delete(CodeIssue).where(
            CodeIssue.kind == "dynamic", CodeIssue.expires_at < now - timedelta(days=issues_days)
        )
    )
    old = now - timedelta(days=scans_days)
    session.execute(
        delete(QueueTicket).where(
            QueueTicket.scan_id.in_(select(CodeScan.id).where(CodeScan.at < old))
        )
    )
    session.execute(delete(CodeUse).where(CodeUse.at < now - timedelta(days=issues_days)))
    scans = session.execute(delete(CodeScan).where(CodeScan.at < old))
    return int(getattr(issues, "rowcount", 0) or 0), int(getattr(scans, "rowcount", 0) or 0)
