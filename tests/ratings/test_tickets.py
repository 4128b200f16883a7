"""差评整改: a bad rating's ticket through verification, rectification and the answer, each step
due within its working days; overdue steps escalated once, the rater's reply (reopening once),
appeals decided by a supervisor, and nobody outside the unit acting on it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.idcode.conftest import World
from tests.ratings.helpers import finished_case, rate, step, visit
from tongban.audit.models import AuditEntry
from tongban.catalog.models import Department
from tongban.identity.models import Account
from tongban.identity.schemas import Role
from tongban.identity.service import create_account
from tongban.notify.models import Message
from tongban.ratings.service import SweepReport, sweep
from tongban.workdays.service import calendar

Clock = Callable[[date], date]
COLLEAGUE = "window1_peer"
WRONG = "ticket_wrong_step"
SCHOOL_DEPARTMENT = "sh-jw"  # the department of helpers.SCHOOL, the matter rated here


@pytest.fixture
def clock(a_known_day: date, monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Sets the service's today; tests start on `a_known_day`."""

    def move_to(day: date) -> date:
        monkeypatch.setattr("tongban.licenses.service.today", lambda: day)
        return day

    return move_to


@pytest.fixture(scope="module")
def colleague(rated: World) -> str:
    """A second window staff member of window1's hall."""
    hall = hall_of(rated, "window1")
    with rated.session() as session:
        if session.scalar(select(Account.id).where(Account.username == COLLEAGUE)) is None:
            shared = session.scalars(select(Account.password_hash)).first()
            create_account(
                session,
                COLLEAGUE,
                None,
                [(Role.WINDOW_STAFF, hall)],
                password_hash=shared,
                display_name="街镇受理窗口（二）",
            )
            session.commit()
    return COLLEAGUE


def workdays(world: World, start: date, days: int) -> date:
    with world.session() as session:
        return calendar(session).add_working_days(start, days)


def ok(r: Any) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    return dict(r.json())


def refused(r: Any, status: int, code: str | None = None) -> None:
    assert r.status_code == status, r.text
    if code is not None:
        assert r.json()["code"] == code, r.text


def fields(r: Any) -> set[str]:
    assert r.status_code == 422 and r.json()["code"] == "validation_failed", r.text
    return {e["field"] for e in r.json()["errors"]}


def bad_rating(world: World, level: int = 2) -> tuple[int, str]:
    """citizen1's bad rating of a fresh case: its ticket and the department's reviewer."""
    case = finished_case(world)
    r = rate(world, "citizen1", case_id=case["id"], level=level, comment="材料要求前后不一")
    assert r.status_code == 201, r.text
    return r.json()["ticket"]["id"], f"rev_{case['department']}"


def look(world: World, user: str, ticket_id: int) -> Any:
    return world.client.get(f"/api/v1/rating-tickets/{ticket_id}", headers=world.auth(user))


def ticket(world: World, user: str, ticket_id: int) -> dict[str, Any]:
    return ok(look(world, user, ticket_id))


def hall_of(world: World, username: str) -> str:
    with world.session() as session:
        account = session.scalars(select(Account).where(Account.username == username)).one()
        return next(g.binding for g in account.roles if g.role == Role.WINDOW_STAFF)


def figures(world: World, department: str) -> dict[str, Any]:
    return ok(world.client.get("/api/v1/ratings/stats", params={"department": department}))


def run_sweep(world: World, day: date) -> SweepReport:
    with world.session() as session:
        report = sweep(session, world.settings, day)
        session.commit()
    return report


def actions(t: dict[str, Any]) -> list[str]:
    return [e["action"] for e in t["events"]]


def verifying(world: World, user: str, ticket_id: int, category: str = "policy") -> Any:
    return step(world, user, ticket_id, "verify", category=category, verification="属实")


def verified(world: World, reviewer: str, ticket_id: int, category: str) -> dict[str, Any]:
    return ok(verifying(world, reviewer, ticket_id, category))


def answered(world: World, reviewer: str, ticket_id: int) -> dict[str, Any]:
    ok(step(world, reviewer, ticket_id, "rectify", text="指南已补充原件要求"))
    return ok(step(world, reviewer, ticket_id, "answer", text="已整改，感谢监督"))


