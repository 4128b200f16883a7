"""政务智能办 pre-review: every submitted case of a matter with approval elements is checked
against them, its uploaded documents read, and the verdict shown to the applicant and to
staff, whose 补正 request it feeds. Staff may overrule a finding, with a reason.

A submission queues the pre-review in its own transaction (预审中); the worker
(`tongban prereview work`) runs the rules and reads the documents, which takes seconds, away
from the request. A draft can be checked at once, without reading documents, so the
applicant learns of a problem before handing it in.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Engine, func, select, text
from sqlalchemy.orm import Session

from tongban.audit.service import record
from tongban.cases import files
from tongban.cases import service as cases
from tongban.cases.models import Case
from tongban.catalog.models import Department, District, Hall, LicenseType, Matter, Street
from tongban.catalog.rules import ElementFacts
from tongban.catalog.schemas import DocumentRule, MatterIn, RuleIn
from tongban.catalog.service import matter_form_facts
from tongban.db import locked, utcnow
from tongban.errors import DomainError, FieldError, NotFound, validation_failed
from tongban.identity.models import Enterprise, Person
from tongban.identity.service import Principal, find_person_by_id_number
from tongban.licenses import service as licenses
from tongban.licenses.models import License
from tongban.licenses.service import Registry
from tongban.portal.i18n import N_
from tongban.prereview import engine
from tongban.prereview.address import Divisions
from tongban.prereview.documents import Reading
from tongban.prereview.models import Prereview, PrereviewOverrule

MAX_ATTEMPTS = 3
STAFF = frozenset({cases.WINDOW, cases.REVIEWER})
VERDICT_LABELS = {"pass": N_("预审通过"), "needs_correction": N_("需要补正")}
STATUS_LABELS = {
    "pending": N_("预审中"),
    "done": N_("预审完成"),
    "failed": N_("预审未完成，请人工审核"),
    "superseded": N_("已被后续提交取代"),
}
# Reads a document for a rule: (file bytes, media type) -> what it says. The OCR module by
# default; tests and the evaluation set may pass their own.
Reader = Callable[[bytes, str], Reading]


# ---------------------------------------------------------------------------------------------
# The rules of a matter


def rules_of(session: Session, code: str) -> list[RuleIn]:
    matter = session.scalars(select(Matter).where(Matter.code == code)).first()
    if matter is None:
        return []
    return list(_parsed(code, matter.version, json.dumps(matter.definition, sort_keys=True)))


@lru_cache(maxsize=256)
def _parsed(code: str, version: int, definition: str) -> tuple[RuleIn, ...]:
    """The catalog checked the definition when it was loaded; parsed once per version."""
    return tuple(MatterIn.model_validate(json.loads(definition)).approval_elements)


def queue(session: Session, case: Case, trigger: str) -> Prereview | None:
    """A pending pre-review of the case, if its matter has approval elements."""
    if not rules_of(session, case.matter_code):
        return None
    row = Prereview(case_id=case.id, status="pending", trigger=trigger, failed_rules=[])
    session.add(row)
    session.flush()
    return row


# ---------------------------------------------------------------------------------------------
# The application as the rules see it


class _RegistryFacts:
    def __init__(self, session: Session, reg: Registry) -> None:
        self.session, self.reg = session, reg

    def person(self, id_number: str) -> engine.PersonRecord | None:
        found = find_person_by_id_number(self.session, self.reg.keyring, id_number)
        return None if found is None else _person_record(self.session, self.reg, found)


def _person_record(session: Session, reg: Registry, p: Person) -> engine.PersonRecord:
    number = reg.keyring.decrypt(session, "person.id_number", p.id_number_enc)
    return engine.PersonRecord(p.name, number, p.district_code)


def divisions(session: Session) -> Divisions:
    districts = [(str(c), str(n)) for c, n in session.execute(select(District.code, District.name))]
    streets = [
        (str(n), str(d)) for n, d in session.execute(select(Street.name, Street.district_code))
    ]
    return Divisions.of(districts, streets)


def _elements(session: Session, code: str) -> dict[str, ElementFacts]:
    return {
        f.key: ElementFacts(f.key, f.label, f.label, f.type, f.options, f.registry)
        for f in matter_form_facts(session, code)
    }


def _held_licenses(session: Session, case: Case) -> list[engine.HeldLicense]:
    holder = (
        License.enterprise_id == case.enterprise_id
        if case.enterprise_id is not None
        else License.person_id == case.person_id
    )
    rows = session.execute(
        select(LicenseType.key, License.status, License.valid_from, License.valid_until)
        .join(LicenseType, LicenseType.id == License.type_id)
        .where(holder, License.current.is_(True))
    )
    return [engine.HeldLicense(k, s, f, u) for k, s, f, u in rows]


def application_of(
    session: Session,
    reg: Registry,
    case: Case,
    readings: dict[str, Reading] | None = None,
    on: date | None = None,
    look_up_people: bool = True,
) -> engine.Application:
    uploaded = {f.material_key for f in files.files_of(session, case.id)}
    found = {m["key"] for m in case.materials if m["resolution"] in ("license", "department")}
    applicant = session.get(Person, case.person_id) if case.person_id is not None else None
    enterprise = session.get(Enterprise, case.enterprise_id) if case.enterprise_id else None
    hall = session.scalars(select(Hall).where(Hall.key == case.hall_key)).first()
    return engine.Application(
        matter=case.matter_code,
        form=cases.form_of(session, reg, case),
        on=on or licenses.today(),
        provided=uploaded | found,
        elements=_elements(session, case.matter_code),
        divisions=divisions(session),
        facts=_RegistryFacts(session, reg),
        applicant=_person_record(session, reg, applicant) if applicant else None,
        enterprise=engine.EnterpriseRecord(
            enterprise.name, enterprise.uscc, enterprise.legal_rep.name, enterprise.district_code
        )
        if enterprise
        else None,
        licenses=_held_licenses(session, case),
        hall_district=hall.district_code if hall else None,
        department_district=session.scalar(
            select(Department.district_code).where(Department.key == case.department_key)
        ),
        readings=readings or {},
        look_up_people=look_up_people,
    )


def _requested_on(row: Prereview) -> date:
    """The application date the rules judge by: when this pre-review was asked for (the
    submission, or the resubmission after 补正, when a license may have been obtained)."""
    return row.requested_at.astimezone(licenses.CHINA).date()


def read_documents(
    session: Session,
    reg: Registry,
    store: files.FileStore,
    case: Case,
    rules: list[RuleIn],
    reader: Reader,
) -> dict[str, Reading]:
    """The uploads the document rules look at. A material may have several files (the back
    of an ID card, a cover sheet): the one read as the expected kind counts, else one that was
    recognised at all, else the newest."""
    expected: dict[str, set[str]] = {}
    for r in rules:
        if isinstance(r, DocumentRule):
            expected.setdefault(r.material, set()).add(r.document)
    out: dict[str, Reading] = {}
    for row in files.files_of(session, case.id):
        kinds = expected.get(row.material_key)
        if kinds is None:
            continue
        reading = reader(files.read_file(session, store, reg.keyring, row), row.content_type)
        kept = out.get(row.material_key)
        if kept is None or _rank(reading, kinds) >= _rank(kept, kinds):
            out[row.material_key] = reading
    return out


def _rank(reading: Reading, kinds: set[str]) -> int:
    return 2 if reading.kind in kinds else 0 if reading.kind == "unknown" else 1


# ---------------------------------------------------------------------------------------------
# Running


def _default_reader(data: bytes, media_type: str) -> Reading:
    from tongban.prereview.ocr import UnreadableDocument, read_document

    try:
        return read_document(data, media_type)
    except UnreadableDocument:
        return Reading("unknown", [])


# A case no longer waiting for review: a pre-review of what was handed in before is moot.
MOOT = frozenset(
    {"draft", "correction_requested", "rejected_at_intake", "denied", "cancelled", "delivered"}
)


def record_result(
    session: Session,
    reg: Registry,
    row: Prereview,
    readings: dict[str, Reading],
    reading_seconds: float,
) -> Prereview:
    """The rules over the case as it is now, with the documents already read; the verdict
    kept, told in the case's history and to the applicant."""
    started = time.perf_counter()
    case = session.get(Case, row.case_id)
    assert case is not None
    row.finished_at = utcnow()
    if case.status in MOOT or _superseded(session, row):
        row.status = "superseded"
        return row
    rules = rules_of(session, case.matter_code)
    app = application_of(session, reg, case, readings, on=_requested_on(row))
    findings = engine.run(rules, app)
    row.verdict = engine.verdict(findings)
    row.findings_enc = reg.keyring.encrypt(
        session, "prereview.findings", json.dumps([f.as_dict() for f in findings])
    )
    row.failed_rules = sorted({f.rule for f in findings if not f.unread})
    row.rules, row.documents = len(rules), len(readings)
    row.status = "done"
    row.seconds = round(reading_seconds + time.perf_counter() - started, 3)
    cases.note_prereview(session, case, VERDICT_LABELS[row.verdict], _summary(findings))
    return row


