"""异地代收代办: a case accepted in Shanghai for a Jiangsu matter is handled in Jiangsu by its
own rules, and every step comes back; 补正 goes both ways; a result handed out in Shanghai
closes the case in Jiangsu; a case Jiangsu cannot take ends in Shanghai with the reason."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image
from sqlalchemy import select

from tests.cases.helpers import PDF, filled, move
from tests.federation.conftest import JS, Node, Regions, fetched_from_jiangsu, forwarded_to, staff
from tongban.cases.models import Case, CaseFile
from tongban.catalog.models import Matter
from tongban.federation.demo import FAMILY
from tongban.identity.schemas import Role
from tongban.licenses.models import PeerLicense
from tongban.notify.models import Message

NO_RECORD = "20P901000001"  # Shanghai's entry for Suzhou's 无犯罪记录证明开具
NO_RECORD_THERE = "20P001000001"
CITIZEN3 = FAMILY[0]


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("L", (60, 20), 255).save(out, format="PNG")
    return out.getvalue()


def _apply_online(regions: Regions, key: str, **body: Any) -> dict[str, Any]:
    sh = regions.sh
    made = sh.client.post(
        "/api/v1/cases",
        json={"matter": NO_RECORD, "form": filled(sh, NO_RECORD, "citizen3"), **body},
        headers=sh.auth("citizen3") | {"idempotency-key": key},
    )
    assert made.status_code == 201, made.text
    return dict(made.json())


def _there(regions: Regions, origin_case: int) -> Case:
    case = forwarded_to(regions, origin_case)
    assert case is not None, "the forwarded case did not arrive"
    return case  # type: ignore[no-any-return]


def _here(node: Node, case_id: int, user: str = "citizen3") -> dict[str, Any]:
    r = node.client.get(f"/api/v1/cases/{case_id}", headers=node.auth(user))
    assert r.status_code == 200, r.text
    return dict(r.json())


def _reviewer(regions: Regions) -> str:
    return staff(regions.js, "rev_sz-gaj", Role.REVIEWER, "sz-gaj")


def test_a_case_accepted_here_is_handled_there_and_its_result_comes_back(
    regions: Regions,
) -> None:
    fetched_from_jiangsu(regions)
    case = _apply_online(regions, "fwd-online-1", delivery="electronic")
    assert case["status"] == "submitted"
    assert case["cross_region"]["mode"] == "forwarded"
    assert case["cross_region"]["region"] == JS
    id_card = next(m for m in case["materials"] if m["key"] == "id_card")
    assert id_card["reason"] == "found_peer"  # the Jiangsu ID card, recognized here
    regions.pump()
    there = _there(regions, case["id"])
    assert there.matter_code == NO_RECORD_THERE
    assert there.channel == "region"
    assert there.status == "submitted"
    # Jiangsu's own registry proves the ID card there: no copy was needed.
    assert next(m for m in there.materials if m["key"] == "id_card")["resolution"] == "license"
    here = _here(regions.sh, case["id"])
    assert here["cross_region"]["number"] == there.number
    reviewer = _reviewer(regions)
    for action in ("accept", "start_review", "approve"):
        r = move(regions.js, there.id, reviewer, action)
        assert r.status_code == 200, r.text
    regions.pump()
    here = _here(regions.sh, case["id"])
    assert here["status"] == "approved"
    assert here["due_date"] is not None  # Jiangsu's promise, shown here
    steps = [h["action"] for h in here["history"]]
    assert steps[-3:] == ["remote_accept", "remote_start_review", "remote_approve"]
    with regions.sh.session() as session:
        kept = session.scalars(
            select(PeerLicense).where(PeerLicense.identifier == here["license"])
        ).first()
        assert kept is not None
        assert kept.source == "result"
        assert kept.local_type_key == "no_criminal_record_certificate"
        told = session.scalars(
            select(Message.body).where(Message.topic == f"case:{case['id']}")
        ).all()
    assert any("准予许可" in t for t in told)  # the applicant heard of it here


def test_staff_here_cannot_decide_a_case_another_region_handles(regions: Regions) -> None:
    case = _apply_online(regions, "fwd-online-2", delivery="electronic")
    window = staff(regions.sh, "win_pd", Role.WINDOW_STAFF, case["hall"])
    assert set(_here(regions.sh, case["id"], window)["allowed_actions"]) <= {"deliver"}
    for action in ("accept", "reject_at_intake", "request_correction"):
        assert move(regions.sh, case["id"], window, action, "试图越权").status_code == 409


def test_a_counter_case_travels_with_its_papers_and_correction_goes_both_ways(
    regions: Regions,
) -> None:
    sh = regions.sh
    window = staff(sh, "win_pd_admin", Role.WINDOW_STAFF, "hall-310115-admin")
    opened = sh.client.post(
        "/api/v1/window/visits",
        json={"id_number": CITIZEN3.id_number, "name": CITIZEN3.name},
        headers=sh.auth(window),
    )
    assert opened.status_code == 201, opened.text
    made = sh.client.post(
        "/api/v1/cases",
        json={
            "matter": NO_RECORD,
            "form": filled(sh, NO_RECORD, "citizen3"),
            "channel": "window",
            "visit": opened.json()["id"],
            "delivery": "pickup",
        },
        headers=sh.auth(window) | {"idempotency-key": "fwd-counter-1"},
    )
    assert made.status_code == 201, made.text
    case = made.json()
    up = sh.client.post(
        f"/api/v1/cases/{case['id']}/materials/power_of_attorney",
        files={"file": ("poa.pdf", PDF + b"poa", "application/pdf")},
        headers=sh.auth(window),
    )
    assert up.status_code == 201, up.text
    assert (
        sh.client.post(
            f"/api/v1/cases/{case['id']}/signature",
            files={"file": ("sig.png", _png(), "image/png")},
            headers=sh.auth(window),
        ).status_code
        == 200
    )
    assert move(sh, case["id"], window, "submit").status_code == 200
    regions.pump()
    there = _there(regions, case["id"])
    assert "上海市" in (there.origin_hall or "")
    with regions.js.session() as session:
        papers = {
            f.material_key
            for f in session.scalars(select(CaseFile).where(CaseFile.case_id == there.id))
        }
    assert papers == {"power_of_attorney", "_signature"}  # the scan and the pad signature
    reviewer = _reviewer(regions)
    asked = move(regions.js, there.id, reviewer, "request_correction", "委托书未签名，请重新提交")
    assert asked.status_code == 200, asked.text
    regions.pump()
    here = _here(sh, case["id"])
    assert here["status"] == "correction_requested"
    assert here["history"][-1]["reason"] == "委托书未签名，请重新提交"
    again = sh.client.post(
        f"/api/v1/cases/{case['id']}/materials/power_of_attorney",
        files={"file": ("poa2.pdf", PDF + b"signed poa", "application/pdf")},
        headers=sh.auth("citizen3"),
    )
    assert again.status_code == 201, again.text
    assert move(sh, case["id"], "citizen3", "resubmit").status_code == 200
    regions.pump()
    there = _there(regions, case["id"])
    assert there.status == "submitted"  # back where it was asked from
    with regions.js.session() as session:
        count = len(list(session.scalars(select(CaseFile).where(CaseFile.case_id == there.id))))
    assert count == 3  # the corrected paper arrived too
    for action in ("accept", "start_review", "approve"):
        assert move(regions.js, there.id, reviewer, action).status_code == 200
    regions.pump()
    assert _here(sh, case["id"])["status"] == "approved"
    # 统一出件 here: the window hands the certificate out; Jiangsu's case closes.
    handed = sh.client.post(
        f"/api/v1/cases/{case['id']}/transitions",
        json={"action": "deliver", "detail": "申请人本人领取"},
        headers=sh.auth(window),
    )
    assert handed.status_code == 200, handed.text
    regions.pump()
    assert _there(regions, case["id"]).status == "delivered"


def test_a_case_the_peer_cannot_take_ends_here_with_its_reason(regions: Regions) -> None:
    with regions.js.session() as session:
        matter = session.scalars(select(Matter).where(Matter.code == NO_RECORD_THERE)).one()
        matter.definition = {**matter.definition, "cross_region": False}
        session.commit()
    try:
        case = _apply_online(regions, "fwd-refused-1", delivery="electronic")
        regions.pump()
    finally:
        with regions.js.session() as session:
            matter = session.scalars(select(Matter).where(Matter.code == NO_RECORD_THERE)).one()
            matter.definition = {**matter.definition, "cross_region": True}
            session.commit()
    here = _here(regions.sh, case["id"])
    assert here["status"] == "rejected_at_intake"
    assert "江苏省未能接收" in here["history"][-1]["reason"]
    assert forwarded_to(regions, case["id"]) is None  # nothing half-made there


def test_a_retried_submission_forwards_once(regions: Regions) -> None:
    first = _apply_online(regions, "fwd-retry-1", delivery="electronic")
    again = _apply_online(regions, "fwd-retry-1", delivery="electronic")
    assert again["id"] == first["id"]
    regions.pump()
    assert forwarded_to(regions, first["id"]) is not None  # one case there (asserted inside)
