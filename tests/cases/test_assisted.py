"""帮办 at the window: for an enterprise that comes with nothing in hand, the person's
identity is checked, the enterprise they represent or act for is chosen, the form comes
filled from the registries and licenses, and the console lists exactly what is still to ask
and to hand over; the draft is pre-reviewed at once."""

from __future__ import annotations

import re

from sqlalchemy import select, update

from tests.cases.helpers import filled
from tests.cases.test_pages import as_fields, browser, case_id_of, id_number_of, person_of
from tests.idcode.conftest import World
from tests.identity.test_pages import HTML, csrf_of
from tongban.cases.models import Case
from tongban.cases.service import COUNTER, roles_on
from tongban.db import utcnow
from tongban.identity.models import Account, Enterprise, EnterpriseAgent
from tongban.identity.service import principal_of

FOOD = "01E001000004"


def test_the_window_helps_an_enterprise_fill_its_form(full: World) -> None:
    counter = browser(full, "window1")
    page = counter.get("/window", headers=HTML)
    person = person_of(full, "enterprise1")
    opened = counter.post(
        "/window",
        data={
            "csrf_token": csrf_of(page.text),
            "id_number": id_number_of(full, "enterprise1"),
            "name": person.name,
        },
        follow_redirects=False,
    )
    assert opened.status_code == 303, opened.text
    visit = opened.headers["location"]
    with full.session() as session:
        account = session.scalars(select(Account).where(Account.username == "enterprise1")).one()
        mine = session.get(Enterprise, account.enterprise_id)
        other = session.scalars(
            select(Enterprise).where(Enterprise.id != account.enterprise_id)
        ).first()
        assert mine is not None and other is not None
        uscc, name, stranger = mine.uscc, mine.name, other.uscc
    api = f"/api/v1{visit}/form"
    form_api = full.client.get(
        api, params={"matter": FOOD, "uscc": uscc}, headers=full.auth("window1")
    )
    assert form_api.status_code == 200, form_api.text
    helped_api = form_api.json()["assisted"]
    assert helped_api["filled"] >= 3 and "法人库" in helped_api["sources"]
    assert "经营场所和设备布局、操作流程示意图" in helped_api["to_hand_over"]
    not_theirs = full.client.get(
        api, params={"matter": FOOD, "uscc": stranger}, headers=full.auth("window1")
    )
    assert not_theirs.status_code == 403
    choose = counter.get(f"{visit}?matter={FOOD}", headers=HTML).text
    assert name in choose and "经办人" in choose  # the enterprises this person may act for
    page = counter.get(f"{visit}?matter={FOOD}&uscc={uscc}", headers=HTML)
    assert page.status_code == 200
    helped = re.search(r"系统已从(.+?)填好 <strong>(\d+)</strong> / (\d+) 项", page.text)
    assert helped, page.text
    assert "法人库" in helped.group(1) and int(helped.group(2)) >= 3
    assert "还须申请人提供" in page.text and "经营场所和设备布局" in page.text
    assert "营业执照</li>" not in page.text  # the license is in the registry: not asked for
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page.text)
    assert key
    form = {
        "csrf_token": csrf_of(page.text),
        "idempotency_key": key.group(1),
        "matter": FOOD,
        **as_fields(filled(full, FOOD, "enterprise1", uscc=uscc)),
    }
    refused = counter.post(f"{visit}/cases", data={**form, "uscc": stranger}, headers=HTML)
    assert refused.status_code == 403 and "不是该企业的法定代表人或有效经办人" in refused.text
    made = counter.post(f"{visit}/cases", data={**form, "uscc": uscc}, follow_redirects=False)
    assert made.status_code == 303, made.text
    case_id = case_id_of(made.headers["location"])
    case = full.client.get(f"/api/v1/cases/{case_id}", headers=full.auth("enterprise1")).json()
    assert case["channel"] == "window" and case["status"] == "draft"
    desk = counter.get(f"/staff/cases/{case_id}", headers=HTML).text
    assert "智能预审" in desk  # the draft is checked against the approval elements at once
    # Once the person no longer acts for the enterprise, the window no longer acts on its case.
    with full.session() as session:
        case_row = session.get(Case, case_id)
        window1 = session.scalars(select(Account).where(Account.username == "window1")).one()
        assert case_row is not None
        assert COUNTER in roles_on(session, principal_of(window1), case_row)
        session.execute(
            update(EnterpriseAgent)
            .where(EnterpriseAgent.person_id == case_row.person_id)
            .values(revoked_at=utcnow())
        )
        assert COUNTER not in roles_on(session, principal_of(window1), case_row)
        session.rollback()
