"""Cases end to end: idempotent creation, routing, every transition and refusal, the working-day
clock with its 补正 pause, and an approval that issues the license."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

from tests.cases.helpers import SCHOOL, apply, move, reviewer_of
from tests.idcode.conftest import World
from tongban.cases.models import Case
from tongban.catalog.models import Department, Hall, LicenseType, Matter
from tongban.identity.models import Account, Enterprise, Person
from tongban.workdays.service import calendar, known_years

pytestmark = pytest.mark.usefixtures("a_known_day")


def test_a_person_applies_and_the_case_goes_to_their_street_centre(full: World) -> None:
    r = apply(full, SCHOOL)
    assert r.status_code == 200, r.text
    case = r.json()
    assert case["status"] == "submitted"
    assert case["number"].startswith("TB")
    with full.session() as session:
        person = session.get(
            Person, session.scalar(select(Account.person_id).where(Account.username == "citizen1"))
        )
        hall = session.scalars(select(Hall).where(Hall.key == case["hall"])).one()
    assert person is not None
    assert hall.kind == "street_center"
    assert hall.district_code == person.district_code
    materials = {m["key"]: m["resolution"] for m in case["materials"]}
    assert materials["household_register"] == "license"
    assert [h["action"] for h in case["history"]] == ["create", "submit"]


def test_the_same_idempotency_key_returns_the_first_case(full: World) -> None:
    first = apply(full, SCHOOL, key="app-retry-1").json()
    again = apply(full, SCHOOL, key="app-retry-1").json()
    other = apply(full, SCHOOL, key="app-retry-2").json()
    assert again["id"] == first["id"]
    assert other["id"] != first["id"]
    with full.session() as session:
        count = session.scalar(select(Case.id).where(Case.idempotency_key == "app-retry-1"))
    assert count == first["id"]


def test_an_enterprise_case_goes_to_its_district_centre(full: World) -> None:
    with full.session() as session:
        enterprise = session.scalars(select(Enterprise).order_by(Enterprise.id)).first()
        assert enterprise is not None
        uscc, district = enterprise.uscc, enterprise.district_code
        code = next(
            m.code
            for m in session.scalars(
                select(Matter)
                .join(Department, Department.id == Matter.department_id)
                .where(
                    Matter.for_enterprise.is_(True),
                    Matter.for_person.is_(False),
                    Department.level == "city",
                )
                .order_by(Matter.code)
            )
            if not m.definition.get("halls")  # a general matter, not a specialized hall's
        )
    r = apply(full, code, "enterprise1", uscc=uscc)
    assert r.status_code == 200, r.text
    with full.session() as session:
        hall = session.scalars(select(Hall).where(Hall.key == r.json()["hall"])).one()
    assert hall.kind == "district_center"
    assert hall.district_code == district


def test_bad_forms_are_refused_field_by_field(full: World) -> None:
    r = full.client.post(
        "/api/v1/cases",
        json={"matter": SCHOOL, "form": {"person.phone": "12345", "made.up": "x"}},
        headers=full.auth("citizen1"),
    )
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert "form.person.phone" in fields
    assert "form.made.up" in fields
    assert any(e["code"] == "missing" for e in r.json()["errors"])


def test_the_whole_road_with_a_correction_pause(full: World) -> None:
    case = apply(full, SCHOOL).json()
    reviewer = reviewer_of(full, SCHOOL)
    refused = move(full, case["id"], "citizen1", "accept")
    assert refused.status_code == 409
    assert refused.json()["allowed"] == []
    accepted = move(full, case["id"], reviewer, "accept").json()
    with full.session() as session:
        cal = calendar(session)
        promised = session.scalar(select(Matter.promised_days).where(Matter.code == SCHOOL))
        from tongban.licenses.service import today

        assert accepted["due_date"] == cal.add_working_days(today(), promised).isoformat()
    assert move(full, case["id"], reviewer, "request_correction").status_code == 422  # no reason
    paused = move(full, case["id"], reviewer, "request_correction", "户口簿页不清晰").json()
    assert paused["status"] == "correction_requested"
    assert paused["paused"] is True
    # Three working days pass before the applicant corrects it.
    with full.session() as session:
        from tongban.licenses.service import today

        start = today()
        cal = calendar(session)
        back = start
        while cal.working_days_between(back, start) < 3:
            back -= timedelta(days=1)
        session.execute(update(Case).where(Case.id == case["id"]).values(paused_since=back))
        session.commit()
    resumed = move(full, case["id"], "citizen1", "resubmit").json()
    assert resumed["status"] == "accepted"
    with full.session() as session:
        cal = calendar(session)
        from datetime import date

        assert (
            resumed["due_date"]
            == cal.add_working_days(date.fromisoformat(accepted["due_date"]), 3).isoformat()
        )
    assert move(full, case["id"], reviewer, "start_review").json()["status"] == "under_review"
    approved = move(full, case["id"], reviewer, "approve").json()
    assert approved["status"] == "approved"
    wrong = move(full, case["id"], reviewer, "deny", "晚了")
    assert wrong.status_code == 409
    assert wrong.json()["allowed"] == ["deliver"]
    done = move(full, case["id"], reviewer, "deliver").json()
    assert done["status"] == "delivered"
    actions = [h["action"] for h in done["history"]]
    assert actions == [
        "create",
        "submit",
        "accept",
        "request_correction",
        "resubmit",
        "start_review",
        "approve",
        "deliver",
    ]


def test_an_approval_issues_the_matters_license(full: World) -> None:
    with full.session() as session:
        row = session.execute(
            select(Matter.code, LicenseType.key)
            .join(LicenseType, LicenseType.id == Matter.issues_license_id)
            .where(Matter.for_person.is_(True), LicenseType.holder == "person")
            .order_by(Matter.promised_days, Matter.code)
        ).first()
    assert row is not None
    code, type_key = row
    case = apply(full, code).json()
    reviewer = reviewer_of(full, code)
    for action in ("accept", "start_review"):
        r = move(full, case["id"], reviewer, action)
        assert r.status_code == 200, r.text
    approved = move(full, case["id"], reviewer, "approve").json()
    identifier = approved["license"]
    assert identifier.startswith("1.2.156.3005.2.")
    mine = full.client.get("/api/v1/me/licenses", headers=full.auth("citizen1")).json()
    assert identifier in [d["identifier"] for d in mine["items"]]
    document = next(d for d in mine["items"] if d["identifier"] == identifier)
    assert document["type"]["key"] == type_key
    assert document["matter"] == code


def test_others_cannot_see_or_move_a_case(full: World) -> None:
    case = apply(full, SCHOOL).json()
    assert (
        full.client.get(f"/api/v1/cases/{case['id']}", headers=full.auth("citizen2")).status_code
        == 404
    )
    assert move(full, case["id"], "citizen2", "submit").status_code == 404
    assert (
        move(
            full,
            case["id"],
            "rev_sh-gaj" if reviewer_of(full, SCHOOL) != "rev_sh-gaj" else "rev_sh-scjgj",
            "accept",
        ).status_code
        == 404
    )
    mine = full.client.get("/api/v1/me/cases", headers=full.auth("citizen1")).json()
    assert case["id"] in [c["id"] for c in mine]


def test_a_deadline_into_an_unknown_year_is_refused_not_guessed(
    full: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    with full.session() as session:
        last = max(known_years(session))
        code = session.scalars(
            select(Matter.code)
            .where(Matter.for_person.is_(True), Matter.promised_days >= 1)
            .order_by(Matter.code)
        ).first()
    assert code
    case = apply(full, code).json()
    monkeypatch.setattr("tongban.licenses.service.today", lambda: date(last, 12, 31))
    r = move(full, case["id"], reviewer_of(full, code), "accept")
    assert r.status_code == 409
    assert r.json()["code"] == "calendar_year_unknown"
    assert (
        full.client.get(f"/api/v1/cases/{case['id']}", headers=full.auth("citizen1")).json()[
            "status"
        ]
        == "submitted"
    )  # nothing changed


def test_the_daily_sweep_warns_at_80_percent_and_marks_overdue(
    full: World, a_known_day: date
) -> None:
    from tongban.cases.service import sweep

    reviewer = reviewer_of(full, SCHOOL)
    case = apply(full, SCHOOL).json()
    accepted = move(full, case["id"], reviewer, "accept").json()
    due = date.fromisoformat(accepted["due_date"])
    with full.session() as session:
        cal = calendar(session)
        total = cal.working_days_between(a_known_day, due)
        # The day on which 80% of the working days are used, and the day after the due date.
        day = a_known_day
        while cal.working_days_between(a_known_day, day) < 0.8 * total:
            day += timedelta(days=1)
        sweep(session, day - timedelta(days=1))  # short of 80%: not yet
        session.commit()
    early = full.client.get(f"/api/v1/cases/{case['id']}", headers=full.auth("citizen1")).json()
    assert early["warning"] is False
    with full.session() as session:
        warned, _ = sweep(session, day)
        session.commit()
    assert warned >= 1
    flagged = full.client.get(f"/api/v1/cases/{case['id']}", headers=full.auth("citizen1")).json()
    assert flagged["warning"] is True
    assert flagged["overdue"] is False
    with full.session() as session:
        _, late = sweep(session, due + timedelta(days=1))
        session.commit()
    assert late >= 1
    queue = full.client.get("/api/v1/cases/queue", headers=full.auth(reviewer)).json()
    ours = next(c for c in queue if c["id"] == case["id"])
    assert ours["overdue"] is True
    dues = [c["due_date"] for c in queue if c["due_date"]]
    assert dues == sorted(dues)
    assert full.client.get("/api/v1/cases/queue", headers=full.auth("citizen1")).status_code == 403
    report = full.client.get("/api/v1/cases/deadline-report", headers=full.auth("admin"))
    line = next(
        x
        for x in report.json()["items"]
        if x["hall"] == ours["hall"] and x["department"] == ours["department"]
    )
    assert line["overdue"] >= 1
    assert line["open"] >= line["overdue"]
    assert report.json()["items"][0]["overdue"] >= line["overdue"]  # worst first
    denied = full.client.get("/api/v1/cases/deadline-report", headers=full.auth(reviewer))
    assert denied.status_code == 403


def test_a_case_paused_for_correction_is_not_marked(full: World, a_known_day: date) -> None:
    from tongban.cases.service import sweep

    reviewer = reviewer_of(full, SCHOOL)
    case = apply(full, SCHOOL).json()
    accepted = move(full, case["id"], reviewer, "accept").json()
    move(full, case["id"], reviewer, "request_correction", "材料不全")
    with full.session() as session:
        sweep(session, date.fromisoformat(accepted["due_date"]) + timedelta(days=10))
        session.commit()
    paused = full.client.get(f"/api/v1/cases/{case['id']}", headers=full.auth("citizen1")).json()
    assert paused["overdue"] is False
    assert paused["warning"] is False


def test_the_applicant_is_told_of_every_step(full: World) -> None:
    case = apply(full, SCHOOL, "citizen2").json()
    reviewer = reviewer_of(full, SCHOOL)
    move(full, case["id"], reviewer, "accept")
    move(full, case["id"], reviewer, "request_correction", "请补充户口簿")
    messages = full.client.get("/api/v1/me/inbox", headers=full.auth("citizen2")).json()
    ours = [m for m in messages if m["topic"] == f"case:{case['id']}"]
    bodies = [m["body"] for m in reversed(ours)]
    assert bodies[0] == "已提交，等待受理"
    assert bodies[1].startswith("已受理，承诺")
    assert bodies[2] == "需要补正：请补充户口簿（补正期间不计时）"
    read = full.client.post(f"/api/v1/me/inbox/{ours[0]['id']}/read", headers=full.auth("citizen2"))
    assert read.json()["read"] is True
    other = full.client.post(
        f"/api/v1/me/inbox/{ours[0]['id']}/read", headers=full.auth("citizen1")
    )
    assert other.status_code == 404


def test_odd_input_gets_a_4xx(full: World) -> None:
    huge = full.client.get("/api/v1/cases/99999999999999", headers=full.auth("citizen1"))
    assert huge.status_code == 422
    admin = full.auth("admin")
    twice = full.client.put(
        "/api/v1/calendar/2031",
        json={
            "days": [
                {"date": "2031-01-01", "kind": "holiday", "name": "元旦"},
                {"date": "2031-01-01", "kind": "holiday", "name": "元旦"},
            ]
        },
        headers=admin,
    )
    assert twice.status_code == 422
    assert full.client.get("/api/v1/calendar/2031").status_code == 409  # nothing was written