def test_the_whole_loop_keeps_each_step_to_its_due_day_and_records_it(
    rated: World, a_known_day: date, clock: Clock
) -> None:
    start = a_known_day
    before = figures(rated, SCHOOL_DEPARTMENT)
    tid, reviewer = bad_rating(rated)
    assert reviewer == f"rev_{SCHOOL_DEPARTMENT}"
    opened = ticket(rated, reviewer, tid)
    assert opened["status"] == "verifying" and opened["unit_kind"] == "department"
    assert opened["unit_key"] == SCHOOL_DEPARTMENT and opened["opened_on"] == start.isoformat()
    assert opened["due_on"] == workdays(rated, start, 5).isoformat()

    verify_day = clock(workdays(rated, start, 1))
    t = verified(rated, reviewer, tid, "department_fault")
    assert t["status"] == "rectifying" and t["category"] == "department_fault"
    assert t["due_on"] == workdays(rated, verify_day, 15).isoformat()

    rectify_day = clock(workdays(rated, verify_day, 3))
    t = ok(step(rated, reviewer, tid, "rectify", text="指南已补充原件要求"))
    assert t["status"] == "answering" and t["measures"] == "指南已补充原件要求"
    assert t["due_on"] == workdays(rated, rectify_day, 5).isoformat()

    answer_day = clock(workdays(rated, rectify_day, 1))
    t = ok(step(rated, reviewer, tid, "answer", text="已整改，感谢监督"))
    assert t["status"] == "awaiting_reply" and t["answered_on_time"] is True
    assert t["due_on"] == workdays(rated, answer_day, 5).isoformat()
    with rated.session() as session:
        sms = session.scalars(
            select(Message).where(
                Message.topic == f"rating:{t['rating']['id']}", Message.channel == "sms"
            )
        ).all()
    assert [m.title for m in sms] == ["您的评价有了反馈"] and "已整改" in sms[0].body

    seen = ticket(rated, "citizen1", tid)
    assert seen["answer"] == "已整改，感谢监督" and seen["verification"] is None
    assert {e["actor"] for e in seen["events"]} == {None}
    closed = ok(step(rated, "citizen1", tid, "reply", satisfied=True, note="好的"))
    assert closed["status"] == "closed" and closed["resolution"] == "satisfied"
    assert closed["due_on"] is None

    events = ticket(rated, reviewer, tid)["events"]
    assert [(e["action"], e["from"], e["to"], e["actor"]) for e in events] == [
        ("open", None, "verifying", "system"),
        ("verify", "verifying", "rectifying", reviewer),
        ("rectify", "rectifying", "answering", reviewer),
        ("answer", "answering", "awaiting_reply", reviewer),
        ("close", "awaiting_reply", "closed", "rater"),
    ]
    dues = [(start, 5), (verify_day, 15), (rectify_day, 5), (answer_day, 5)]
    assert [e["due_on"] for e in events] == [
        *(workdays(rated, day, n).isoformat() for day, n in dues),
        None,
    ]
    assert not any(e["late"] for e in events)
    after = figures(rated, SCHOOL_DEPARTMENT)
    for key in ("count", "bad", "rectified", "rectified_on_time"):
        assert after[key] - before[key] == 1, key


@pytest.mark.parametrize("category", ["policy", "misunderstanding"])
def test_policy_and_misunderstanding_are_explained_without_rectifying(
    rated: World, a_known_day: date, category: str
) -> None:
    tid, reviewer = bad_rating(rated)
    t = verified(rated, reviewer, tid, category)
    assert t["status"] == "answering" and t["category"] == category
    assert t["due_on"] == workdays(rated, a_known_day, 5).isoformat()
    refused(step(rated, reviewer, tid, "rectify", text="无"), 409, WRONG)
    t = ok(step(rated, reviewer, tid, "answer", text="该要求系政策规定，已解释"))
    assert t["status"] == "awaiting_reply" and t["measures"] is None
    assert actions(t) == ["open", "verify", "answer"]


