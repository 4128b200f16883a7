"""An 一业一证 application of the demo enterprise (a demo database only): a convenience store
selling food, whose permit the market regulator's reviewer has approved, so the case page
shows the comprehensive license with its QR."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tongban.cases import service as cases
from tongban.cases.demo import filler, principals, scan
from tongban.cases.files import FileStore
from tongban.errors import DomainError
from tongban.identity.models import Enterprise
from tongban.industry import service as industry
from tongban.licenses.service import Registry
from tongban.onething import service as onething

SHOP = {"food": "made", "drugs": "no", "devices": "no", "tobacco": "no"}


def load_demo_industry(session: Session, reg: Registry, store: FileStore) -> int:
    who = principals(session, ("enterprise1", "reviewer1"))
    agent = who.get("enterprise1")
    if agent is None or agent.enterprise_id is None or "reviewer1" not in who:
        return 0
    enterprise = session.get(Enterprise, agent.enterprise_id)
    assert enterprise is not None
    bc = industry.apply(
        session,
        reg,
        agent,
        industry.ApplyRequest(
            industry="convenience-store", uscc=enterprise.uscc, answers=SHOP, channel="app"
        ),
    )
    form = onething.form_of(session, reg, bc)
    missing = {
        f["key"]: filler(f)
        for f in bc.plan["fields"]
        if f["provided_by"] is None and f["required"] and f["key"] not in form
    }
    # What a shop would write where no registry knows it (made up, marked as a demo).
    shop = {
        "store.name": "浦江便利店（演示）",
        "premises.address": "上海市浦东新区示例路1号（演示）",
    }
    onething.save_form(session, reg, agent, bc.id, {**missing, **shop})
    for m in onething.materials_view(session, bc, onething.tasks_of(session, bc)):
        if m.needs_upload:
            onething.upload(
                session, reg, store, agent, bc.id, m.identity, f"{m.name}.pdf", scan(m.name)
            )
    onething.submit(session, reg, agent, bc.id)
    try:
        with session.begin_nested():  # the review, or none of it
            for task in onething.tasks_of(session, bc):
                for action in ("accept", "start_review", "approve"):
                    cases.transition(session, reg, who["reviewer1"], task.id, action, None)
    except DomainError as exc:
        # Past the calendar's known years no case can be accepted: the demo leaves it submitted.
        if exc.code != "calendar_year_unknown":
            raise
    return 1
