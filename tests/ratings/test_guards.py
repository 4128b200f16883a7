"""What must hold under pressure and misuse: two steps on one ticket at once apply once, the
rater reads the answer but not the administration's notes, the pad cannot speak for the person,
an answered rating is not rewritten, and odd input is a 4xx."""

from __future__ import annotations

import threading
from datetime import date
from typing import Any

from sqlalchemy import func, select, update

from tests.cases.test_pages import browser
from tests.idcode.conftest import World
from tests.identity.test_pages import HTML, csrf_of
from tests.ratings.helpers import finished_case, rate, step, visit
from tongban.db import make_sessionmaker
from tongban.errors import DomainError
from tongban.identity.models import Account
from tongban.identity.service import principal_of
from tongban.notify.models import Message
from tongban.ratings import service as ratings
from tongban.ratings.models import RatingTicket, TicketEvent


def _bad_ticket(world: World) -> tuple[int, str, int]:
    case = finished_case(world)
    r = rate(world, "citizen1", case_id=case["id"], level=1, comment="指南写错了")
    assert r.status_code == 201, r.text
    return r.json()["ticket"]["id"], f"rev_{case['department']}", r.json()["id"]


def test_two_answers_at_once_apply_once(rated: World, a_known_day: date) -> None:
    tid, reviewer, rating_id = _bad_ticket(rated)
    for action, body in (("verify", {"category": "system", "verification": "系统提示有误"}),
                         ("rectify", {"text": "已修正提示"})):  # fmt: skip
        assert step(rated, reviewer, tid, action, **body).status_code == 200
    sessions = make_sessionmaker(rated.engine)
    with sessions() as session:
        account = session.scalars(select(Account).where(Account.username == reviewer)).one()
        principal = principal_of(account)
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def answer(text: str) -> None:
        with sessions() as session:
            start.wait()
            try:
                ratings.answer(session, rated.settings, principal, tid, text)
                session.commit()
                outcomes.append("answered")
            except DomainError as exc:
                session.rollback()
                outcomes.append(exc.code)

    threads = [threading.Thread(target=answer, args=(f"答复{n}",)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["answered", "ticket_wrong_step"]
    with sessions() as session:
        answers = session.scalar(
            select(func.count()).where(TicketEvent.ticket_id == tid, TicketEvent.action == "answer")
        )
        texts = session.scalar(
            select(func.count()).where(
                Message.topic == f"rating:{rating_id}", Message.channel == "sms"
            )
        )
    assert answers == 1 and texts == 1


def test_the_rater_reads_the_answer_not_the_units_notes(rated: World, a_known_day: date) -> None:
    tid, reviewer, _ = _bad_ticket(rated)
    step(
        rated,
        reviewer,
        tid,
        "verify",
        category="misunderstanding",
        verification="内部：评价人未细读指南",
    )
    step(rated, reviewer, tid, "answer", text="指南第三条已写明，欢迎来电咨询")
    seen = rated.client.get(f"/api/v1/rating-tickets/{tid}", headers=rated.auth("citizen1")).json()
    notes = [e["note"] for e in seen["events"]]
    assert "指南第三条已写明，欢迎来电咨询" in notes
    assert not any("内部" in (n or "") for n in notes)
    assert seen["verification"] is None and all(e["actor"] is None for e in seen["events"])
    staff = rated.client.get(f"/api/v1/rating-tickets/{tid}", headers=rated.auth(reviewer)).json()
    assert any("内部" in (e["note"] or "") for e in staff["events"])


def test_a_step_answer_carries_no_comment_only_the_audited_read_does(
    rated: World, a_known_day: date
) -> None:
    tid, reviewer, _ = _bad_ticket(rated)
    done = step(rated, reviewer, tid, "verify", category="policy", verification="政策规定")
    assert "comment" not in done.json()["rating"]
    read = rated.client.get(f"/api/v1/rating-tickets/{tid}", headers=rated.auth(reviewer))
    assert read.json()["rating"]["comment"] == "指南写错了"


def test_the_pad_gives_only_a_good_tap_in_the_persons_name(rated: World, a_known_day: date) -> None:
    vid = visit(rated, "citizen2", staff="window1")
    bad = rate(rated, "window1", visit_id=vid, level=1, channel="pad")
    assert bad.status_code == 422 and {e["field"] for e in bad.json()["errors"]} == {"level"}
    words = rate(rated, "window1", visit_id=vid, level=5, channel="pad", comment="很好")
    assert words.status_code == 422
    graded = rate(
        rated, "window1", visit_id=vid, level=4, channel="pad", indicators={"attitude": 5}
    )
    assert graded.status_code == 422
    assert rate(rated, "window1", visit_id=vid, level=5, channel="pad").status_code == 201


def test_an_answered_rating_is_not_rewritten_even_after_reopening(
    rated: World, a_known_day: date
) -> None:
    tid, reviewer, _ = _bad_ticket(rated)
    step(rated, reviewer, tid, "verify", category="system", verification="属实")
    step(rated, reviewer, tid, "rectify", text="已修正")
    step(rated, reviewer, tid, "answer", text="已整改")
    case_id = rated.client.get(
        f"/api/v1/rating-tickets/{tid}", headers=rated.auth("citizen1")
    ).json()["rating"]["case_id"]
    assert rate(rated, "citizen1", case_id=case_id, level=5).json()["code"] == "rating_answered"
    step(rated, "citizen1", tid, "reply", satisfied=False)
    again = rate(rated, "citizen1", case_id=case_id, level=5)
    assert again.status_code == 409 and again.json()["code"] == "rating_answered"


def test_a_late_step_is_late_even_when_its_due_day_came_after_it_began(
    rated: World, a_known_day: date, monkeypatch: Any
) -> None:
    tid, reviewer, _ = _bad_ticket(rated)
    with rated.session() as session:
        session.execute(update(RatingTicket).where(RatingTicket.id == tid).values(due_on=None))
        session.commit()
    monkeypatch.setattr("tongban.licenses.service.today", lambda: date(a_known_day.year, 7, 31))
    t = step(rated, reviewer, tid, "verify", category="policy", verification="属实").json()
    assert t["late_steps"] == 1 and t["events"][-1]["late"] is True


def test_empty_filters_mean_no_filter_and_odd_levels_are_refused(
    rated: World, a_known_day: date
) -> None:
    empty = rated.client.get(
        "/api/v1/ratings/stats", params={"department": "", "hall": "", "matter": "", "month": ""}
    )
    assert empty.status_code == 200
    assert empty.json() == rated.client.get("/api/v1/ratings/stats").json()
    case = finished_case(rated)
    person = browser(rated, "citizen1")
    page = person.get(f"/cases/{case['id']}/rate", headers=HTML)
    odd = person.post(
        f"/cases/{case['id']}/rate",
        data={"csrf_token": csrf_of(page.text), "level": "²", "ind.efficiency": "٣"},
        headers=HTML,
    )
    assert odd.status_code == 200 and "请选择一个评价等级" in odd.text
