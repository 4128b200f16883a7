"""一业一证 applied for: one application whose permits each department reviews, one
comprehensive license carrying them all; a change reviews only what it adds and makes a new
version; renewal, its reminder, cancellation."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.cases.helpers import move, reviewer_of
from tests.idcode.conftest import World
from tests.onething.helpers import approve, deny, fill, read, upload_all
from tongban.identity.models import Account, Enterprise
from tongban.industry.service import remind_renewals
from tongban.licenses.models import License

pytestmark = pytest.mark.usefixtures("a_known_day")

FOOD, PACKAGED, DRUGS, TOBACCO = "01E001000004", "07E001000005", "01E010000001", "01E011000001"
AGENT = "enterprise1"


def uscc_of(world: World) -> str:
    with world.session() as session:
        account = session.scalars(select(Account).where(Account.username == AGENT)).one()
        enterprise = session.get(Enterprise, account.enterprise_id)
        assert enterprise is not None
        return enterprise.uscc


def submitted(world: World, answers: dict[str, str], **body: Any) -> dict[str, Any]:
    r = world.client.post(
        "/api/v1/industry-cases",
        json={"industry": "convenience-store", "uscc": uscc_of(world), "answers": answers, **body},
        headers=world.auth(AGENT),
    )
    assert r.status_code == 201, r.text
    bc = upload_all(world, fill(world, r.json(), AGENT), AGENT)
    done = world.client.post(f"/api/v1/bundle-cases/{bc['id']}/submit", headers=world.auth(AGENT))
    assert done.status_code == 200, done.text
    return done.json()


def approve_all(world: World, bc: dict[str, Any]) -> dict[str, Any]:
    for t in bc["tasks"]:
        r = approve(world, t["case"], t["code"])
        assert r.status_code == 200, r.text
        assert r.json()["license"] is None  # no permit is a license of its own
    return read(world, bc["id"], AGENT)


def license_of(world: World, identifier: str) -> dict[str, Any]:
    r = world.client.get(f"/api/v1/licenses/{identifier}", headers=world.auth(AGENT))
    assert r.status_code == 200, r.text
    return r.json()


SHOP = {"food": "made", "drugs": "no", "devices": "no", "tobacco": "yes"}


def test_one_application_one_review_each_one_license(full: World) -> None:
    bc = submitted(full, SHOP)
    assert bc["kind"] == "industry"
    assert {t["code"] for t in bc["tasks"]} == {FOOD, TOBACCO}
    assert {t["status"] for t in bc["tasks"]} == {"submitted"}  # reviewed in parallel
    bc = approve_all(full, bc)
    assert bc["status"] == "completed" and bc["license"]
    doc = license_of(full, bc["license"])
    text = str(doc)
    assert "行业综合许可证" in text and "食品经营许可" in text and "烟草专卖零售许可证核发" in text
    assert "卷烟、雪茄烟零售" in text  # each permit with its scope
    verified = full.client.get(f"/api/v1/licenses/{bc['license']}/verify").json()
    assert verified["valid"] is True


def test_a_change_reviews_only_what_it_adds_and_makes_a_new_version(full: World) -> None:
    first = approve_all(full, submitted(full, SHOP))
    change = submitted(full, {**SHOP, "drugs": "yes"}, amends=first["license"])
    assert change["kind"] == "industry_change"
    assert [t["code"] for t in change["tasks"]] == [DRUGS]
    change = approve_all(full, change)
    assert change["license"] != first["license"]
    assert {c["code"] for c in change["carried"]} == {FOOD, TOBACCO, DRUGS}
    assert "药品经营许可" in str(license_of(full, change["license"]))
    old = full.client.get(f"/api/v1/licenses/{first['license']}/verify").json()
    assert old["valid"] is False  # superseded by the new version
    same = full.client.post(
        "/api/v1/industry-cases",
        json={
            "industry": "convenience-store",
            "uscc": uscc_of(full),
            "answers": {**SHOP, "drugs": "yes"},
            "amends": change["license"],
        },
        headers=full.auth(AGENT),
    )
    assert same.status_code == 422 and same.json()["code"] == "nothing_to_change"


def test_a_refused_permit_is_left_off_the_license(full: World) -> None:
    bc = submitted(full, SHOP)
    tobacco = next(t for t in bc["tasks"] if t["code"] == TOBACCO)
    food = next(t for t in bc["tasks"] if t["code"] == FOOD)
    assert deny(full, tobacco["case"], TOBACCO, "距学校过近").status_code == 200
    assert approve(full, food["case"], FOOD).status_code == 200
    bc = read(full, bc["id"], AGENT)
    assert bc["status"] == "completed"
    assert [c["code"] for c in bc["carried"]] == [FOOD]
    assert "烟草" not in str(license_of(full, bc["license"])["content"])


def test_renewal_reminder_and_cancellation(full: World) -> None:
    bc = approve_all(full, submitted(full, SHOP))
    with full.session() as session:
        row = session.scalars(select(License).where(License.identifier == bc["license"])).one()
        ends = row.valid_until
        assert ends is not None
        assert remind_renewals(session, ends - timedelta(days=30)) >= 1
        assert remind_renewals(session, ends - timedelta(days=29)) == 0  # told once
        session.commit()
    renewal = submitted(full, {}, amends=bc["license"], renew=True)
    assert renewal["kind"] == "industry_renewal"
    assert {t["code"] for t in renewal["tasks"]} == {FOOD, TOBACCO}
    renewal = approve_all(full, renewal)
    renewed = license_of(full, renewal["license"])
    assert date.fromisoformat(renewed["valid_until"]) > ends
    gone = full.client.post(
        "/api/v1/industry-licenses/cancel",
        json={
            "industry": "convenience-store",
            "uscc": uscc_of(full),
            "identifier": renewal["license"],
            "reason": "门店停业",
        },
        headers=full.auth(AGENT),
    )
    assert gone.status_code == 200 and gone.json()["status"] == "04"
    again = full.client.post(
        "/api/v1/industry-cases",
        json={
            "industry": "convenience-store",
            "uscc": uscc_of(full),
            "answers": {},
            "amends": renewal["license"],
            "renew": True,
        },
        headers=full.auth(AGENT),
    )
    assert again.status_code == 409


def test_only_the_enterprises_agent_may_apply_or_change(full: World) -> None:
    r = full.client.post(
        "/api/v1/industry-cases",
        json={"industry": "convenience-store", "uscc": uscc_of(full), "answers": SHOP},
        headers=full.auth("citizen1"),
    )
    assert r.status_code == 403
    lead = full.client.get(
        f"/api/v1/bundle-cases/{submitted(full, SHOP)['id']}", headers=full.auth("rev_pd-scjgj")
    )
    assert lead.status_code == 200  # 一帽牵头: the lead department follows the review
    assert move is not None and reviewer_of is not None


def test_the_pages_apply_show_the_license_and_cancel(full: World) -> None:
    from tests.cases.test_pages import browser
    from tests.identity.test_pages import HTML, csrf_of

    web = browser(full, AGENT)
    guide = web.get("/industries/convenience-store", params=SHOP, headers=HTML)
    assert guide.status_code == 200 and 'name="uscc"' in guide.text
    import re

    key = re.search(r'name="idempotency_key" value="([^"]+)"', guide.text)
    assert key
    started = web.post(
        "/industries/convenience-store/start",
        data={
            "csrf_token": csrf_of(guide.text),
            "idempotency_key": key.group(1),
            "uscc": uscc_of(full),
            "delivery": "electronic",
            **{f"a.{k}": v for k, v in SHOP.items()},
        },
        headers=HTML,
        follow_redirects=False,
    )
    assert started.status_code == 303, started.text
    bc_id = int(started.headers["location"].rsplit("/", 1)[1])
    bc = upload_all(full, fill(full, read(full, bc_id, AGENT), AGENT), AGENT)
    assert (
        full.client.post(
            f"/api/v1/bundle-cases/{bc_id}/submit", headers=full.auth(AGENT)
        ).status_code
        == 200
    )
    bc = approve_all(full, read(full, bc_id, AGENT))
    page = web.get(f"/bundle-cases/{bc_id}", headers=HTML)
    assert "行业综合许可证" in page.text and "卷烟、雪茄烟零售" in page.text
    assert f"/industries/convenience-store?amends={bc['license']}" in page.text
    assert "<svg" in page.text and "行业综合许可证二维码" in page.text  # one QR for all
    scanned = full.client.get(f"/industry-licenses/{bc['license']}", headers=HTML)
    assert scanned.status_code == 200
    assert "真实有效" in scanned.text and "食品经营许可" in scanned.text and "卷烟" in scanned.text
    public = full.client.get(f"/api/v1/industry-licenses/{bc['license']}").json()
    assert public["valid"] is True and len(public["permits"]) == 2
    cancelled = web.post(
        "/industries/convenience-store/cancel",
        data={
            "csrf_token": csrf_of(page.text),
            "identifier": bc["license"],
            "uscc": uscc_of(full),
            "reason": "门店停业",
            "back": str(bc_id),
        },
        headers=HTML,
        follow_redirects=False,
    )
    assert cancelled.status_code == 303
    assert full.client.get(f"/api/v1/licenses/{bc['license']}/verify").json()["valid"] is False


def test_the_public_page_shows_only_industry_licenses(full: World) -> None:
    from tongban.catalog.service import license_type_facts

    with full.session() as session:
        business = license_type_facts(session, "business_license").id
        other = session.scalars(select(License).where(License.type_id == business)).first()
        assert other is not None
        identifier = other.identifier
    assert full.client.get(f"/api/v1/industry-licenses/{identifier}").status_code == 404
    assert full.client.get("/api/v1/industry-licenses/no-such").status_code == 404
