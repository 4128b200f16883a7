"""多地联办: the Yangtze-Delta birth bundle runs as one case in Shanghai with tasks in both
regions. Shanghai's birth certificate starts the Suzhou household registration, which travels
to Jiangsu with it; the ID number Jiangsu gives the newborn comes back and starts Shanghai's
medical insurance; everything is handed out together in Shanghai."""

from __future__ import annotations

from typing import Any

from stdnum.cn import ric

from tests.cases.helpers import move
from tests.federation.conftest import Node, Regions, fetched_from_jiangsu, forwarded_to, staff
from tests.onething.helpers import fill, read, start, task, upload_all
from tongban.cases.models import Case
from tongban.cases.service import form_of
from tongban.identity.schemas import Role

BIRTH_CERT, VACCINE, HUKOU_THERE, INSURE = (
    "20P006000002",
    "20P006000003",
    "07P901000001",
    "07P005000001",
)


def _child_id() -> str:
    body = "32058320260105001"
    return body + str(ric.calc_check_digit(body + "0"))


def _approve(node: Node, case_id: int, reviewer: str, result: dict[str, str] | None = None) -> Any:
    for action in ("accept", "start_review"):
        r = move(node, case_id, reviewer, action)
        assert r.status_code == 200, r.text
    return node.client.post(
        f"/api/v1/cases/{case_id}/transitions",
        json={"action": "approve", "result": result},
        headers=node.auth(reviewer),
    )


def test_a_bundle_runs_tasks_in_both_regions_and_ends_as_one(regions: Regions) -> None:
    sh, js = regions.sh, regions.js
    fetched_from_jiangsu(regions, "办理新生儿出生一件事")
    r = start(sh, "yrd-birth", {"parent_permit": "yes"}, "citizen3")  # type: ignore[arg-type]
    assert r.status_code == 201, r.text
    bc = upload_all(sh, fill(sh, r.json(), "citizen3"), "citizen3")  # type: ignore[arg-type]
    done = sh.client.post(f"/api/v1/bundle-cases/{bc['id']}/submit", headers=sh.auth("citizen3"))
    assert done.status_code == 200, done.text
    bc = done.json()
    assert {t["code"] for t in bc["tasks"]} == {BIRTH_CERT, VACCINE, HUKOU_THERE, INSURE}
    assert task(bc, HUKOU_THERE)["status"] == "waiting"

    # Shanghai's birth certificate: the Suzhou registration starts and travels to Jiangsu.
    wjw = staff(sh, "rev_sh-wjw", Role.REVIEWER, "sh-wjw")
    assert _approve(sh, task(bc, BIRTH_CERT)["case"], wjw).status_code == 200
    regions.pump()
    bc = read(sh, bc["id"], "citizen3")  # type: ignore[arg-type]
    assert task(bc, HUKOU_THERE)["status"] == "submitted"
    assert task(bc, VACCINE)["status"] == "submitted"
    there = forwarded_to(regions, task(bc, HUKOU_THERE)["case"])
    assert there is not None
    materials = {m["key"]: m for m in there.materials}
    assert there.origin_results == ["child.id_number"]
    # Jiangsu proves the Shanghai certificate by Shanghai's signature (互认), its own
    # registry proves the parents' ID cards and household register.
    assert materials["birth_medical_certificate"]["reason"] == "found_peer"
    assert materials["household_register"]["reason"] == "found"

    # Jiangsu registers the newborn; the ID number it gives comes back.
    gaj = staff(js, "rev_sz-gaj", Role.REVIEWER, "sz-gaj")
    refused = _approve(js, there.id, gaj)
    assert refused.status_code == 422  # the accepting region asked for the ID number
    assert refused.json()["errors"][0]["field"] == "result.child.id_number"
    ok = js.client.post(
        f"/api/v1/cases/{there.id}/transitions",
        json={"action": "approve", "result": {"child.id_number": _child_id()}},
        headers=js.auth(gaj),
    )
    assert ok.status_code == 200, ok.text
    regions.pump()
    bc = read(sh, bc["id"], "citizen3")  # type: ignore[arg-type]
    assert task(bc, HUKOU_THERE)["status"] == "approved"
    assert task(bc, INSURE)["status"] == "submitted"  # it waited for the ID number
    with sh.session() as session:
        insured = session.get(Case, task(bc, INSURE)["case"])
        assert insured is not None
        assert form_of(session, sh.fed.registry, insured)["child.id_number"] == _child_id()

    ybj = staff(sh, "rev_sh-ybj", Role.REVIEWER, "sh-ybj")
    assert _approve(sh, task(bc, INSURE)["case"], ybj).status_code == 200
    assert _approve(sh, task(bc, VACCINE)["case"], wjw).status_code == 200
    bc = read(sh, bc["id"], "citizen3")  # type: ignore[arg-type]
    assert bc["status"] == "completed"
    window = staff(sh, f"win_{bc['hall']}"[:60], Role.WINDOW_STAFF, bc["hall"])
    handed = sh.client.post(
        f"/api/v1/bundle-cases/{bc['id']}/deliver",
        json={"detail": "统一送达"},
        headers=sh.auth(window),
    )
    assert handed.status_code == 200, handed.text
    regions.pump()
    with js.session() as session:
        closed = session.get(Case, there.id)
        assert closed is not None
        assert closed.status == "delivered"  # handed out in Shanghai, closed in Jiangsu
