"""Applying in full: drafts, uploaded materials, a relative applying for someone (代办), the
window serving a walk-in applicant (综合受理), and the result delivered as the applicant chose."""

from __future__ import annotations

import io
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from tests.cases.helpers import PDF, SCHOOL, apply, filled, move, reviewer_of, upload_missing
from tests.idcode.conftest import World
from tests.idcode.test_api import id_number_of, person_of
from tests.identity.test_pages import HTML, portal_login
from tongban.cases.models import Case, CaseFile
from tongban.catalog.models import Hall, LicenseType, Matter
from tongban.identity.models import Account
from tongban.identity.schemas import Role

pytestmark = pytest.mark.usefixtures("a_known_day")


def draft(world: World, code: str = SCHOOL, user: str = "citizen1", **body: Any) -> Any:
    r = apply(world, code, user, submit=False, **body)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "draft"
    return r.json()


def upload(world: World, case_id: int, material: str, data: bytes, user: str = "citizen1") -> Any:
    return world.client.post(
        f"/api/v1/cases/{case_id}/materials/{material}",
        files={"file": ("scan.pdf", data, "application/pdf")},
        headers=world.auth(user),
    )


def png() -> bytes:
    out = io.BytesIO()
    Image.new("L", (120, 40), 255).save(out, format="PNG")
    return out.getvalue()


def license_matter(world: World) -> str:
    with world.session() as session:
        code = session.scalar(
            select(Matter.code)
            .join(LicenseType, LicenseType.id == Matter.issues_license_id)
            .where(Matter.for_person.is_(True), LicenseType.holder == "person")
            .order_by(Matter.promised_days, Matter.code)
        )
    assert code is not None
    return code


def usage(world: World, user: str) -> list[dict[str, Any]]:
    r = world.client.get("/api/v1/me/data-usage", headers=world.auth(user))
    assert r.status_code == 200
    return list(r.json())


# -- drafts and materials ----------------------------------------------------------------------


