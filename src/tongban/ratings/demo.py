"""Ratings of the demo accounts (a demo database only): the enterprise agent rates two finished
filings, one of them badly, so the dashboard has a ticket that a market-regulation reviewer has
verified and must now rectify."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tongban.cases import service as cases
from tongban.cases.demo import apply, principals
from tongban.cases.files import FileStore
from tongban.errors import DomainError
from tongban.identity.models import Enterprise
from tongban.licenses.service import Registry
from tongban.ratings import service as ratings
from tongban.settings import Settings

FILING = "07E001000005"  # 仅销售预包装食品备案, reviewed by market regulation (reviewer1)
RATINGS = [
    (5, {"efficiency": 5, "guide_accuracy": 5, "convenience": 4, "ease_of_use": 5}, None),
    (2, {"efficiency": 2, "guide_accuracy": 2}, "办事指南没有写明需要提供平面图，补正了一次"),
]


def load_demo_ratings(session: Session, settings: Settings, reg: Registry, store: FileStore) -> int:
    who = principals(session, ("enterprise1", "reviewer1"))
    agent, reviewer = who.get("enterprise1"), who.get("reviewer1")
    if agent is None or reviewer is None or agent.enterprise_id is None:
        return 0
    enterprise = session.get(Enterprise, agent.enterprise_id)
    assert enterprise is not None
    made = 0
    for level, indicators, comment in RATINGS:
        try:
            with session.begin_nested():
                case = apply(session, reg, store, agent, FILING, enterprise.uscc)
                for action in ("accept", "start_review", "approve", "deliver"):
                    cases.transition(session, reg, reviewer, case.id, action, None)
                req = ratings.RatingRequest(case.id, None, level, indicators, comment, "app")
                rating, _ = ratings.rate(session, settings, reg.keyring, agent, req)
        except DomainError as exc:
            if exc.code != "calendar_year_unknown":  # no due day past the calendar's years
                raise
            continue
        made += 1
        ticket = ratings.ticket_of(session, rating.id)
        if ticket is not None:
            ratings.verify(
                session,
                settings,
                reviewer,
                ticket.id,
                "department_fault",
                "经核实，办事指南材料清单未列出经营场所平面图，窗口按要求补正。",
            )
    return made