def _superseded(session: Session, row: Prereview) -> bool:
    newer = session.scalar(
        select(Prereview.id).where(Prereview.case_id == row.case_id, Prereview.id > row.id)
    )
    return newer is not None


def _summary(findings: list[engine.Finding]) -> str | None:
    errors = [f.message for f in findings if f.severity == "error"]
    return "；".join(dict.fromkeys(errors)) or None


def run_pending(
    sessions: Callable[[], AbstractContextManager[Session]],
    reg: Registry,
    store: files.FileStore,
    limit: int = 50,
    reader: Reader | None = None,
) -> tuple[int, int]:
    """The worker's pass, each pre-review in three steps so that seconds of OCR never hold a
    transaction open (on SQLite a write after them would find the database changed):
    claim it (the attempt is counted and committed first, so a file that kills the process
    is given up after MAX_ATTEMPTS like any failure); read its documents; record the result.
    The claim is held until the result is recorded (`Claims`), so another worker leaves it
    alone, and a worker killed on the way lets it go with its connection.
    Returns (done, failed)."""
    done = failed = 0
    tried: list[int] = []  # a failed one waits for the next pass
    claims = Claims.of(_engine_of(sessions))
    try:
        for _ in range(limit):
            claimed = _claim(sessions, tried, claims)
            if claimed is None:
                break
            row_id, case_id = claimed
            tried.append(row_id)
            try:
                _run_one(sessions, reg, store, row_id, case_id, reader or _default_reader)
                done += 1
            except Exception as exc:  # any failure is recorded and retried later
                _failed(sessions, row_id, exc)
                failed += 1
            finally:
                claims.release(row_id)
    finally:
        claims.close()
    return done, failed