def test_an_overdue_step_is_escalated_once_and_finishing_late_is_not_on_time(
    rated: World, a_known_day: date, clock: Clock
) -> None:
    before = figures(rated, SCHOOL_DEPARTMENT)
    tid, reviewer = bad_rating(rated)
    due = workdays(rated, a_known_day, 5)
    run_sweep(rated, due)
    assert ticket(rated, reviewer, tid)["escalated"] is False

    overdue = due + timedelta(days=1)
    assert run_sweep(rated, overdue).escalated >= 1
    run_sweep(rated, overdue)
    t = ticket(rated, "supervisor2", tid)
    assert t["escalated"] is True and t["escalated_on"] == overdue.isoformat()
    assert actions(t).count("escalate") == 1
    escalation = t["events"][-1]
    assert escalation["late"] is True and escalation["from"] == escalation["to"] == "verifying"

    clock(overdue)
    t = verified(rated, reviewer, tid, "department_fault")
    assert t["late_steps"] == 1 and t["escalated"] is False
    assert t["events"][-1]["action"] == "verify" and t["events"][-1]["late"] is True
    t = answered(rated, reviewer, tid)
    assert t["late_steps"] == 1 and t["answered_on_time"] is False
    assert [e["late"] for e in t["events"][-2:]] == [False, False]

    after = figures(rated, SCHOOL_DEPARTMENT)
    assert after["rectified"] - before["rectified"] == 1
    assert after["rectified_on_time"] == before["rectified_on_time"]


def test_not_satisfied_reopens_once_and_then_closes_unsatisfied(
    rated: World, a_known_day: date, clock: Clock
) -> None:
    tid, reviewer = bad_rating(rated, level=1)
    verified(rated, reviewer, tid, "system")
    answered(rated, reviewer, tid)
    refused(step(rated, "citizen2", tid, "reply", satisfied=False), 404, "ticket_not_found")

    reopen_day = clock(workdays(rated, a_known_day, 2))
    t = ok(step(rated, "citizen1", tid, "reply", satisfied=False, note="仍要跑两趟"))
    assert t["status"] == "rectifying" and t["reopened"] == 1
    assert t["answered_on_time"] is None and t["resolution"] is None
    assert t["due_on"] == workdays(rated, reopen_day, 15).isoformat()
    reopen = t["events"][-1]
    assert (reopen["action"], reopen["from"], reopen["note"]) == (
        "reopen",
        "awaiting_reply",
        "仍要跑两趟",
    )

    answered(rated, reviewer, tid)
    t = ok(step(rated, "citizen1", tid, "reply", satisfied=False))
    assert t["status"] == "closed" and t["resolution"] == "unsatisfied" and t["reopened"] == 1
    assert actions(t).count("reopen") == 1


def test_an_answer_left_unreplied_is_closed_as_accepted_after_its_due_day(
    rated: World, a_known_day: date
) -> None:
    tid, reviewer = bad_rating(rated)
    verified(rated, reviewer, tid, "misunderstanding")
    ok(step(rated, reviewer, tid, "answer", text="已电话解释"))
    due = workdays(rated, a_known_day, 5)

    run_sweep(rated, due)
    assert ticket(rated, reviewer, tid)["status"] == "awaiting_reply"
    assert run_sweep(rated, due + timedelta(days=1)).closed_no_reply >= 1
    t = ticket(rated, reviewer, tid)
    assert t["status"] == "closed" and t["resolution"] == "no_reply"
    assert t["events"][-1]["actor"] == "system" and "escalate" not in actions(t)
    refused(step(rated, "citizen1", tid, "reply", satisfied=False), 409, WRONG)


