"""Pre-review of real cases: queued at submission (预审中), run by the worker with the uploaded
documents read by OCR, shown to applicant and staff; staff overrule a finding with a reason
and ask for 补正 with the rest; the resubmission is pre-reviewed again; per-rule counts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.cases.helpers import PDF, filled, move
from tests.idcode.conftest import World
from tests.licenses.test_api import registry_of
from tests.onething.helpers import window_at
from tests.prereview.specimens import Noise, render
from tongban.audit.models import AuditEntry
from tongban.catalog.models import District, Hall
from tongban.db import make_sessionmaker, transaction
from tongban.identity.models import Account, Enterprise
from tongban.prereview import service as prereview
from tongban.prereview.documents import Reading
from tongban.prereview.models import Prereview

pytestmark = pytest.mark.usefixtures("a_known_day")

FOOD = "01E001000004"
AGENT = "enterprise1"


@contextmanager
def _tx(world: World) -> Iterator[Session]:
    with transaction(make_sessionmaker(world.engine)) as session:
        yield session


def work(world: World, reader: prereview.Reader | None = None) -> tuple[int, int]:
    """One pass of the worker, as `tongban prereview work --once` makes it."""
    return prereview.run_pending(
        lambda: _tx(world), registry_of(world), world.client.app.state.files, reader=reader
    )


def enterprise_of(world: World) -> Enterprise:
    with world.session() as session:
        account = session.scalars(select(Account).where(Account.username == AGENT)).one()
        enterprise = session.get(Enterprise, account.enterprise_id)
        assert enterprise is not None
        session.expunge(enterprise)
        return enterprise


def another_district(world: World, district: str) -> str:
    with world.session() as session:
        name = session.scalar(
            select(District.name).where(District.code != district).order_by(District.code)
        )
    assert name
    return f"上海市{name}某某路1号"


def in_district(world: World, district: str) -> str:
    with world.session() as session:
        name = session.scalar(select(District.name).where(District.code == district))
    return f"上海市{name}某某路8号"


def upload(world: World, case_id: int, key: str, data: bytes, name: str) -> None:
    kind = "image/jpeg" if name.endswith(".jpg") else "application/pdf"
    r = world.client.post(
        f"/api/v1/cases/{case_id}/materials/{key}",
        files={"file": (name, data, kind)},
        headers=world.auth(AGENT),
    )
    assert r.status_code == 201, r.text


def food_draft(world: World, address: str, plan_address: str) -> dict[str, Any]:
    enterprise = enterprise_of(world)
    form = filled(world, FOOD, AGENT, uscc=enterprise.uscc)
    form.update({"premises.address": address, "food.safety_manager_name": "赵敏"})
    r = world.client.post(
        "/api/v1/cases",
        json={"matter": FOOD, "form": form, "uscc": enterprise.uscc, "submit": False},
        headers=world.auth(AGENT),
    )
    assert r.status_code == 201, r.text
    case = r.json()
    plan = render("floor_plan", {"name": "浦江便利店", "address": plan_address}, Noise(tilt=2))
    upload(world, case["id"], "layout", plan, "plan.jpg")
    health = render("health_certificate", {"name": "赵敏", "gender": "女"}, Noise(seal=True))
    upload(world, case["id"], "safety_manager", health, "health.jpg")
    for key in case["missing_materials"]:
        if key not in ("layout", "safety_manager"):
            upload(world, case["id"], key, PDF + key.encode(), f"{key}.pdf")
    return {**case, "form": form}


def read(world: World, case_id: int, user: str = AGENT) -> dict[str, Any]:
    r = world.client.get(f"/api/v1/cases/{case_id}/prereview", headers=world.auth(user))
    assert r.status_code == 200, r.text
    return dict(r.json())


def rules_of(view: dict[str, Any]) -> set[str]:
    return {f["rule"] for f in view["findings"]}


def test_a_submission_is_prereviewed_with_its_documents_read(full: World) -> None:
    enterprise = enterprise_of(full)
    elsewhere = another_district(full, enterprise.district_code)
    case = food_draft(full, elsewhere, "上海市黄浦区南京东路1号")
    draft = full.client.get(
        f"/api/v1/cases/{case['id']}/prereview/check", headers=full.auth(AGENT)
    ).json()
    # At once, on the draft: the rules; documents are read after submission.
    assert draft["verdict"] == "needs_correction"
    assert rules_of(draft) == {"food.premises.district"}
    assert move(full, case["id"], AGENT, "submit").status_code == 200
    pending = read(full, case["id"])
    assert (pending["status"], pending["status_label"]) == ("pending", "预审中")
    assert work(full) == (1, 0)
    done = read(full, case["id"])
    assert done["status"] == "done" and done["verdict"] == "needs_correction"
    assert rules_of(done) == {"food.premises.district", "food.layout.document"}
    plan = next(f for f in done["findings"] if f["rule"] == "food.layout.document")
    assert plan["field"] == "materials.layout"
    assert "南京东路" in plan["evidence"] and "读作" in plan["evidence"]  # the text read, where
    assert done["documents"] == 2 and done["seconds"] > 0
    history = full.client.get(f"/api/v1/cases/{case['id']}", headers=full.auth(AGENT)).json()
    assert any(e["action"] == "prereview" for e in history["history"])


def test_staff_overrule_a_finding_and_ask_for_the_rest(full: World) -> None:
    enterprise = enterprise_of(full)
    elsewhere = another_district(full, enterprise.district_code)
    case = food_draft(full, elsewhere, elsewhere)
    assert move(full, case["id"], AGENT, "submit").status_code == 200
    work(full)
    assert rules_of(read(full, case["id"])) == {"food.premises.district"}
    hall = full.client.get(f"/api/v1/cases/{case['id']}", headers=full.auth(AGENT)).json()["hall"]
    window = window_at(full, hall)
    with full.session() as session:
        hall_district = session.scalars(select(Hall.district_code).where(Hall.key == hall)).one()
    url = f"/api/v1/cases/{case['id']}/prereview"
    body = {"rule": "food.premises.district", "field": "premises.address", "reason": ""}
    empty = full.client.post(f"{url}/overrules", json=body, headers=full.auth(window))
    assert empty.status_code == 422
    mine = full.client.post(
        f"{url}/overrules", json={**body, "reason": "x"}, headers=full.auth(AGENT)
    )
    assert mine.status_code == 403  # the applicant cannot wave a finding away
    unknown = full.client.post(
        f"{url}/overrules",
        json={**body, "rule": "food.layout", "reason": "x"},
        headers=full.auth(window),
    )
    assert unknown.status_code == 404
    nothing_yet = full.client.post(f"{url}/correction", json={}, headers=full.auth(window))
    assert nothing_yet.status_code == 200  # 补正 with the finding as it stands
    assert nothing_yet.json()["status"] == "correction_requested"
    events = nothing_yet.json()["history"]
    assert "经营场所不在受理大厅所在区" in events[-1]["reason"]
    # The applicant corrects (the store is in fact in the hall's district) and resubmits.
    fixed = full.client.patch(
        f"/api/v1/cases/{case['id']}",
        json={"form": {**case["form"], "premises.address": in_district(full, hall_district)}},
        headers=full.auth(AGENT),
    )
    assert fixed.status_code == 200, fixed.text
    assert move(full, case["id"], AGENT, "resubmit").status_code == 200
    again = read(full, case["id"])
    assert again["status"] == "pending" and again["trigger"] == "resubmission"
    work(full)
    assert rules_of(read(full, case["id"])) == {"food.layout.document"}  # the plan still says
    overruled = full.client.post(
        f"{url}/overrules",
        json={
            "rule": "food.layout.document",
            "field": "materials.layout",
            "reason": "门牌新旧不同",
        },
        headers=full.auth(window),
    )
    assert overruled.status_code == 201, overruled.text
    finding = overruled.json()["findings"][0]
    assert finding["overruled"] == "门牌新旧不同"
    twice = full.client.post(
        f"{url}/overrules",
        json={"rule": "food.layout.document", "field": "materials.layout", "reason": "再次"},
        headers=full.auth(window),
    )
    assert twice.status_code == 409
    nothing = full.client.post(f"{url}/correction", json={}, headers=full.auth(window))
    assert nothing.status_code == 409 and nothing.json()["code"] == "nothing_to_correct"
    with full.session() as session:
        audited = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "prereview.overrule")
        ).all()
        assert any(a.reason == "门牌新旧不同" for a in audited)
    stats = full.client.get(
        "/api/v1/prereview/rules", params={"matter": FOOD}, headers=full.auth(window)
    ).json()["items"]
    layout = next(s for s in stats if s["rule"] == "food.layout.document")
    assert layout["overruled"] == 1 and layout["fired"] >= 1
    assert layout["overrule_rate"] == round(1 / layout["fired"], 4)


def test_the_worker_retries_and_then_gives_up_on_a_failing_prereview(full: World) -> None:
    enterprise = enterprise_of(full)
    here = in_district(full, enterprise.district_code)
    case = food_draft(full, here, here)
    assert move(full, case["id"], AGENT, "submit").status_code == 200

    def broken(_data: bytes, _media: str) -> Reading:
        raise RuntimeError("engine crashed")

    for attempt in range(1, prereview.MAX_ATTEMPTS + 1):
        assert work(full, broken) == (0, 1)
        with full.session() as session:
            row = session.scalars(select(Prereview).where(Prereview.case_id == case["id"])).one()
            assert row.attempts == attempt and "engine crashed" in (row.last_error or "")
    assert read(full, case["id"])["status"] == "failed"
    assert read(full, case["id"])["status_label"] == "预审未完成，请人工审核"
    assert work(full, broken) == (0, 0)  # given up: not picked again


def test_a_matter_without_approval_elements_is_not_queued(full: World) -> None:
    from tests.cases.helpers import SCHOOL, apply

    r = apply(full, SCHOOL)
    assert r.status_code == 200, r.text
    assert read(full, r.json()["id"], "citizen1")["status"] is None


def by_content(data: bytes, _media: str) -> Reading:
    """A reader for these tests: the kind is whatever the test file says it is."""
    from tests.prereview.samples import reading

    text = data.decode(errors="ignore")
    if "floor_plan" in text:
        return reading("floor_plan", address=text.split("|")[1])
    if "id_card" in text:
        return reading("id_card", name="赵敏")
    return Reading("unknown", [])


def test_of_several_files_the_expected_kind_counts_and_a_resubmission_supersedes(
    full: World,
) -> None:
    enterprise = enterprise_of(full)
    here = in_district(full, enterprise.district_code)
    case = food_draft(full, here, here)
    # A second page under the same material: the plan is read as the plan, whatever follows.
    upload(full, case["id"], "layout", b"%PDF-1.4 floor_plan|" + here.encode(), "plan.pdf")
    upload(full, case["id"], "layout", b"%PDF-1.4 id_card", "cover.pdf")
    assert move(full, case["id"], AGENT, "submit").status_code == 200
    hall = full.client.get(f"/api/v1/cases/{case['id']}", headers=full.auth(AGENT)).json()["hall"]
    window = window_at(full, hall)
    # 补正 asked before the worker ran, then a resubmission: the first pre-review is moot.
    asked = move(full, case["id"], window, "request_correction", "请补充")
    assert asked.status_code == 200, asked.text
    assert move(full, case["id"], AGENT, "resubmit").status_code == 200
    work(full, by_content)
    with full.session() as session:
        rows = session.scalars(
            select(Prereview).where(Prereview.case_id == case["id"]).order_by(Prereview.id)
        ).all()
        assert [r.status for r in rows] == ["superseded", "done"]
        assert rows[0].findings_enc is None
    latest = read(full, case["id"])
    assert latest["trigger"] == "resubmission"
    assert "food.layout.document" not in rules_of(latest)
