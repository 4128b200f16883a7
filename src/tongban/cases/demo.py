"""Applications of the demo accounts (a demo database only), so every page has something to
show: a draft waiting for an upload, cases in a market-regulation reviewer's queue (one near
its deadline, marked 预警), and an elderly resident's authorization of a relative (代办)."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas
from sqlalchemy import select
from sqlalchemy.orm import Session

from tongban.cases import proxies
from tongban.cases import service as cases
from tongban.cases.files import FileStore
from tongban.cases.form import build_form
from tongban.errors import DomainError
from tongban.identity.models import Account, Enterprise, Person
from tongban.identity.service import Principal, principal_of
from tongban.licenses import service as licenses
from tongban.licenses.resolver import Applicant
from tongban.licenses.service import Registry
from tongban.workdays.service import calendar

SCHOOL = "20P010000001"  # 义务教育阶段入学报名登记
# (matter, how far it gets)
ENTERPRISE_CASES = [
    ("01E001000002", "submitted"),  # 企业变更登记
    ("07E001000005", "under_review"),  # 仅销售预包装食品备案
    ("01E001000006", "late"),  # 特种设备使用登记: accepted long ago, 预警
    # 食品经营许可: pre-reviewed by the demo's worker once it serves (the made-up address names
    # no district, and the demo scans are no floor plan: the findings say so).
    ("01E001000004", "submitted"),
]
# Made-up answers for what no registry holds, by the field's type.
FILLER: dict[str, Any] = {
    "date": "2026-03-02",
    "integer": 2,
    "decimal": "100",
    "boolean": True,
    "phone": "13800138000",
    "postal_code": "200120",
    "id_number": "310115201903150020",  # a child born 2019 (made up; valid check digit)
}


def load_demo_cases(session: Session, reg: Registry, store: FileStore) -> int:
    who = principals(session, ("citizen1", "citizen2", "enterprise1", "reviewer1"))
    made = 0
    agent = who["enterprise1"]
    enterprise = session.get(Enterprise, agent.enterprise_id) if agent.enterprise_id else None
    uscc = enterprise.uscc if enterprise is not None else None
    for code, goal in ENTERPRISE_CASES:
        case = apply(session, reg, store, agent, code, uscc)
        made += 1
        try:
            with session.begin_nested():  # all of the steps, or none
                _advance(session, reg, who["reviewer1"], case.id, goal)
        except DomainError as exc:
            # Past the calendar's known years nobody can accept a case (no due date can be
            # counted) until an admin enters the year: the demo leaves it submitted.
            if exc.code != "calendar_year_unknown":
                raise
    apply(session, reg, store, who["citizen1"], SCHOOL, None, submit=False)
    made += 1
    elder = session.get(Person, who["citizen2"].person_id)
    relative = session.get(Person, who["citizen1"].person_id)
    if elder is not None and relative is not None:
        proxies.authorize(
            session,
            reg.keyring,
            who["citizen2"],
            elder,
            proxies.ProxyRequest(
                reg.keyring.decrypt(session, "person.id_number", relative.id_number_enc),
                relative.name,
                "child",
                ["*"],
                180,
            ),
            "演示：长辈授权子女代办",
        )
    return made


def principals(session: Session, names: tuple[str, ...]) -> dict[str, Principal]:
    rows = session.scalars(select(Account).where(Account.username.in_(names)))
    return {a.username: principal_of(a) for a in rows}


def apply(
    session: Session,
    reg: Registry,
    store: FileStore,
    principal: Principal,
    code: str,
    uscc: str | None,
    *,
    submit: bool = True,
) -> Any:
    enterprise_id = principal.enterprise_id if uscc else None
    form = build_form(
        session, reg, code, Applicant(principal.person_id, enterprise_id), licenses.today()
    )
    values = {
        f["key"]: f["value"] if f["value"] is not None else filler(f)
        for f in form["fields"]
        if f["value"] is not None or f["required"]
    }
    case = cases.create_case(
        session,
        reg,
        principal,
        cases.CreateRequest(code, values, "app", uscc=uscc, submit=False),
    )
    if not submit:
        return case
    for material in cases.missing_materials(session, case):
        cases.upload(
            session,
            reg,
            store,
            principal,
            case.id,
            cases.Upload(material["key"], f"{material['name']}.pdf", scan(material["name"])),
        )
    return cases.transition(session, reg, principal, case.id, "submit", None)


def filler(field: dict[str, Any]) -> Any:
    if field["type"] == "enum" and field["options"]:
        return field["options"][0]
    return FILLER.get(field["type"], "演示填写")


def _advance(session: Session, reg: Registry, reviewer: Principal, case_id: int, goal: str) -> None:
    if goal == "submitted":
        return
    cases.transition(session, reg, reviewer, case_id, "accept", None)
    if goal == "under_review":
        cases.transition(session, reg, reviewer, case_id, "start_review", None)
        return
    # Accepted so long ago that most of its working days are used: the sweep marks it 预警.
    case = cases.get_case(session, reviewer, case_id)
    assert case.accepted_on is not None
    assert case.due_date is not None
    cal = calendar(session)
    total = cal.working_days_between(case.accepted_on, case.due_date)
    start = case.accepted_on
    while cal.working_days_between(start, case.accepted_on) < max(1, int(total * 0.85)):
        start -= timedelta(days=1)
    case.accepted_on = start
    case.due_date = cal.add_working_days(start, total)
    cases.sweep(session, licenses.today())


def scan(title: str) -> bytes:
    """A one-page PDF standing in for a scanned material."""
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    out = io.BytesIO()
    page = canvas.Canvas(out)
    page.setFont("STSong-Light", 16)
    page.drawString(72, 760, f"{title}（演示材料，非真实证件）")
    page.save()
    return out.getvalue()
