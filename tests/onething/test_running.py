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


def test_an_earlier_childs_certificate_is_not_this_childs(full: World) -> None:
    first = submitted(full, "birth", BIRTH_ALL)
    assert approve(full, task(first, CERT)["case"], CERT).status_code == 200
    # The applicant now holds a birth certificate — of the first child.
    second = start(full, "birth", BIRTH_ALL).json()
    assert "child.name" not in second["form"] and "child.birth_date" not in second["form"]
    vaccine = full.client.get(
        f"/api/v1/cases/{task(second, VACCINE)['case']}", headers=full.auth("citizen1")
    ).json()
    cert = next(m for m in vaccine["materials"] if m["key"] == "birth_medical_certificate")
    assert cert["resolution"] == "upstream"
    second = upload_all(full, fill(full, second))
    assert (
        full.client.post(
            f"/api/v1/bundle-cases/{second['id']}/submit", headers=full.auth("citizen1")
        ).status_code
        == 200
    )
    done = approve(full, task(second, CERT)["case"], CERT).json()
    vaccine = full.client.get(
        f"/api/v1/cases/{task(second, VACCINE)['case']}", headers=full.auth("citizen1")
    ).json()
    cert = next(m for m in vaccine["materials"] if m["key"] == "birth_medical_certificate")
    assert cert["resolution"] == "license" and cert["identifier"] == done["license"]


def test_staff_see_no_draft_and_only_the_shape_of_a_submitted_bundle(full: World) -> None:
    draft = start(full, "unemployment", {"insured_year": "yes"}).json()
    url = f"/api/v1/bundle-cases/{draft['id']}"
    assert full.client.get(url, headers=full.auth("rev_sh-rsj")).status_code == 404
    bc = submitted(full, "unemployment", {"insured_year": "yes"})
    seen = full.client.get(f"/api/v1/bundle-cases/{bc['id']}", headers=full.auth("rev_sh-rsj"))
    assert seen.status_code == 200
    out = seen.json()
    assert out["answers"] is None and out["materials"] is None and out["form"] is None
    usage = full.client.get("/api/v1/me/data-usage", headers=full.auth("citizen1")).json()
    assert any(u["action"] == "bundle.read" for u in usage)


def test_a_task_cannot_choose_its_own_delivery(full: World) -> None:
    bc = submitted(full, "unemployment", {"insured_year": "yes"})
    r = full.client.post(
        f"/api/v1/cases/{task(bc, '20P004000007')['case']}/delivery",
        json={"method": "post", "address": "上海市某路1号"},
        headers=full.auth("citizen1"),
    )
    assert r.status_code == 409 and r.json()["code"] == "bundle_delivery"


def test_an_uploaded_paper_can_be_taken_back_from_a_draft(full: World) -> None:
    bc = upload_all(full, fill(full, start(full, "unemployment", {"insured_year": "yes"}).json()))
    paper = next(m for m in bc["materials"] if m["files"])
    gone = full.client.delete(
        f"/api/v1/bundle-cases/{bc['id']}/materials",
        params={"material": paper["identity"]},
        headers=full.auth("citizen1"),
    )
    assert gone.status_code == 200 and gone.json()["removed"] >= 1
    again = next(m for m in read(full, bc["id"])["materials"] if m["identity"] == paper["identity"])
    assert again["files"] == [] and again["needs_upload"]


def test_a_bundle_where_nothing_succeeds_ends_without_a_delivery(full: World) -> None:
    bc = submitted(full, "unemployment", {"insured_year": "yes"})
    assert deny(full, task(bc, "20P004000007")["case"], "20P004000007").status_code == 200
    bc = read(full, bc["id"])
    assert status(bc, "05P004000008") == "cancelled"
    assert bc["status"] == "ended"
    window = window_at(full, bc["hall"])
    assert (
        full.client.post(
            f"/api/v1/bundle-cases/{bc['id']}/deliver", json={}, headers=full.auth(window)
        ).status_code
        == 409
    )