def test_an_upheld_appeal_takes_the_rating_out_of_the_figures_and_is_logged(
    rated: World, a_known_day: date
) -> None:
    before = figures(rated, SCHOOL_DEPARTMENT)
    tid, reviewer = bad_rating(rated, level=1)
    assert figures(rated, SCHOOL_DEPARTMENT)["count"] == before["count"] + 1

    t = ok(step(rated, reviewer, tid, "appeal", text="评价内容与本办件无关"))
    assert t["status"] == "appealed" and t["appeal_reason"] == "评价内容与本办件无关"
    assert t["due_on"] == workdays(rated, a_known_day, 5).isoformat()
    refused(step(rated, reviewer, tid, "decision", upheld=True, reason="自己裁定"), 403)
    refused(step(rated, "admin", tid, "decision", upheld=True, reason="管理员"), 403, "forbidden")

    t = ok(step(rated, "supervisor2", tid, "decision", upheld=True, reason="经查属误评"))
    assert t["status"] == "closed" and t["resolution"] == "appeal_upheld"
    assert t["appeal_decision"] == "upheld" and t["rating"]["excluded"] is True
    assert figures(rated, SCHOOL_DEPARTMENT) == before
    with rated.session() as session:
        logged = session.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "rating.appeal_upheld", AuditEntry.subject_id == str(tid)
            )
        ).all()
    assert [(e.actor, e.actor_role, e.reason) for e in logged] == [
        ("supervisor2", "supervisor", "经查属误评")
    ]
    again = rate(rated, "citizen1", case_id=t["rating"]["case_id"], level=2, comment="再评")
    refused(again, 409, "rating_locked")


def test_a_rejected_appeal_returns_to_its_step_with_a_fresh_due_day_and_is_not_repeated(
    rated: World, a_known_day: date, clock: Clock
) -> None:
    tid, reviewer = bad_rating(rated)
    verified(rated, reviewer, tid, "department_fault")
    appeal_day = clock(workdays(rated, a_known_day, 2))
    t = ok(step(rated, reviewer, tid, "appeal", text="评价人已撤诉"))
    assert t["status"] == "appealed"
    assert t["due_on"] == workdays(rated, appeal_day, 5).isoformat()

    decision_day = clock(workdays(rated, appeal_day, 3))
    t = ok(step(rated, "supervisor2", tid, "decision", upheld=False, reason="理由不成立"))
    assert t["status"] == "rectifying" and t["appeal_decision"] == "rejected"
    assert t["due_on"] == workdays(rated, decision_day, 15).isoformat()
    rejection = t["events"][-1]
    assert (rejection["action"], rejection["from"], rejection["to"]) == (
        "appeal_rejected",
        "appealed",
        "rectifying",
    )
    assert t["rating"]["excluded"] is False
    refused(step(rated, reviewer, tid, "appeal", text="再次申诉"), 409, "already_appealed")
    with rated.session() as session:
        logged = session.scalar(
            select(AuditEntry.actor).where(
                AuditEntry.action == "rating.appeal_rejected", AuditEntry.subject_id == str(tid)
            )
        )
    assert logged == "supervisor2"


def test_a_visit_ticket_goes_to_the_hall_and_not_to_the_staff_member_rated(
    rated: World, a_known_day: date, colleague: str
) -> None:
    served = visit(rated, "citizen1", "window1")
    r = rate(
        rated, "citizen1", visit_id=served, level=1, comment="态度差", indicators={"attitude": 1}
    )
    assert r.status_code == 201, r.text
    tid = r.json()["ticket"]["id"]
    t = ticket(rated, colleague, tid)
    assert (t["unit_kind"], t["unit_key"]) == ("hall", hall_of(rated, "window1"))

    refused(verifying(rated, "window1", tid, "department_fault"), 403, "own_rating")
    refused(look(rated, "window1", tid), 404, "ticket_not_found")
    mine = ok(rated.client.get("/api/v1/rating-tickets", headers=rated.auth("window1")))
    assert tid not in [item["id"] for item in mine["items"]]
    refused(verifying(rated, "window2", tid), 404, "ticket_not_found")
    refused(look(rated, "window2", tid), 404)
    listed = ok(rated.client.get("/api/v1/rating-tickets", headers=rated.auth(colleague)))
    assert tid in [item["id"] for item in listed["items"]]
    assert verified(rated, colleague, tid, "department_fault")["status"] == "rectifying"


