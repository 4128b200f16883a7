"""The edges of who may do what to a case, and of what a retry or a race can do: an agent whose
grant ended, a signature followed by a change, another window, an expired visit, two approvals
at once, a key reused for something else, and odd input to the pages."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from tests.cases.helpers import PDF, SCHOOL, filled, move, reviewer_of, upload_missing
from tests.cases.test_applying import authorize, license_matter, png, visit
from tests.idcode.conftest import World
from tests.idcode.test_api import id_number_of, person_of
from tests.identity.test_pages import HTML, csrf_of, portal_login
from tongban.cases import service as cases
from tongban.cases.models import Case, CounterVisit
from tongban.db import make_sessionmaker, utcnow
from tongban.identity.models import Account, Enterprise, EnterpriseAgent
from tongban.identity.schemas import Role
from tongban.identity.service import create_account, principal_of
from tongban.licenses.models import License
from tongban.licenses.service import Registry

pytestmark = pytest.mark.usefixtures("a_known_day")


def enterprise_draft(world: World) -> dict[str, Any]:
    with world.session() as session:
        agent = session.scalars(select(Account).where(Account.username == "enterprise1")).one()
        enterprise = session.get(Enterprise, agent.enterprise_id)
        assert enterprise is not None
        uscc = enterprise.uscc
    code = "07E001000005"  # 仅销售预包装食品备案
    form = filled(world, code, "enterprise1", uscc=uscc)
    r = world.client.post(
        "/api/v1/cases",
        json={"matter": code, "form": form, "uscc": uscc, "submit": False},
        headers=world.auth("enterprise1"),
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_an_agent_whose_grant_ended_loses_the_enterprises_cases(full: World) -> None:
    case = enterprise_draft(full)
    with full.session() as session:
        session.execute(update(EnterpriseAgent).values(revoked_at=utcnow()))
        session.commit()
    try:
        r = full.client.get(f"/api/v1/cases/{case['id']}", headers=full.auth("enterprise1"))
        assert r.status_code == 404
        listed = full.client.get("/api/v1/me/cases", headers=full.auth("enterprise1")).json()
        assert case["id"] not in [c["id"] for c in listed]
        moved = full.client.post(
            f"/api/v1/cases/{case['id']}/delivery",
            json={"method": "pickup"},
            headers=full.auth("enterprise1"),
        )
        assert moved.status_code == 404
    finally:
        with full.session() as session:
            session.execute(update(EnterpriseAgent).values(revoked_at=None))
            session.commit()


def counter_case(world: World, window: str = "window1", user: str = "citizen2") -> dict[str, Any]:
    person = person_of(world, user)
    opened = visit(world, window, id_number=id_number_of(world, user), name=person.name)
    assert opened.status_code == 201, opened.text
    made = world.client.post(
        "/api/v1/cases",
        json={"matter": SCHOOL, "form": filled(world, SCHOOL, user), "visit": opened.json()["id"]},
        headers=world.auth(window),
    )
    assert made.status_code == 201, made.text
    case = made.json()
    upload_missing(world, case, window)
    return {**case, "visit": opened.json()["id"]}


def sign(world: World, case_id: int, window: str = "window1") -> Any:
    return world.client.post(
        f"/api/v1/cases/{case_id}/signature",
        files={"file": ("sig.png", png(), "image/png")},
        headers=world.auth(window),
    )


def test_a_change_after_the_signature_needs_a_new_one(full: World) -> None:
    case = counter_case(full)
    assert sign(full, case["id"]).json()["signed"] is True
    changed = full.client.patch(
        f"/api/v1/cases/{case['id']}",
        json={"form": filled(full, SCHOOL, "citizen2") | {"student.current_school": "另一所"}},
        headers=full.auth("window1"),
    )
    assert changed.status_code == 200
    assert changed.json()["signed"] is False
    assert "submit" not in changed.json()["allowed_actions"]
    assert move(full, case["id"], "window1", "submit").status_code == 409
    assert changed.json()["history"][-1]["action"] == "unsign"
    assert sign(full, case["id"]).status_code == 200
    assert move(full, case["id"], "window1", "submit").status_code == 200


def test_only_the_window_serving_the_applicant_works_on_a_counter_case(full: World) -> None:
    case = counter_case(full)
    with full.session() as session:
        hall = session.scalar(select(Case.hall_key).where(Case.id == case["id"]))
        shared = session.scalar(select(Account.password_hash).where(Account.username == "window1"))
        if session.scalar(select(Account.id).where(Account.username == "window1b")) is None:
            create_account(
                session,
                "window1b",
                None,
                [(Role.WINDOW_STAFF, hall or "")],
                password_hash=shared,
                display_name="同厅另一窗口",
            )
        session.commit()
    other = sign(full, case["id"], "window1b")
    assert other.status_code == 403
    assert other.json()["code"] == "not_your_case"
    # When the visits with the applicant have ended the window no longer acts for them.
    with full.session() as session:
        person_id = session.scalar(select(Case.person_id).where(Case.id == case["id"]))
        session.execute(
            update(CounterVisit)
            .where(CounterVisit.person_id == person_id)
            .values(expires_at=utcnow() - timedelta(minutes=1))
        )
        session.commit()
    late = sign(full, case["id"])
    assert late.status_code == 403


def test_a_window_cannot_make_an_enterprise_case_for_a_person(full: World) -> None:
    person = person_of(full, "citizen1")
    opened = visit(full, id_number=id_number_of(full, "citizen1"), name=person.name).json()
    body = {"matter": "01E001000004", "form": {}, "visit": opened["id"], "submit": False}
    r = full.client.post("/api/v1/cases", json=body, headers=full.auth("window1"))
    assert r.status_code == 422
    assert r.json()["errors"][0]["code"] == "enterprise_required"
    # 帮办 is for an enterprise the person represents or acts for, not any enterprise.
    with full.session() as session:
        uscc = session.scalars(select(Enterprise.uscc).order_by(Enterprise.id)).first()
    r = full.client.post("/api/v1/cases", json={**body, "uscc": uscc}, headers=full.auth("window1"))
    assert r.status_code == 403
    assert r.json()["code"] == "not_enterprise_agent"


def test_two_approvals_at_once_issue_one_license(full: World) -> None:
    code = license_matter(full)
    from tests.cases.helpers import apply

    case = apply(full, code).json()
    reviewer = reviewer_of(full, code)
    for action in ("accept", "start_review"):
        assert move(full, case["id"], reviewer, action).status_code == 200
    registry: Registry = full.client.app.state.licenses  # type: ignore[attr-defined]
    sessions = make_sessionmaker(full.engine)
    with sessions() as session:
        account = session.scalars(select(Account).where(Account.username == reviewer)).one()
        principal = principal_of(account)
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def approve() -> None:
        session = sessions()
        try:
            start.wait()
            cases.transition(session, registry, principal, case["id"], "approve", None)
            session.commit()
            outcomes.append("approved")
        except Exception as exc:  # the loser is refused, whatever the database
            session.rollback()
            outcomes.append(getattr(exc, "code", type(exc).__name__))
        finally:
            session.close()

    threads = [threading.Thread(target=approve) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["approved", "transition_not_allowed"]
    with full.session() as session:
        issued = session.scalar(select(func.count(License.id)).where(License.matter_code == code))
        events = session.scalar(select(Case).where(Case.id == case["id"]))
        assert events is not None
    assert issued == 1


def test_a_key_reused_for_another_request_is_refused(full: World) -> None:
    headers = full.auth("citizen1") | {"idempotency-key": "reused-key-1"}
    body = {"matter": SCHOOL, "form": filled(full, SCHOOL, "citizen1"), "submit": False}
    first = full.client.post("/api/v1/cases", json=body, headers=headers)
    again = full.client.post("/api/v1/cases", json=body, headers=headers)
    assert again.json()["id"] == first.json()["id"]
    other = full.client.post(
        "/api/v1/cases",
        json=body | {"delivery": "post", "delivery_address": "上海市某路1号"},
        headers=headers,
    )
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert other.json()["case"] == first.json()["id"]


def test_a_relative_whose_authorization_ended_hears_and_sees_nothing(full: World) -> None:
    proxy = authorize(full, "citizen2", "citizen1").json()
    headers = full.auth("citizen1") | {"idempotency-key": "proxy-replay-1"}
    body = {
        "matter": SCHOOL,
        "form": filled(full, SCHOOL, "citizen1", proxy=str(proxy["id"])),
        "proxy": proxy["id"],
        "submit": False,
    }
    case = full.client.post("/api/v1/cases", json=body, headers=headers).json()
    full.client.delete(f"/api/v1/me/proxies/{proxy['id']}", headers=full.auth("citizen2"))
    replay = full.client.post("/api/v1/cases", json=body, headers=headers)
    assert replay.status_code == 404  # a retry does not reopen what the person closed
    inbox_before = len(full.client.get("/api/v1/me/inbox", headers=full.auth("citizen1")).json())
    upload_missing(full, case, "citizen2")
    assert move(full, case["id"], "citizen2", "submit").status_code == 200
    inbox_after = len(full.client.get("/api/v1/me/inbox", headers=full.auth("citizen1")).json())
    assert inbox_after == inbox_before


def test_staff_reading_a_case_is_shown_to_the_applicant(full: World) -> None:
    from tests.cases.helpers import apply

    case = apply(full, SCHOOL, "citizen2").json()
    reviewer = reviewer_of(full, SCHOOL)
    before = full.client.get("/api/v1/me/data-usage", headers=full.auth("citizen2")).json()
    assert full.client.get(f"/api/v1/cases/{case['id']}", headers=full.auth(reviewer)).is_success
    after = full.client.get("/api/v1/me/data-usage", headers=full.auth("citizen2")).json()
    assert len(after) == len(before) + 1
    assert after[0]["action"] == "case.read"
    queue = full.client.get("/api/v1/cases/queue", headers=full.auth(reviewer)).json()
    assert all(c["delivery"]["address"] is None for c in queue)  # no bulk decryption


def page_client(world: World, user: str) -> TestClient:
    client = TestClient(world.client.app)
    assert portal_login(client, user).status_code == 303
    return client


def test_pages_answer_odd_input_with_a_4xx(full: World) -> None:
    web = page_client(full, "citizen1")
    assert web.get(f"/matters/{SCHOOL}/apply?proxy=1e20", headers=HTML).status_code == 422
    assert web.get(f"/matters/{SCHOOL}/apply?proxy=3000000000", headers=HTML).status_code == 422
    page = web.get(f"/matters/{SCHOOL}/apply", headers=HTML)
    token = csrf_of(page.text)
    for proxy in ("²", "99999999999999999999", "-1"):
        r = web.post(
            f"/matters/{SCHOOL}/apply",
            data={"csrf_token": token, "proxy": proxy},
            headers=HTML,
        )
        assert r.status_code == 422, (proxy, r.status_code)
    tax = "04P008000001"
    tax_page = web.get(f"/matters/{tax}/apply", headers=HTML)
    if tax_page.status_code == 200:
        for value in ("--1", "²", "9" * 5000):
            r = web.post(
                f"/matters/{tax}/apply",
                data={"csrf_token": token, "f.tax.year": value},
                headers=HTML,
                follow_redirects=False,
            )
            assert r.status_code in (303, 422), (value, r.status_code)
    bad_csrf = web.post(f"/matters/{SCHOOL}/apply", data={"csrf_token": "é"}, headers=HTML)
    assert bad_csrf.status_code == 403
    nul = web.post(
        f"/matters/{SCHOOL}/apply",
        files={"idempotency_key": (None, "a\x00b"), "csrf_token": (None, token)},
        headers=HTML,
    )
    assert nul.status_code == 400
    # Only the page's own words appear, whatever the address says.
    case = web.get("/me/cases", headers=HTML)
    assert case.status_code == 200
    draft = full.client.post(
        "/api/v1/cases",
        json={"matter": SCHOOL, "form": {}, "submit": False},
        headers=full.auth("citizen1"),
    ).json()
    shown = web.get(f"/me/cases/{draft['id']}?error=请拨打4008000000转账", headers=HTML)
    assert "4008000000" not in shown.text
    assert "操作未完成" in shown.text


def test_staff_download_files_from_the_page_and_cannot_edit(full: World) -> None:
    from tests.cases.helpers import apply

    case = apply(full, SCHOOL, "citizen1").json()
    reviewer = reviewer_of(full, SCHOOL)
    desk = page_client(full, reviewer)
    file_id = case["materials"][-1]["files"][0]["id"]
    got = desk.get(f"/cases/{case['id']}/files/{file_id}")
    assert got.status_code == 200
    assert got.content.startswith(PDF[:5])
    edit = desk.get(f"/me/cases/{case['id']}/edit", headers=HTML, follow_redirects=False)
    assert edit.status_code == 303  # staff never see the applicant's edit form


def test_an_enterprise_agent_applies_on_the_portal(full: World) -> None:
    web = page_client(full, "enterprise1")
    with full.session() as session:
        agent = session.scalars(select(Account).where(Account.username == "enterprise1")).one()
        enterprise = session.get(Enterprise, agent.enterprise_id)
        assert enterprise is not None
        uscc, name = enterprise.uscc, enterprise.name
    code = "07E001000005"
    page = web.get(f"/matters/{code}/apply", headers=HTML)
    assert f"以{name}名义申请" in page.text
    page = web.get(f"/matters/{code}/apply?uscc={uscc}", headers=HTML)
    assert "法人库" in page.text
    form = {f"f.{k}": str(v) for k, v in filled(full, code, "enterprise1", uscc=uscc).items()}
    r = web.post(
        f"/matters/{code}/apply",
        data={"csrf_token": csrf_of(page.text), "uscc": uscc, **form},
        headers=HTML,
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text[:500]
