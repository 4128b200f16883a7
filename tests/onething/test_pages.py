"""The 一件事 pages without JavaScript: the guide asks, then tells; the applicant fills one
form, uploads each paper once and submits once; the metrics page shows its arithmetic."""

from __future__ import annotations

import re

import pytest

from tests.cases.helpers import PDF, _made_up
from tests.cases.test_pages import browser
from tests.idcode.conftest import World
from tests.identity.test_pages import HTML, csrf_of

pytestmark = pytest.mark.usefixtures("a_known_day")

UNEMPLOYED = "insured_year=yes"


def test_the_guide_asks_first_then_lists_what_applies(full: World) -> None:
    page = full.client.get("/bundles/birth", headers=HTML)
    assert page.status_code == 200
    assert "新生儿是否随父母一方在本市落户" in page.text
    assert "需要办理的" not in page.text  # nothing listed before the questions are answered
    answered = full.client.get(
        "/bundles/birth?household_here=no&parent_permit=no&mother_insured=no", headers=HTML
    )
    assert answered.status_code == 200
    assert "您需要办理的 4 个事项" in answered.text
    assert "出生登记" not in answered.text.split("您需要办理的")[1].split("要准备的材料")[0]
    assert "其余 5 个事项不需要办理" in answered.text
    wrong = full.client.get(
        "/bundles/birth?household_here=x&parent_permit=no&mother_insured=no", headers=HTML
    )
    assert wrong.status_code == 422
    assert full.client.get("/bundles/no-such", headers=HTML).status_code == 404


def test_metrics_page_shows_ours_next_to_the_article(full: World) -> None:
    page = full.client.get("/bundles/metrics", headers=HTML)
    assert page.status_code == 200
    assert "原文报道" in page.text and "69%" in page.text
    assert page.text.count('<svg class="chart"') == 8  # one chart per bundle
    api = full.client.get("/api/v1/bundles").json()
    steps = round(api["average"]["steps"] * 100, 1)
    assert f"{steps}%" in page.text


def test_an_applicant_fills_one_form_and_submits_once(full: World) -> None:
    web = browser(full, "citizen2")
    guide = web.get(f"/bundles/unemployment?{UNEMPLOYED}", headers=HTML)
    key = re.search(r'name="idempotency_key" value="([^"]+)"', guide.text)
    assert key
    started = web.post(
        "/bundles/unemployment/start",
        data={
            "csrf_token": csrf_of(guide.text),
            "idempotency_key": key.group(1),
            "a.insured_year": "yes",
            "delivery": "pickup",
        },
        headers=HTML,
        follow_redirects=False,
    )
    assert started.status_code == 303, started.text
    path = started.headers["location"]
    page = web.get(path, headers=HTML)
    assert "一张表" in page.text and "每项只填一次" in page.text
    bc_id = int(path.rsplit("/", 1)[1])
    bc = web.get(f"/api/v1/bundle-cases/{bc_id}", headers=full.auth("citizen2")).json()
    fields = {f["key"]: f for f in bc["fields"] if f["provided_by"] is None}
    # Each field is on the page once, however many matters ask it.
    for key_ in fields:
        assert page.text.count(f'name="f.{key_}"') == 1, key_
    values = {f"f.{k}": str(_made_up(f)) for k, f in fields.items() if k not in bc["form"]}
    bad = web.post(
        f"{path}/form",
        data={"csrf_token": csrf_of(page.text), **values, "f.person.phone": "123"},
        headers=HTML,
    )
    assert bad.status_code == 422
    assert "error-summary" in bad.text
    ok = web.post(
        f"{path}/form",
        data={"csrf_token": csrf_of(page.text), **values},
        headers=HTML,
        follow_redirects=False,
    )
    assert ok.status_code == 303, ok.text
    early = web.post(f"{path}/submit", data={"csrf_token": csrf_of(page.text)}, headers=HTML)
    assert early.status_code == 422  # a paper is still to upload
    for m in bc["materials"]:
        if m["needs_upload"]:
            up = web.post(
                f"{path}/materials",
                data={"csrf_token": csrf_of(page.text), "material": m["identity"]},
                files={"file": ("m.pdf", PDF, "application/pdf")},
                headers=HTML,
                follow_redirects=False,
            )
            assert up.status_code == 303
    done = web.post(f"{path}/submit", data={"csrf_token": csrf_of(page.text)}, headers=HTML)
    assert done.status_code == 200
    assert "办理进度" in done.text and "等待前序事项" in done.text
    mine = web.get("/me/cases", headers=HTML)
    assert "失业保障一件事" in mine.text