def test_other_units_and_other_people_neither_see_nor_handle_a_ticket(
    rated: World, a_known_day: date
) -> None:
    tid, reviewer = bad_rating(rated)
    with rated.session() as session:
        other = session.scalars(
            select(Department.key)
            .where(Department.key != SCHOOL_DEPARTMENT)
            .order_by(Department.key)
        ).first()
    stranger = f"rev_{other}"
    refused(look(rated, stranger, tid), 404)
    refused(verifying(rated, stranger, tid), 404)
    listed = ok(rated.client.get("/api/v1/rating-tickets", headers=rated.auth(stranger)))
    assert tid not in [item["id"] for item in listed["items"]]
    refused(look(rated, "citizen2", tid), 404)
    refused(verifying(rated, "citizen2", tid), 403)
    assert ticket(rated, "supervisor2", tid)["status"] == "verifying"
    refused(verifying(rated, "supervisor2", tid), 403, "not_ticket_unit")
    assert ticket(rated, reviewer, tid)["events"][-1]["action"] == "open"


def test_only_supervisors_urge_and_urging_is_in_the_history(
    rated: World, a_known_day: date
) -> None:
    tid, reviewer = bad_rating(rated)
    refused(step(rated, reviewer, tid, "urge", text="自己督办"), 403)
    refused(step(rated, "citizen1", tid, "urge", text="快点"), 403)
    t = ok(step(rated, "supervisor2", tid, "urge", text="请三日内核实"))
    assert t["status"] == "verifying"
    assert t["due_on"] == workdays(rated, a_known_day, 5).isoformat()
    urged = t["events"][-1]
    assert (urged["action"], urged["from"], urged["to"], urged["actor"], urged["note"]) == (
        "urge",
        "verifying",
        "verifying",
        "supervisor2",
        "请三日内核实",
    )
    ok(step(rated, reviewer, tid, "appeal", text="恶意评价"))
    ok(step(rated, "supervisor2", tid, "decision", upheld=True, reason="成立"))
    refused(step(rated, "supervisor2", tid, "urge", text="再督办"), 409, WRONG)


def test_a_step_out_of_turn_is_refused_and_changes_nothing(rated: World, a_known_day: date) -> None:
    tid, reviewer = bad_rating(rated)
    refused(step(rated, reviewer, tid, "rectify", text="提前整改"), 409, WRONG)
    refused(step(rated, reviewer, tid, "answer", text="提前反馈"), 409, WRONG)
    refused(step(rated, "citizen1", tid, "reply", satisfied=True), 409, WRONG)
    refused(step(rated, "supervisor2", tid, "decision", upheld=True, reason="无"), 409, WRONG)
    verified(rated, reviewer, tid, "department_fault")
    refused(verifying(rated, reviewer, tid), 409, WRONG)
    answered(rated, reviewer, tid)
    refused(step(rated, reviewer, tid, "appeal", text="晚了"), 409, WRONG)
    assert actions(ticket(rated, reviewer, tid)) == ["open", "verify", "rectify", "answer"]


def test_missing_words_are_refused_field_by_field(rated: World, a_known_day: date) -> None:
    tid, reviewer = bad_rating(rated)
    unknown = step(rated, reviewer, tid, "verify", category="fate")
    assert fields(unknown) == {"category", "verification"}
    blank = step(rated, reviewer, tid, "verify", category="policy", verification="  ")
    assert fields(blank) == {"verification"}
    assert fields(step(rated, reviewer, tid, "appeal")) == {"text"}
    assert fields(step(rated, "supervisor2", tid, "decision", upheld=True)) == {"reason"}
    assert fields(step(rated, "citizen1", tid, "reply", note="？")) == {"satisfied"}
    assert ticket(rated, reviewer, tid)["status"] == "verifying"
    verified(rated, reviewer, tid, "system")
    assert fields(step(rated, reviewer, tid, "rectify", text="")) == {"text"}
    whitespace = step(rated, reviewer, tid, "rectify", text="   ")
    assert whitespace.status_code == 422 and whitespace.json()["code"] == "validation_failed"
    assert ticket(rated, reviewer, tid)["status"] == "rectifying"


@pytest.mark.parametrize("action", ["rectify", "appeal", "urge"])
def test_a_blank_text_is_refused_on_the_field_that_was_sent(
    rated: World, a_known_day: date, action: str
) -> None:
    tid, reviewer = bad_rating(rated)
    user = "supervisor2" if action == "urge" else reviewer
    assert fields(step(rated, user, tid, action, text="   ")) == {"text"}