def _run_one(
    sessions: Callable[[], AbstractContextManager[Session]],
    reg: Registry,
    store: files.FileStore,
    row_id: int,
    case_id: int,
    reader: Reader,
) -> None:
    with sessions() as session:
        case = session.get(Case, case_id)
        assert case is not None
        rules = rules_of(session, case.matter_code)
        started = time.perf_counter()
        readings = read_documents(session, reg, store, case, rules, reader)
        seconds = time.perf_counter() - started
        session.rollback()  # only read: the next transaction writes
    with sessions() as session:
        row = locked(session, Prereview, row_id)
        # Recorded once: a worker that lost its claim on the way (the database restarted
        # under it) may find that another one has recorded it meanwhile.
        if row is not None and row.status == "pending":
            record_result(session, reg, row, readings, seconds)


def _engine_of(sessions: Callable[[], AbstractContextManager[Session]]) -> Engine:
    with sessions() as session:
        bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


# The first key of the pre-review claims' advisory locks (the second is the row id): "prev".
CLAIM_LOCK_CLASS = 0x70726576


class Claims:
    """Which pre-reviews this worker is running, held while it runs them.

    The attempt is committed when a pre-review is claimed, so the row lock taken with SKIP
    LOCKED ends there; on PostgreSQL the claim goes on as a session-level advisory lock
    (CLAIM_LOCK_CLASS, row id) on a connection of the worker's own, which other workers try
    before they claim. The server drops it when that connection goes — a worker killed mid-job
    — so the pre-review is taken again by the next pass of any worker, its attempt counted.
    SQLite has no such locks (and one writer): there the check when the result is recorded
    keeps the effect single."""

    def __init__(self, conn: Connection | None) -> None:
        self.conn = conn

    @classmethod
    def of(cls, engine: Engine) -> Claims:
        if engine.dialect.name != "postgresql":
            return cls(None)
        return cls(engine.connect().execution_options(isolation_level="AUTOCOMMIT"))

    def take(self, row_id: int) -> bool:
        if self.conn is None:
            return True
        sql = text("SELECT pg_try_advisory_lock(:kind, :id)")
        return bool(self.conn.scalar(sql, {"kind": CLAIM_LOCK_CLASS, "id": row_id}))

    def release(self, row_id: int) -> None:
        if self.conn is None:
            return
        try:
            sql = text("SELECT pg_advisory_unlock(:kind, :id)")
            self.conn.execute(sql, {"kind": CLAIM_LOCK_CLASS, "id": row_id})
        except Exception:  # the connection is gone, and the lock with it
            self.conn.invalidate()

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()  # any lock still held goes with the session


