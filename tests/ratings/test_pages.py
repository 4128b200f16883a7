"""The pages of 好差评 as people use them, without JavaScript: rating from the case page, the
hall pad, the public results with their charts, and a ticket's steps on the staff pages."""

from __future__ import annotations

import re
from datetime import date

from tests.cases.test_pages import browser
from tests.idcode.conftest import World
from tests.identity.test_pages import HTML, csrf_of
from tests.ratings.helpers import finished_case, visit


def test_the_applicant_rates_from_the_case_page(rated: World, a_known_day: date) -> None:
    case = finished_case(rated)
    person = browser(rated, "citizen1")
    page = person.get(f"/me/cases/{case['id']}", headers=HTML)
    assert f'href="/cases/{case["id"]}/rate"' in page.text
    form = person.get(f"/cases/{case['id']}/rate?ch=sms", headers=HTML)
    assert form.status_code == 200 and "请您评价" in form.text
    assert 'name="ind.guide_accuracy"' in form.text and 'value="sms"' in form.text
    silent = person.post(
        f"/cases/{case['id']}/rate",
        data={"csrf_token": csrf_of(form.text), "level": "1", "channel": "sms"},
        headers=HTML,
    )
    assert "请写下不满意的原因" in silent.text
    assert 'name="channel" value="sms"' in silent.text  # still counted for the SMS link
    sent = person.post(
        f"/cases/{case['id']}/rate",
        data={
            "csrf_token": csrf_of(form.text),
            "level": "2",
            "ind.efficiency": "2",
            "comment": "等了很久",
            "channel": "sms",
        },
        headers=HTML,
    )
    assert "谢谢您的评价" in sent.text and "核实中" in sent.text
    mine = rated.client.get(
        "/api/v1/ratings/mine", params={"case_id": case["id"]}, headers=rated.auth("citizen1")
    ).json()
    assert mine["channel"] == "sms" and mine["indicators"] == {"efficiency": 2}


def test_the_pad_at_the_window(rated: World, a_known_day: date) -> None:
    vid = visit(rated, "citizen1", staff="window1")
    window = browser(rated, "window1")
    pad = window.get(f"/window/visits/{vid}/pad", headers=HTML)
    assert pad.status_code == 200 and pad.text.count('name="level"') == 5
    assert "<svg" in pad.text and f"/visits/{vid}/rate?ch=scan" in pad.text
    bad = window.post(
        f"/window/visits/{vid}/pad",
        data={"csrf_token": csrf_of(pad.text), "level": "1"},
        headers=HTML,
    )
    assert "扫码写下不满意的原因" in bad.text
    good = window.post(
        f"/window/visits/{vid}/pad",
        data={"csrf_token": csrf_of(pad.text), "level": "5"},
        headers=HTML,
    )
    assert "谢谢您的评价" in good.text
    other = browser(rated, "window2").get(f"/window/visits/{vid}/pad", headers=HTML)
    assert other.status_code == 404


def test_the_public_page_shows_figures_and_charts_without_personal_data(
    rated: World, a_known_day: date
) -> None:
    case = finished_case(rated)
    secret = "我的手机13912345678"
    rated.client.post(
        "/api/v1/ratings",
        json={"case_id": case["id"], "level": 1, "comment": secret},
        headers=rated.auth("citizen1"),
    )
    page = rated.client.get("/ratings", headers=HTML)
    assert page.status_code == 200 and "好差评公示" in page.text
    assert page.text.count('<svg class="chart') >= 3  # the distribution, months, bars
    assert secret not in page.text and "13912345678" not in page.text


def test_a_reviewer_works_a_ticket_on_the_staff_pages(rated: World, a_known_day: date) -> None:
    case = finished_case(rated)
    r = rated.client.post(
        "/api/v1/ratings",
        json={"case_id": case["id"], "level": 2, "comment": "窗口没有告诉我要带原件"},
        headers=rated.auth("citizen1"),
    )
    ticket = r.json()["ticket"]["id"]
    reviewer = browser(rated, f"rev_{case['department']}")
    board = reviewer.get("/staff/ratings", headers=HTML)
    assert board.status_code == 200 and f"/staff/ratings/tickets/{ticket}" in board.text
    page = reviewer.get(f"/staff/ratings/tickets/{ticket}", headers=HTML)
    assert "窗口没有告诉我要带原件" in page.text
    empty = reviewer.post(
        f"/staff/ratings/tickets/{ticket}/step",
        data={"csrf_token": csrf_of(page.text), "step": "verify", "text": "核实了"},
        headers=HTML,
    )
    assert "请选择差评原因分类" in empty.text
    done = reviewer.post(
        f"/staff/ratings/tickets/{ticket}/step",
        data={
            "csrf_token": csrf_of(page.text),
            "step": "verify",
            "category": "department_fault",
            "text": "经核实，窗口未一次告知",
        },
        headers=HTML,
    )
    assert re.search(r"整改中", done.text) and 'value="rectify"' in done.text
    supervisor = browser(rated, "supervisor2")
    overview = supervisor.get("/staff/ratings", headers=HTML)
    assert "全市" in overview.text and '<svg class="chart"' in overview.text
    assert "窗口工作人员（内部）" in overview.text
    assert browser(rated, "citizen2").get("/staff/ratings", headers=HTML).status_code == 403
