"""Running a bundle: one submission, tasks scheduled by their needs, results flowing down,
补正 pausing only what depends on it, a refusal ending only its dependents, one delivery."""

from __future__ import annotations

import pytest

from tests.cases.helpers import move
from tests.idcode.conftest import World
from tests.onething.helpers import (
    approve,
    deny,
    fill,
    read,
    start,
    submitted,
    task,
    upload_all,
    window_at,
)

pytestmark = pytest.mark.usefixtures("a_known_day")

BIRTH_ALL = {"household_here": "yes", "parent_permit": "yes", "mother_insured": "yes"}
CERT, HUKOU, INSURE, CARD, PAY = (
    "20P006000002",
    "07P003000001",
    "07P005000001",
    "20P004000001",
    "04P008000001",
)
FERTILITY, VACCINE, CHILDCARE, MATERNITY = (
    "20P006000001",
    "20P006000003",
    "20P006000004",
    "05P005000002",
)


def status(bc: dict, code: str) -> str:
    return task(bc, code)["status"]


def test_one_submission_hands_in_only_what_waits_for_nothing(full: World) -> None:
    bc = submitted(full, "birth", BIRTH_ALL)
    assert bc["status"] == "in_progress"
    assert bc["number"].startswith("YJS")
    assert len(bc["tasks"]) == 9
    assert {t["code"] for t in bc["tasks"] if t["status"] == "submitted"} == {FERTILITY, CERT}
    assert all(t["status"] == "waiting" for t in bc["tasks"] if t["code"] not in {FERTILITY, CERT})
    assert bc["days"] == 20
    assert "0/9项已办结" in bc["status_line"]


def test_a_result_flows_downstream_and_starts_what_is_ready(full: World) -> None:
    bc = submitted(full, "birth", BIRTH_ALL)
    assert approve(full, task(bc, CERT)["case"], CERT).status_code == 200
    bc = read(full, bc["id"])
    # The certificate was all that 接种证, 保健建册, 出生登记 and 生育保险 waited for.
    for code in (VACCINE, CHILDCARE, HUKOU, MATERNITY):
        assert status(bc, code) == "submitted", code
    for code in (INSURE, CARD, PAY):
        assert status(bc, code) == "waiting", code
    # The certificate the later matters needed now comes from the registry, not the applicant.
    hukou = full.client.get(
        f"/api/v1/cases/{task(bc, HUKOU)['case']}", headers=full.auth("citizen1")
    ).json()
    cert = next(m for m in hukou["materials"] if m["key"] == "birth_medical_certificate")
    assert cert["resolution"] == "license"

    # 出生登记 must say which ID number the newborn got; it flows into the matters after it.
    refused = approve(full, task(bc, HUKOU)["case"], HUKOU)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "result.child.id_number"
    reviewer = "rev_sh-gaj"
    ok = full.client.post(
        f"/api/v1/cases/{task(bc, HUKOU)['case']}/transitions",
        json={"action": "approve", "result": {"child.id_number": "310101202601050012"}},
        headers=full.auth(reviewer),
    )
    assert ok.status_code == 200, ok.text
    bc = read(full, bc["id"])
    assert status(bc, INSURE) == "submitted" and status(bc, CARD) == "submitted"
    assert status(bc, PAY) == "waiting"  # waits for 参保 itself
    insured = full.client.get(
        f"/api/v1/cases/{task(bc, INSURE)['case']}", headers=full.auth("rev_sh-ybj")
    ).json()
    assert insured["history"][-1]["action"] == "start"
    with full.session() as session:
        from tongban.cases.models import Case
        from tongban.cases.service import form_of
        from tongban.licenses.service import Registry

        row = session.get(Case, task(bc, INSURE)["case"])
        assert row is not None
        reg = full.client.app.state.licenses  # type: ignore[attr-defined]
        assert isinstance(reg, Registry)
        assert form_of(session, reg, row)["child.id_number"] == "310101202601050012"


def test_correction_pauses_only_what_depends_on_it(full: World) -> None:
    bc = submitted(full, "birth", BIRTH_ALL)
    cert = task(bc, CERT)["case"]
    reviewer = "rev_sh-wjw"
    assert move(full, cert, reviewer, "accept").status_code == 200
    assert (
        move(full, cert, reviewer, "request_correction", "出生医学证明登记表字迹不清").status_code
        == 200
    )
    # 生育登记 needs nothing from the certificate: it is approved meanwhile.
    assert approve(full, task(bc, FERTILITY)["case"], FERTILITY).status_code == 200
    bc = read(full, bc["id"])
    assert "需要补正：出生医学证明首次签发" in bc["status_line"]
    assert status(bc, VACCINE) == "waiting" and status(bc, FERTILITY) == "approved"
    # The applicant fixes it; once approved, what waited starts.
    fixed = move(full, cert, "citizen1", "resubmit")
    assert fixed.status_code == 200, fixed.text
    for action in ("start_review", "approve"):
        assert move(full, cert, reviewer, action).status_code == 200
    assert status(read(full, bc["id"]), VACCINE) == "submitted"