def _claim(
    sessions: Callable[[], AbstractContextManager[Session]],
    tried: list[int],
    claims: Claims,
) -> tuple[int, int] | None:
    """The oldest pending pre-review not tried in this pass nor run by another worker, its
    attempt counted; one the worker has died on MAX_ATTEMPTS times is given up on the way."""
    with sessions() as session:
        skip = list(tried)
        while True:
            row = session.scalars(
                select(Prereview)
                .where(Prereview.status == "pending", Prereview.id.not_in(skip))
                .order_by(Prereview.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).first()
            if row is None:
                return None
            if row.attempts >= MAX_ATTEMPTS:
                row.status, row.finished_at = "failed", utcnow()
                row.last_error = row.last_error or "the worker stopped while running it"
                skip.append(row.id)
                continue
            if not claims.take(row.id):  # another worker is running it
                skip.append(row.id)
                continue
            row.attempts += 1
            return row.id, row.case_id


def _failed(
    sessions: Callable[[], AbstractContextManager[Session]], row_id: int, exc: Exception
) -> None:
    with sessions() as session:
        row = session.get(Prereview, row_id)
        assert row is not None
        row.last_error = f"{type(exc).__name__}: {exc}"[:200]
        if row.attempts >= MAX_ATTEMPTS:
            row.status, row.finished_at = "failed", utcnow()


# ---------------------------------------------------------------------------------------------
# What people see and do


def check_draft(
    session: Session, reg: Registry, principal: Principal, case_id: int
) -> list[engine.Finding]:
    """The rules on a draft as it stands (documents are read after submission)."""
    case = cases.get_case(session, principal, case_id)
    app = application_of(session, reg, case, look_up_people=False)
    return engine.run(rules_of(session, case.matter_code), app)


def latest(session: Session, case_id: int) -> Prereview | None:
    return session.scalars(
        select(Prereview).where(Prereview.case_id == case_id).order_by(Prereview.id.desc())
    ).first()


@dataclass(frozen=True)
class View:
    prereview: Prereview | None
    findings: list[dict[str, Any]]  # each with `overruled` (the reason) when set aside

    @property
    def open_errors(self) -> list[dict[str, Any]]:
        return [f for f in self.findings if f["severity"] == "error" and not f["overruled"]]


def view(session: Session, reg: Registry, principal: Principal, case_id: int) -> View:
    case = cases.get_case(session, principal, case_id)
    row = latest(session, case.id)
    if row is None or row.findings_enc is None:
        return View(row, [])
    found: list[dict[str, Any]] = json.loads(
        reg.keyring.decrypt(session, "prereview.findings", row.findings_enc)
    )
    overrules = {
        (o.rule, o.field): o.reason
        for o in session.scalars(
            select(PrereviewOverrule).where(PrereviewOverrule.prereview_id == row.id)
        )
    }
    for f in found:
        f["overruled"] = overrules.get((f["rule"], f["field"]))
    return View(row, found)


def _staff_case(session: Session, principal: Principal, case_id: int) -> Case:
    case = cases.get_case(session, principal, case_id)
    if not cases.roles_on(session, principal, case) & STAFF:
        raise DomainError(
            code="staff_only",
            title="仅受理或审核人员可以操作",
            title_en="Only the case's window or reviewing staff may do this",
            status=403,
        )
    return case


def overrule(
    session: Session,
    reg: Registry,
    principal: Principal,
    case_id: int,
    rule: str,
    field: str | None,
    reason: str,
) -> PrereviewOverrule:
    """Staff set one finding of the latest pre-review aside; logged and audited."""
    case = _staff_case(session, principal, case_id)
    why = reason.strip()
    if not why:
        raise validation_failed([FieldError("reason", "请说明不采纳该预审意见的理由", "missing")])
    current = view(session, reg, principal, case_id)
    finding = next((f for f in current.findings if f["rule"] == rule and f["field"] == field), None)
    if current.prereview is None or finding is None:
        raise NotFound("finding_not_found", "没有这条预审意见", "No such finding")
    if finding["overruled"] is not None:
        raise DomainError(
            code="already_overruled",
            title="该预审意见已被人工复核",
            title_en="This finding was already overruled",
            status=409,
        )
    actor = f"account:{principal.account_id}"
    row = PrereviewOverrule(
        prereview_id=current.prereview.id,
        case_id=case.id,
        matter_code=case.matter_code,
        rule=rule,
        field=field,
        reason=why,
        actor=actor,
    )
    session.add(row)
    record(
        session,
        actor=actor,
        action="prereview.overrule",
        subject_type="case",
        subject_id=str(case.id),
        reason=why,
        details={"rule": rule, "field": field},
    )
    session.flush()
    return row


def request_correction(
    session: Session, reg: Registry, principal: Principal, case_id: int, note: str | None
) -> Case:
    """补正 from the pre-review: the findings staff did not set aside, each with its fix."""
    _staff_case(session, principal, case_id)
    current = view(session, reg, principal, case_id)
    errors = current.open_errors
    if not errors:
        raise DomainError(
            code="nothing_to_correct",
            title="预审没有需要补正的意见",
            title_en="The pre-review left nothing to correct",
            status=409,
        )
    lines = [f"{i}. {f['message']}" for i, f in enumerate(errors, start=1)]
    if note and note.strip():
        lines.append(note.strip())
    return cases.transition(
        session, reg, principal, case_id, "request_correction", "\n".join(lines)
    )


def rule_stats(session: Session, matter: str | None = None) -> list[dict[str, Any]]:
    """Per rule: how often it fired and how often staff overruled it; a rule overruled often
    is a rule to fix."""
    query = select(Prereview.failed_rules, Case.matter_code).join(
        Case, Case.id == Prereview.case_id
    )
    query = query.where(Prereview.status == "done")
    if matter:
        query = query.where(Case.matter_code == matter)
    fired: dict[tuple[str, str], int] = {}
    for failed, code in session.execute(query):
        for rule in failed:
            fired[(code, rule)] = fired.get((code, rule), 0) + 1
    over_query = select(
        PrereviewOverrule.matter_code, PrereviewOverrule.rule, func.count()
    ).group_by(PrereviewOverrule.matter_code, PrereviewOverrule.rule)
    if matter:
        over_query = over_query.where(PrereviewOverrule.matter_code == matter)
    overruled = {(c, r): n for c, r, n in session.execute(over_query)}
    keys = sorted(set(fired) | set(overruled))
    return [
        {
            "matter": code,
            "rule": rule,
            "fired": fired.get((code, rule), 0),
            "overruled": overruled.get((code, rule), 0),
            "overrule_rate": round(overruled.get((code, rule), 0) / fired[(code, rule)], 4)
            if fired.get((code, rule))
            else None,
        }
        for code, rule in keys
    ]
