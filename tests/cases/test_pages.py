"""The application pages, without JavaScript: an applicant applies in steps, a reviewer clears
the queue, and a window serves a walk-in applicant from identity check to printed receipt."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from tests.cases.helpers import PDF, SCHOOL, filled, reviewer_of
from tests.idcode.conftest import World
from tests.idcode.test_api import id_number_of, person_of
from tests.identity.test_pages import HTML, csrf_of, portal_login

pytestmark = pytest.mark.usefixtures("a_known_day")


def browser(world: World, user: str) -> TestClient:
    """A client of its own (its own cookies), logged in on the portal as `user`."""
    client = TestClient(world.client.app)
    r = portal_login(client, user)
    assert r.status_code == 303, r.text
    return client


def as_fields(values: dict[str, Any]) -> dict[str, str]:
    return {
        f"f.{k}": ("true" if v is True else "false" if v is False else str(v))
        for k, v in values.items()
    }


def case_id_of(location: str) -> int:
    match = re.search(r"/cases/(\d+)", location)
    assert match, location
    return int(match.group(1))


def test_an_applicant_applies_in_steps(full: World) -> None:
    web = browser(full, "citizen1")
    page = web.get(f"/matters/{SCHOOL}/apply", headers=HTML)
    assert page.status_code == 200
    assert "免填报" in page.text  # prefilled fields say where they came from
    assert id_number_of(full, "citizen1") in page.text
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page.text)
    assert key
    form = {
        "csrf_token": csrf_of(page.text),
        "idempotency_key": key.group(1),
        **as_fields(filled(full, SCHOOL, "citizen1")),
    }
    bad = web.post(
        f"/matters/{SCHOOL}/apply",
        data=form | {"f.person.phone": "12345"},
        headers=HTML,
        follow_redirects=False,
    )
    assert bad.status_code == 422
    assert 'class="error-summary"' in bad.text
    assert 'aria-invalid="true"' in bad.text
    saved = web.post(f"/matters/{SCHOOL}/apply", data=form, headers=HTML, follow_redirects=False)
    assert saved.status_code == 303
    again = web.post(f"/matters/{SCHOOL}/apply", data=form, headers=HTML, follow_redirects=False)
    assert again.headers["location"] == saved.headers["location"]  # a resent form: one draft
    case_id = case_id_of(saved.headers["location"])

    page = web.get(f"/me/cases/{case_id}", headers=HTML)
    assert "草稿" in page.text
    assert 'aria-current="step"' in page.text
    token = csrf_of(page.text)
    early = web.post(
        f"/me/cases/{case_id}/act",
        data={"csrf_token": token, "action": "submit"},
        follow_redirects=False,
    )
    assert "error=" in early.headers["location"]
    shown = web.get(early.headers["location"], headers=HTML)
    assert "还有材料未上传" in shown.text
    uploaded = web.post(
        f"/me/cases/{case_id}/materials",
        data={"csrf_token": token, "material": "vaccination_certificate"},
        files={"file": ("接种证.pdf", PDF + b"page", "application/pdf")},
        follow_redirects=False,
    )
    assert uploaded.headers["location"] == f"/me/cases/{case_id}"
    done = web.post(
        f"/me/cases/{case_id}/act",
        data={"csrf_token": token, "action": "submit"},
        follow_redirects=False,
    )
    assert done.headers["location"] == f"/me/cases/{case_id}"
    page = web.get(f"/me/cases/{case_id}", headers=HTML)
    assert "已提交" in page.text
    assert "接种证.pdf" in page.text
    mine = web.get("/me/cases", headers=HTML)
    assert f"/me/cases/{case_id}" in mine.text
    assert "<script" not in page.text  # works without JavaScript


def test_an_incomplete_form_is_shown_with_each_fields_problem(full: World) -> None:
    web = browser(full, "citizen2")
    page = web.get(f"/matters/{SCHOOL}/apply", headers=HTML)
    saved = web.post(
        f"/matters/{SCHOOL}/apply",
        data={"csrf_token": csrf_of(page.text)},
        headers=HTML,
        follow_redirects=False,
    )
    case_id = case_id_of(saved.headers["location"])
    token = csrf_of(web.get(f"/me/cases/{case_id}", headers=HTML).text)
    r = web.post(
        f"/me/cases/{case_id}/act",
        data={"csrf_token": token, "action": "submit"},
        follow_redirects=False,
    )
    assert r.headers["location"] == f"/me/cases/{case_id}/edit?check=1"
    page = web.get(r.headers["location"], headers=HTML)
    assert page.text.count('aria-invalid="true"') >= 3
    assert 'href="#f.student.enrollment_stage"' in page.text


def _submitted_case(full: World, user: str) -> int:
    r = full.client.post(
        "/api/v1/cases",
        json={"matter": SCHOOL, "form": filled(full, SCHOOL, user), "submit": False},
        headers=full.auth(user),
    )
    case = r.json()
    for key in case["missing_materials"]:
        full.client.post(
            f"/api/v1/cases/{case['id']}/materials/{key}",
            files={"file": ("a.pdf", PDF + key.encode(), "application/pdf")},
            headers=full.auth(user),
        )
    moved = full.client.post(
        f"/api/v1/cases/{case['id']}/transitions",
        json={"action": "submit"},
        headers=full.auth(user),
    )
    assert moved.status_code == 200, moved.text
    return int(case["id"])


def test_a_reviewer_works_the_queue(full: World) -> None:
    case_id = _submitted_case(full, "citizen1")
    reviewer = reviewer_of(full, SCHOOL)
    desk = browser(full, reviewer)
    queue = desk.get("/staff/queue", headers=HTML)
    assert queue.status_code == 200
    assert f"/staff/cases/{case_id}" in queue.text
    page = desk.get(f"/staff/cases/{case_id}", headers=HTML)
    assert "受理" in page.text
    no_reason = desk.post(
        f"/staff/cases/{case_id}/act",
        data={"csrf_token": csrf_of(page.text), "action": "reject_at_intake"},
        follow_redirects=False,
    )
    assert "error=" in no_reason.headers["location"]
    accepted = desk.post(
        f"/staff/cases/{case_id}/act",
        data={"csrf_token": csrf_of(page.text), "action": "accept"},
        follow_redirects=False,
    )
    assert accepted.headers["location"] == f"/staff/cases/{case_id}"
    page = desk.get(f"/staff/cases/{case_id}", headers=HTML)
    assert "办结期限" in page.text
    usage = full.client.get("/api/v1/me/data-usage", headers=full.auth("citizen1")).json()
    assert any(u["action"] == "case.read" for u in usage)
    # A citizen is not staff.
    assert browser(full, "citizen2").get("/staff/queue", headers=HTML).status_code == 403


def test_the_window_serves_from_identity_check_to_receipt(full: World) -> None:
    counter = browser(full, "window1")
    page = counter.get("/window", headers=HTML)
    person = person_of(full, "citizen2")
    wrong = counter.post(
        "/window",
        data={
            "csrf_token": csrf_of(page.text),
            "id_number": id_number_of(full, "citizen2"),
            "name": "别人",
        },
        headers=HTML,
    )
    assert wrong.status_code == 422
    assert "不匹配" in wrong.text
    opened = counter.post(
        "/window",
        data={
            "csrf_token": csrf_of(page.text),
            "id_number": id_number_of(full, "citizen2"),
            "name": person.name,
        },
        follow_redirects=False,
    )
    assert opened.status_code == 303
    visit = opened.headers["location"]
    page = counter.get(f"{visit}?matter={SCHOOL}", headers=HTML)
    assert person.name in page.text
    assert "免填报" in page.text
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page.text)
    assert key
    made = counter.post(
        f"{visit}/cases",
        data={
            "csrf_token": csrf_of(page.text),
            "idempotency_key": key.group(1),
            "matter": SCHOOL,
            **as_fields(filled(full, SCHOOL, "citizen2")),
        },
        follow_redirects=False,
    )
    assert made.status_code == 303, made.text
    case_id = case_id_of(made.headers["location"])
    page = counter.get(f"/staff/cases/{case_id}", headers=HTML)
    assert "申请人确认" in page.text
    token = csrf_of(page.text)
    for material, name, data, kind in (
        ("vaccination_certificate", "scan.pdf", PDF + b"counter", "application/pdf"),
        ("_signature", "sig.png", _png(), "image/png"),
    ):
        r = counter.post(
            f"/staff/cases/{case_id}/materials",
            data={"csrf_token": token, "material": material},
            files={"file": (name, data, kind)},
            follow_redirects=False,
        )
        assert r.headers["location"] == f"/staff/cases/{case_id}", r.headers["location"]
    submitted = counter.post(
        f"/staff/cases/{case_id}/act",
        data={"csrf_token": token, "action": "submit"},
        follow_redirects=False,
    )
    assert submitted.headers["location"] == f"/staff/cases/{case_id}"
    receipt = counter.get(f"/staff/cases/{case_id}/receipt", headers=HTML)
    assert receipt.status_code == 200
    assert "受理回执" in receipt.text
    assert "<svg" in receipt.text
    assert person.name in receipt.text
    assert id_number_of(full, "citizen2") not in receipt.text  # masked on paper


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("L", (60, 20), 255).save(out, format="PNG")
    return out.getvalue()


def test_an_elderly_person_authorizes_and_withdraws_a_relative(full: World) -> None:
    elder = browser(full, "citizen2")
    page = elder.get("/me/proxies", headers=HTML)
    relative = person_of(full, "citizen1")
    form = {
        "csrf_token": csrf_of(page.text),
        "agent_id_number": id_number_of(full, "citizen1"),
        "relation": "child",
        "days": "30",
    }
    wrong = elder.post("/me/proxies", data=form | {"agent_name": "别人"}, follow_redirects=False)
    assert "error=" in wrong.headers["location"]
    given = elder.post(
        "/me/proxies", data=form | {"agent_name": relative.name}, follow_redirects=False
    )
    assert given.headers["location"] == "/me/proxies"
    page = elder.get("/me/proxies", headers=HTML)
    assert f"我授权 {relative.name}" in page.text
    withdraw = re.search(r'action="(/me/proxies/\d+/withdraw)"', page.text)
    assert withdraw
    # The relative sees it, and may apply for the elder from the apply page.
    helper = browser(full, "citizen1")
    apply_page = helper.get(f"/matters/{SCHOOL}/apply", headers=HTML)
    assert f"代{person_of(full, 'citizen2').name}申请" in apply_page.text
    elder.post(withdraw.group(1), data={"csrf_token": csrf_of(page.text)})
    assert "已失效" in elder.get("/me/proxies", headers=HTML).text