def test_a_refusal_ends_its_dependents_and_nothing_else(full: World) -> None:
    bc = submitted(full, "birth", BIRTH_ALL)
    assert approve(full, task(bc, CERT)["case"], CERT).status_code == 200
    bc = read(full, bc["id"])
    assert deny(full, task(bc, HUKOU)["case"], HUKOU, "父母双方均非本市户籍").status_code == 200
    bc = read(full, bc["id"])
    assert status(bc, HUKOU) == "denied"
    for code in (INSURE, CARD, PAY):  # 缴费 through 参保: ended too
        assert status(bc, code) == "cancelled", code
    for code in (VACCINE, CHILDCARE, MATERNITY):
        assert status(bc, code) == "submitted", code
    ended = full.client.get(
        f"/api/v1/cases/{task(bc, PAY)['case']}", headers=full.auth("citizen1")
    ).json()
    assert "出生登记（新生儿户口申报）」不予许可" in ended["history"][-1]["reason"]
    assert "3项未能办理" in bc["status_line"] or "4项未能办理" in bc["status_line"]


def test_all_results_are_handed_out_together(full: World) -> None:
    answers = {"hpf_account": "yes", "only_child": "no"}
    bc = submitted(full, "retirement", answers)
    first = "05P004000002"
    assert approve(full, task(bc, first)["case"], first).status_code == 200
    bc = read(full, bc["id"])
    # A task of a bundle is not handed out on its own (统一发证).
    alone = move(full, task(bc, first)["case"], "rev_sh-rsj", "deliver")
    assert alone.status_code == 409
    for t in bc["tasks"]:
        if t["status"] == "submitted":
            assert approve(full, t["case"], t["code"]).status_code == 200
    bc = read(full, bc["id"])
    assert bc["status"] == "completed", bc["status_line"]
    assert bc["completed_at"] is not None
    window = window_at(full, bc["hall"])
    early_reader = full.client.post(
        f"/api/v1/bundle-cases/{bc['id']}/deliver", json={}, headers=full.auth("citizen1")
    )
    assert early_reader.status_code == 409
    done = full.client.post(
        f"/api/v1/bundle-cases/{bc['id']}/deliver",
        json={"detail": "本人领取"},
        headers=full.auth(window),
    )
    assert done.status_code == 200, done.text
    out = done.json()
    assert out["status"] == "delivered"
    assert {t["status"] for t in out["tasks"]} == {"delivered"}
    again = full.client.post(
        f"/api/v1/bundle-cases/{bc['id']}/deliver", json={}, headers=full.auth(window)
    )
    assert again.status_code == 409


def test_the_same_key_gives_the_same_bundle_case(full: World) -> None:
    answers = {"insured_year": "yes"}
    first = start(full, "unemployment", answers, key="job-1")
    again = start(full, "unemployment", answers, key="job-1")
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    other = start(full, "unemployment", {"insured_year": "no"}, key="job-1")
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"


def test_bad_input_is_refused_and_changes_nothing(full: World) -> None:
    before = full.client.get("/api/v1/me/bundle-cases", headers=full.auth("citizen1")).json()
    wrong = start(full, "birth", {"household_here": "maybe"})
    assert wrong.status_code == 422
    fields = {e["field"] for e in wrong.json()["errors"]}
    assert {"answers.household_here", "answers.parent_permit", "answers.mother_insured"} <= fields
    assert start(full, "no-such-thing", {}).status_code == 404
    assert start(full, "company-close", {}).status_code == 422  # an enterprise's bundle
    after = full.client.get("/api/v1/me/bundle-cases", headers=full.auth("citizen1")).json()
    assert len(after) == len(before)


def test_an_incomplete_bundle_is_not_submitted(full: World) -> None:
    r = start(full, "unemployment", {"insured_year": "yes"})
    bc = r.json()
    refused = full.client.post(
        f"/api/v1/bundle-cases/{bc['id']}/submit", headers=full.auth("citizen1")
    )
    assert refused.status_code == 422
    assert refused.json()["code"] == "bundle_incomplete"
    assert read(full, bc["id"])["status"] == "draft"
    bc = upload_all(full, fill(full, bc))
    ok = full.client.post(f"/api/v1/bundle-cases/{bc['id']}/submit", headers=full.auth("citizen1"))
    assert ok.status_code == 200, ok.text


def test_nobody_else_sees_a_bundle_case(full: World) -> None:
    bc = start(full, "unemployment", {"insured_year": "no"}).json()
    assert (
        full.client.get(
            f"/api/v1/bundle-cases/{bc['id']}", headers=full.auth("citizen2")
        ).status_code
        == 404
    )
    edit = full.client.patch(
        f"/api/v1/bundle-cases/{bc['id']}", json={"form": {}}, headers=full.auth("citizen2")
    )
    assert edit.status_code == 404
