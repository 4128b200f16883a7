"""What people see of pre-review: the applicant's draft checked at once, 预审中 after
submission, the findings with their fixes; staff set one aside and ask for 补正 with the
rest, from the case page, without JavaScript."""

from __future__ import annotations

from tests.cases.helpers import move
from tests.cases.test_pages import browser
from tests.idcode.conftest import World
from tests.identity.test_pages import HTML, csrf_of
from tests.onething.helpers import window_at
from tests.prereview.test_service import AGENT, another_district, enterprise_of, food_draft, work


def test_the_panel_on_the_applicants_and_the_staff_pages(full: World) -> None:
    enterprise = enterprise_of(full)
    elsewhere = another_district(full, enterprise.district_code)
    case = food_draft(full, elsewhere, "上海市黄浦区南京东路1号")
    applicant = browser(full, AGENT)
    draft = applicant.get(f"/me/cases/{case['id']}", headers=HTML).text
    assert "智能预审" in draft and "提交前请先处理以下问题" in draft
    assert "经营场所不在受理大厅所在区" in draft
    assert move(full, case["id"], AGENT, "submit").status_code == 200
    assert "预审中" in applicant.get(f"/me/cases/{case['id']}", headers=HTML).text
    work(full)
    page = applicant.get(f"/me/cases/{case['id']}", headers=HTML).text
    assert "需要补正" in page and "平面图标注的地址与表单的经营场所不一致" in page
    assert "不采纳此意见" not in page  # only staff may set a finding aside

    hall = full.client.get(f"/api/v1/cases/{case['id']}", headers=full.auth(AGENT)).json()["hall"]
    staff = browser(full, window_at(full, hall))
    desk = staff.get(f"/staff/cases/{case['id']}", headers=HTML)
    assert desk.status_code == 200 and "不采纳此意见" in desk.text
    assert "按预审意见一次性告知补正（2项）" in desk.text
    set_aside = staff.post(
        f"/staff/cases/{case['id']}/prereview/overrule",
        data={
            "csrf_token": csrf_of(desk.text),
            "rule": "food.layout.document",
            "field": "materials.layout",
            "reason": "平面图为总平面，地址为园区地址",
        },
        follow_redirects=False,
    )
    assert set_aside.status_code == 303
    desk = staff.get(f"/staff/cases/{case['id']}", headers=HTML).text
    assert "工作人员复核不采纳：平面图为总平面" in desk
    assert "按预审意见一次性告知补正（1项）" in desk
    asked = staff.post(
        f"/staff/cases/{case['id']}/prereview/correction",
        data={"csrf_token": csrf_of(desk), "note": "请携带租赁合同原件"},
        follow_redirects=False,
    )
    assert asked.status_code == 303
    mine = applicant.get(f"/me/cases/{case['id']}", headers=HTML).text
    assert "补正要求" in mine and "经营场所不在受理大厅所在区" in mine
    assert "请携带租赁合同原件" in mine