def test_no_e_license_delivery_for_a_bundle_that_issues_none(full: World) -> None:
    r = start(
        full, "disability-aid", {"has_card": "yes", "low_income": "yes"}, delivery="electronic"
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["code"] == "no_license"


def new_uscc(serial: int) -> str:
    from tongban.common.identifiers import is_valid_uscc

    base = f"91310115MA1K{serial:05d}"
    return next(base + c for c in "0123456789ABCDEFGHJKLMNPQRTUWXY" if is_valid_uscc(base + c))


def test_starting_a_company_registers_it_and_the_rest_act_for_it(full: World) -> None:
    from tests.idcode.test_api import id_number_of

    answers = {"seal": "yes", "employees": "yes", "general_taxpayer": "no"}
    bc = start(full, "company-start", answers, user="citizen2").json()
    assert len(bc["tasks"]) == 6
    assert "enterprise.uscc" not in {f["key"] for f in bc["fields"] if f["provided_by"] is None}
    me = id_number_of(full, "citizen2")
    full.client.patch(
        f"/api/v1/bundle-cases/{bc['id']}",
        json={
            "form": {
                "enterprise.legal_rep_id_number": me,
                "enterprise.name": "上海通办测试有限公司",
            }
        },
        headers=full.auth("citizen2"),
    )
    bc = upload_all(full, fill(full, read(full, bc["id"], "citizen2"), "citizen2"), "citizen2")
    done = full.client.post(
        f"/api/v1/bundle-cases/{bc['id']}/submit", headers=full.auth("citizen2")
    )
    assert done.status_code == 200, done.text
    bc = done.json()
    setup = "01E001000001"
    assert status(bc, setup) == "submitted"
    assert {t["status"] for t in bc["tasks"] if t["code"] != setup} == {"waiting"}
    # The registration authority approves and gives the credit code.
    missing = approve(full, task(bc, setup)["case"], setup)
    assert missing.status_code == 422
    uscc = new_uscc(bc["id"])
    ok = full.client.post(
        f"/api/v1/cases/{task(bc, setup)['case']}/transitions",
        json={"action": "approve", "result": {"enterprise.uscc": uscc}},
        headers=full.auth("rev_sh-scjgj"),
    )
    assert ok.status_code == 200, ok.text
    licence = ok.json()["license"]
    bc = read(full, bc["id"], "citizen2")
    assert {t["status"] for t in bc["tasks"] if t["code"] != setup} == {"submitted"}
    # The founder now acts for the new enterprise: its later matters are theirs to follow.
    seal = full.client.get(
        f"/api/v1/cases/{task(bc, '07E002000001')['case']}", headers=full.auth("citizen2")
    ).json()
    held = next(m for m in seal["materials"] if m["key"] == "business_license")
    assert held["resolution"] == "license" and held["identifier"] == licence
    wallet = full.client.get(
        "/api/v1/me/licenses", params={"uscc": uscc}, headers=full.auth("citizen2")
    )
    assert wallet.status_code == 200
    assert licence in wallet.text


def test_a_credit_code_is_given_once(full: World) -> None:
    from tests.idcode.test_api import id_number_of

    answers = {"seal": "no", "employees": "no", "general_taxpayer": "no"}
    codes = []
    for _ in range(2):
        bc = start(full, "company-start", answers, user="citizen2").json()
        full.client.patch(
            f"/api/v1/bundle-cases/{bc['id']}",
            json={"form": {"enterprise.legal_rep_id_number": id_number_of(full, "citizen2")}},
            headers=full.auth("citizen2"),
        )
        bc = upload_all(full, fill(full, read(full, bc["id"], "citizen2"), "citizen2"), "citizen2")
        bc = full.client.post(
            f"/api/v1/bundle-cases/{bc['id']}/submit", headers=full.auth("citizen2")
        ).json()
        codes.append(task(bc, "01E001000001")["case"])
    uscc = new_uscc(90000 + codes[0])
    for case_id, expected in zip(codes, (200, 409), strict=True):
        approve(full, case_id, "01E001000001")  # accept, review; the approval itself: 422
        r = full.client.post(
            f"/api/v1/cases/{case_id}/transitions",
            json={"action": "approve", "result": {"enterprise.uscc": uscc}},
            headers=full.auth("rev_sh-scjgj"),
        )
        assert r.status_code == expected, r.text
    assert r.json()["code"] == "uscc_taken"