def test_a_draft_is_kept_incomplete_and_goes_in_only_when_complete(full: World) -> None:
    form = filled(full, SCHOOL, "citizen1")
    missing_field = next(k for k in form if k.startswith("student."))
    partial = {k: v for k, v in form.items() if k != missing_field}
    r = full.client.post(
        "/api/v1/cases",
        json={"matter": SCHOOL, "form": partial, "submit": False},
        headers=full.auth("citizen1"),
    )
    assert r.status_code == 201, r.text
    case = r.json()
    assert case["status"] == "draft"
    assert case["number"] is None

    incomplete = move(full, case["id"], "citizen1", "submit")
    assert incomplete.status_code == 422
    assert f"form.{missing_field}" in {e["field"] for e in incomplete.json()["errors"]}

    saved = full.client.patch(
        f"/api/v1/cases/{case['id']}", json={"form": form}, headers=full.auth("citizen1")
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["missing_materials"] == ["vaccination_certificate"]
    no_file = move(full, case["id"], "citizen1", "submit")
    assert no_file.status_code == 422
    assert no_file.json()["code"] == "materials_missing"
    assert no_file.json()["errors"][0]["field"] == "materials.vaccination_certificate"

    first = upload(full, case["id"], "vaccination_certificate", PDF + b"vaccination")
    assert first.status_code == 201, first.text
    retry = upload(full, case["id"], "vaccination_certificate", PDF + b"vaccination")
    assert retry.status_code == 200
    assert retry.json()["id"] == first.json()["id"]

    submitted = move(full, case["id"], "citizen1", "submit")
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["status"] == "submitted"
    assert submitted.json()["materials"][-1]["files"][0]["sha256"] == first.json()["sha256"]
    # Once in, the form and files are the hall's to judge: changes wait for a 补正 request.
    late = full.client.patch(
        f"/api/v1/cases/{case['id']}", json={"form": form}, headers=full.auth("citizen1")
    )
    assert late.status_code == 409
    assert late.json()["code"] == "case_not_editable"
    assert upload(full, case["id"], "vaccination_certificate", PDF + b"v2").status_code == 409


def test_a_submission_with_a_material_missing_changes_nothing(full: World) -> None:
    with full.session() as session:
        before = session.query(Case).count()
    r = full.client.post(
        "/api/v1/cases",
        json={"matter": SCHOOL, "form": filled(full, SCHOOL, "citizen1")},
        headers=full.auth("citizen1") | {"idempotency-key": "missing-material-1"},
    )
    assert r.status_code == 422
    assert r.json()["code"] == "materials_missing"
    with full.session() as session:
        assert session.query(Case).count() == before


def test_uploads_are_judged_by_their_bytes_and_kept_encrypted(full: World) -> None:
    case = draft(full)
    key = "vaccination_certificate"
    text = upload(full, case["id"], key, b"just some text, called scan.pdf")
    assert text.status_code == 422
    assert text.json()["errors"][0]["code"] == "unsupported_type"
    assert upload(full, case["id"], key, b"").status_code == 422
    huge = upload(full, case["id"], key, PDF + b"0" * (10 * 1024 * 1024))
    assert huge.status_code == 413
    resolved = next(m["key"] for m in case["materials"] if m["resolution"] == "license")
    refused = upload(full, case["id"], resolved, PDF)
    assert refused.status_code == 409
    assert refused.json()["code"] == "material_resolved"
    assert upload(full, case["id"], "no_such_material", PDF).status_code == 422
    for i in range(5):
        assert upload(full, case["id"], key, PDF + bytes([i])).status_code == 201
    sixth = upload(full, case["id"], key, PDF + b"six")
    assert sixth.status_code == 409
    assert sixth.json()["code"] == "too_many_files"

    secret = PDF + "学生 张三 接种记录".encode()
    removed = full.client.get(f"/api/v1/cases/{case['id']}", headers=full.auth("citizen1"))
    first_file = removed.json()["materials"][-1]["files"][0]["id"]
    gone = full.client.delete(
        f"/api/v1/cases/{case['id']}/files/{first_file}", headers=full.auth("citizen1")
    )
    assert gone.status_code == 204
    stored = upload(full, case["id"], key, secret)
    assert stored.status_code == 201
    with full.session() as session:
        row = session.get(CaseFile, stored.json()["id"])
        assert row is not None
        assert full.settings.files_dir is not None
        blob = full.settings.files_dir / row.blob_ref[:2] / row.blob_ref
    assert "接种记录".encode() not in blob.read_bytes()
    mine = full.client.get(
        f"/api/v1/cases/{case['id']}/files/{stored.json()['id']}", headers=full.auth("citizen1")
    )
    assert mine.status_code == 200
    assert mine.content == secret
    assert mine.headers["content-type"] == "application/pdf"


def test_staff_reading_an_uploaded_file_is_shown_to_the_applicant(full: World) -> None:
    case = draft(full, user="citizen2")
    upload_missing(full, case, "citizen2")
    assert move(full, case["id"], "citizen2", "submit").status_code == 200
    file_id = full.client.get(f"/api/v1/cases/{case['id']}", headers=full.auth("citizen2")).json()[
        "materials"
    ][-1]["files"][0]["id"]
    reviewer = reviewer_of(full, SCHOOL)
    r = full.client.get(f"/api/v1/cases/{case['id']}/files/{file_id}", headers=full.auth(reviewer))
    assert r.status_code == 200
    assert any(u["action"] == "case.file_read" for u in usage(full, "citizen2"))
    # Nobody else reads it, and nobody but the applicant changes it.
    assert (
        full.client.get(
            f"/api/v1/cases/{case['id']}/files/{file_id}", headers=full.auth("citizen1")
        ).status_code
        == 404
    )
    other = draft(full, user="citizen2")
    assert upload(full, other["id"], "vaccination_certificate", PDF, reviewer).status_code in (
        403,
        404,
    )


# -- 代办 --------------------------------------------------------------------------------------


def authorize(world: World, grantor: str, agent: str, **body: Any) -> Any:
    payload = {
        "agent_id_number": id_number_of(world, agent),
        "agent_name": person_of(world, agent).name,
        "relation": "child",
        **body,
    }
    return world.client.post("/api/v1/me/proxies", json=payload, headers=world.auth(grantor))


def test_a_relative_applies_for_an_elderly_person(full: World) -> None:
    wrong = authorize(full, "citizen2", "citizen1", agent_name="别人")
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["code"] == "person_mismatch"
    given = authorize(full, "citizen2", "citizen1", matters=[SCHOOL])
    assert given.status_code == 201, given.text
    proxy = given.json()
    assert proxy["direction"] == "given"
    held = full.client.get("/api/v1/me/proxies", headers=full.auth("citizen1")).json()
    assert any(p["id"] == proxy["id"] and p["direction"] == "received" for p in held)

    form = full.client.get(
        f"/api/v1/matters/{SCHOOL}/form",
        params={"proxy": proxy["id"]},
        headers=full.auth("citizen1"),
    ).json()
    values = {f["key"]: f["value"] for f in form["fields"]}
    assert values["person.id_number"] == id_number_of(full, "citizen2")
    assert any(u["reason"] == "亲属代办：预填申请表" for u in usage(full, "citizen2"))

    case = apply(full, SCHOOL, "citizen1", proxy=proxy["id"])
    assert case.status_code == 200, case.text
    with full.session() as session:
        row = session.get(Case, case.json()["id"])
        assert row is not None
        grantor = person_of(full, "citizen2")
        assert row.person_id == grantor.id
        assert row.proxy_id == proxy["id"]
        hall = session.scalars(select(Hall).where(Hall.key == row.hall_key)).one()
        assert hall.street_code == grantor.street_code  # the elderly person's own street
    theirs = full.client.get("/api/v1/me/cases", headers=full.auth("citizen2")).json()
    assert case.json()["id"] in [c["id"] for c in theirs]
    inbox = full.client.get("/api/v1/me/inbox", headers=full.auth("citizen1")).json()
    assert any(m["title"].startswith("（代办）") for m in inbox)

    other = next(c for c in ("20P010000002", license_matter(full)) if c != SCHOOL)
    out_of_scope = full.client.post(
        "/api/v1/cases",
        json={"matter": other, "form": {}, "proxy": proxy["id"], "submit": False},
        headers=full.auth("citizen1"),
    )
    assert out_of_scope.status_code == 403
    assert out_of_scope.json()["code"] == "proxy_out_of_scope"
    stranger = full.client.post(
        "/api/v1/cases",
        json={"matter": SCHOOL, "form": {}, "proxy": proxy["id"], "submit": False},
        headers=full.auth("enterprise1"),
    )
    assert stranger.status_code == 404

    withdrawn = full.client.delete(
        f"/api/v1/me/proxies/{proxy['id']}", headers=full.auth("citizen2")
    )
    assert withdrawn.json()["active"] is False
    # The relative no longer sees the case they made for the person; the person still does.
    gone = full.client.get(f"/api/v1/cases/{case.json()['id']}", headers=full.auth("citizen1"))
    assert gone.status_code == 404
    listed = full.client.get("/api/v1/me/cases", headers=full.auth("citizen1")).json()
    assert case.json()["id"] not in [c["id"] for c in listed]
    still = full.client.get(f"/api/v1/cases/{case.json()['id']}", headers=full.auth("citizen2"))
    assert still.status_code == 200
    late = full.client.post(
        "/api/v1/cases",
        json={"matter": SCHOOL, "form": {}, "proxy": proxy["id"], "submit": False},
        headers=full.auth("citizen1"),
    )
    assert late.status_code == 403
    assert late.json()["code"] == "proxy_expired"


# -- 综合受理 ------------------------------------------------------------------------------------


def window_of(world: World, user: str = "window1") -> str:
    with world.session() as session:
        account = session.scalars(select(Account).where(Account.username == user)).one()
        return next(g.binding for g in account.roles if g.role == Role.WINDOW_STAFF.value)


def visit(world: World, user: str = "window1", **body: Any) -> Any:
    return world.client.post("/api/v1/window/visits", json=body, headers=world.auth(user))


def test_the_window_serves_a_walk_in_applicant(full: World) -> None:
    person = person_of(full, "citizen2")
    id_number = id_number_of(full, "citizen2")
    assert visit(full, id_number=id_number, name="别人").status_code == 422
    assert visit(full, "citizen1", id_number=id_number, name=person.name).status_code == 403
    by_card = visit(full, id_number=id_number, name=person.name)
    assert by_card.status_code == 201, by_card.text
    assert by_card.json()["person"]["id_number"].startswith(id_number[:3])
    assert "*" in by_card.json()["person"]["id_number"]

    token = full.code("citizen2")["token"]
    by_code = visit(full, code=token)
    assert by_code.status_code == 201, by_code.text
    visit_id = by_code.json()["id"]
    assert by_code.json()["identified_by"] == "code"
    form = full.client.get(
        f"/api/v1/window/visits/{visit_id}/form",
        params={"matter": SCHOOL},
        headers=full.auth("window1"),
    )
    assert form.status_code == 200
    values = {f["key"]: f["value"] for f in form.json()["fields"]}
    assert values["person.id_number"] == id_number
    reasons = [u["action"] for u in usage(full, "citizen2")]
    assert "counter.identify" in reasons
    # Another window cannot use this visit.
    assert (
        full.client.get(
            f"/api/v1/window/visits/{visit_id}/form",
            params={"matter": SCHOOL},
            headers=full.auth("window2"),
        ).status_code
        == 404
    )

    made = full.client.post(
        "/api/v1/cases",
        json={
            "matter": SCHOOL,
            "form": filled(full, SCHOOL, "citizen2"),  # what the window sees, completed
            "channel": "window",
            "visit": visit_id,
        },
        headers=full.auth("window1") | {"idempotency-key": "counter-1"},
    )
    assert made.status_code == 201, made.text
    case = made.json()
    assert case["status"] == "draft"  # waits for the applicant's signature or confirmation
    assert case["channel"] == "window"
    assert case["hall"] == window_of(full, "window1")
    assert "submit" not in case["allowed_actions"]
    assert move(full, case["id"], "window1", "submit").status_code == 409
    upload_missing(full, case, "window1")
    not_png = full.client.post(
        f"/api/v1/cases/{case['id']}/signature",
        files={"file": ("sig.pdf", PDF, "application/pdf")},
        headers=full.auth("window1"),
    )
    assert not_png.status_code == 422
    signed = full.client.post(
        f"/api/v1/cases/{case['id']}/signature",
        files={"file": ("sig.png", png(), "image/png")},
        headers=full.auth("window1"),
    )
    assert signed.status_code == 200, signed.text
    assert signed.json()["signed"] is True
    assert "submit" in signed.json()["allowed_actions"]
    submitted = move(full, case["id"], "window1", "submit")
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["status"] == "submitted"
    assert [h["action"] for h in submitted.json()["history"]] == ["create", "sign", "submit"]
    theirs = full.client.get("/api/v1/me/cases", headers=full.auth("citizen2")).json()
    assert case["id"] in [c["id"] for c in theirs]


def test_the_applicant_may_confirm_a_counter_case_on_the_phone(full: World) -> None:
    person = person_of(full, "citizen1")
    opened = visit(full, "window1", id_number=id_number_of(full, "citizen1"), name=person.name)
    made = full.client.post(
        "/api/v1/cases",
        json={
            "matter": SCHOOL,
            "form": filled(full, SCHOOL, "citizen1"),
            "channel": "window",
            "visit": opened.json()["id"],
        },
        headers=full.auth("window1"),
    ).json()
    upload_missing(full, made, "window1")
    seen = full.client.get(f"/api/v1/cases/{made['id']}", headers=full.auth("citizen1")).json()
    assert "submit" in seen["allowed_actions"]
    confirmed = move(full, made["id"], "citizen1", "submit")
    assert confirmed.status_code == 200
    assert confirmed.json()["status"] == "submitted"


def test_a_window_case_needs_a_visit(full: World) -> None:
    r = full.client.post(
        "/api/v1/cases",
        json={"matter": SCHOOL, "form": {}, "channel": "window", "submit": False},
        headers=full.auth("citizen1"),
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "visit"
    stolen = full.client.post(
        "/api/v1/cases",
        json={"matter": SCHOOL, "form": {}, "visit": 1, "submit": False},
        headers=full.auth("citizen1"),
    )
    assert stolen.status_code == 404


# -- 统一出件 ------------------------------------------------------------------------------------


def test_the_result_reaches_the_applicant_as_they_chose(full: World) -> None:
    code = license_matter(full)
    case = apply(full, code).json()
    assert case["delivery"]["method"] == "electronic"  # a license matter: the e-license
    no_address = full.client.post(
        f"/api/v1/cases/{case['id']}/delivery",
        json={"method": "post"},
        headers=full.auth("citizen1"),
    )
    assert no_address.status_code == 422
    posted = full.client.post(
        f"/api/v1/cases/{case['id']}/delivery",
        json={"method": "post", "address": "上海市浦东新区世纪大道100号 张三收"},
        headers=full.auth("citizen1"),
    )
    assert posted.status_code == 200, posted.text
    assert posted.json()["delivery"]["address"].startswith("上海市浦东新区")
    reviewer = reviewer_of(full, code)
    desk = TestClient(full.client.app)
    assert portal_login(desk, reviewer).status_code == 303
    early = desk.get(f"/staff/cases/{case['id']}/license.pdf", headers=HTML)
    assert early.status_code == 409  # nothing issued yet
    for action in ("accept", "start_review", "approve"):
        assert move(full, case["id"], reviewer, action).status_code == 200
    paper = desk.get(f"/staff/cases/{case['id']}/license.pdf")
    assert paper.status_code == 200
    assert paper.content.startswith(b"%PDF")
    assert any(u["action"] == "case.result_printed" for u in usage(full, "citizen1"))
    no_waybill = move(full, case["id"], reviewer, "deliver")
    assert no_waybill.status_code == 422
    assert no_waybill.json()["errors"][0]["field"] == "detail"
    done = full.client.post(
        f"/api/v1/cases/{case['id']}/transitions",
        json={"action": "deliver", "detail": "SF1234567890"},
        headers=full.auth(reviewer),
    )
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "delivered"
    assert done.json()["delivery"]["detail"] == "SF1234567890"
    assert done.json()["delivery"]["delivered_at"]
    assert "SF1234567890" in done.json()["history"][-1]["reason"]
    after = full.client.post(
        f"/api/v1/cases/{case['id']}/delivery",
        json={"method": "pickup"},
        headers=full.auth("citizen1"),
    )
    assert after.status_code == 409


def test_a_matter_without_a_license_cannot_be_delivered_electronically(full: World) -> None:
    case = draft(full)
    assert case["delivery"]["method"] == "pickup"
    r = full.client.post(
        f"/api/v1/cases/{case['id']}/delivery",
        json={"method": "electronic"},
        headers=full.auth("citizen1"),
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["code"] == "no_license"
