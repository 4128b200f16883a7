"""The code over HTTP: issuing, scanning in every scene, each refusal, replay and history."""

from __future__ import annotations

import io
import json
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.idcode.conftest import SCENES, World
from tongban.cli import app as cli
from tongban.common.ratelimit import RateLimiter
from tongban.crypto import sm2
from tongban.crypto.sm2 import public_key_from_pem
from tongban.crypto.trustlist import root_fingerprint_of
from tongban.idcode.models import CodeIssue, CodeScan, CodeUse
from tongban.idcode.service import Codes
from tongban.idcode.token import Channel, Claims, SubjectType, signed_part, to_text
from tongban.identity.models import Account, Person


def codes_of(world: World) -> Codes:
    codes: Codes = world.client.app.state.codes  # type: ignore[attr-defined]
    return codes


def signed_by_active_key(world: World, **changes: Any) -> str:
    """A code signed with the region's real key but with claims of the test's choosing."""
    with world.session() as session:
        kid, signer = codes_of(world).keys.signer(session)
    claims = Claims(
        **{
            "subject_type": SubjectType.PERSON,
            "region_code": "310000",
            "ref": secrets.token_hex(12),
            "issued_at": int(time.time()),
            "validity": 60,
            "paper": False,
            "kid": kid,
            "channel": Channel.APP,
            **changes,
        }
    )
    signed = signed_part(claims)
    return to_text(signed, signer.sign(signed))


def record_issue(world: World, token: str, person_user: str = "citizen1") -> None:
    """Remember a crafted code as if the platform had issued it to the user's person."""
    from tongban.idcode.token import parse

    claims = parse(token).claims
    with world.session() as session:
        account = session.scalars(select(Account).where(Account.username == person_user)).one()
        session.add(
            CodeIssue(
                ref=claims.ref,
                subject_type="person",
                person_id=account.person_id,
                kind="dynamic",
                channel="app",
                kid=claims.kid,
                issued_at=datetime.fromtimestamp(claims.issued_at, UTC),
                expires_at=datetime.fromtimestamp(claims.expires_at, UTC),
            )
        )
        session.commit()


def person_of(world: World, user: str) -> Person:
    with world.session() as session:
        account = session.scalars(select(Account).where(Account.username == user)).one()
        person = session.get(Person, account.person_id)
        assert person is not None
        session.expunge(person)
        return person


def id_number_of(world: World, user: str) -> str:
    person = person_of(world, user)
    with world.session() as session:
        return codes_of(world).keyring.decrypt(session, "person.id_number", person.id_number_enc)


# -- issuing -----------------------------------------------------------------------------------


def test_a_person_gets_a_short_lived_code_whose_qr_is_the_token(world: World) -> None:
    code = world.code()
    issued = datetime.fromisoformat(code["issued_at"])
    expires = datetime.fromisoformat(code["expires_at"])
    assert (expires - issued).total_seconds() == 60
    assert code["subject_type"] == "person"
    assert code["token"].startswith("TB")
    png = world.client.post("/api/v1/me/code/png", headers=world.auth("citizen1"))
    assert png.status_code == 200
    assert png.headers["content-type"] == "image/png"
    read = zxingcpp.read_barcodes(
        Image.open(io.BytesIO(png.content)), formats=zxingcpp.BarcodeFormat.QRCode
    )
    assert [r.text for r in read] == [png.headers["x-code-token"]]


def test_the_code_carries_no_personal_data(world: World) -> None:
    token = world.code()["token"]
    person = person_of(world, "citizen1")
    raw = token.encode()
    assert person.name.encode() not in raw
    assert id_number_of(world, "citizen1").encode() not in raw
    assert id_number_of(world, "citizen1")[-6:].encode() not in raw


def test_an_agent_gets_the_enterprise_code_and_others_do_not(world: World) -> None:
    code = world.code("enterprise1", subject="enterprise")
    assert code["subject_type"] == "enterprise"
    refused = world.client.post(
        "/api/v1/me/code", json={"subject": "enterprise"}, headers=world.auth("citizen1")
    )
    assert refused.status_code == 403
    assert refused.json()["code"] == "not_enterprise_agent"
    staff = world.client.post("/api/v1/me/code", headers=world.auth("reviewer1"))
    assert staff.status_code == 403
    assert staff.json()["code"] == "no_person"


def test_bad_requests_get_problem_json_and_issue_nothing(world: World) -> None:
    with world.session() as session:
        before = session.scalar(select(func.count(CodeIssue.id)))
    for body in ({"subject": "robot"}, {"channel": "fax"}, {"uscc": "x"}):
        r = world.client.post("/api/v1/me/code", json=body, headers=world.auth("citizen1"))
        assert r.status_code == 422, body
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["errors"]
    assert world.client.post("/api/v1/me/code").status_code == 401
    with world.session() as session:
        assert session.scalar(select(func.count(CodeIssue.id))) == before


# -- what each scene sees ----------------------------------------------------------------------


def _holder_of(subject: str) -> tuple[str, dict[str, Any]]:
    return (
        ("enterprise1", {"subject": "enterprise"}) if subject == "enterprise" else ("citizen1", {})
    )


@pytest.mark.parametrize(
    ("scene", "subject"),
    [(k, s) for k, scene in SCENES.items() for s in sorted(scene.subjects)],
)
def test_a_scene_sees_exactly_its_attributes(world: World, scene: str, subject: str) -> None:
    user, body = _holder_of(subject)
    token = world.code(user, **body)["token"]
    r = world.scan(scene, token)
    assert r.status_code == 200, r.text
    result = r.json()
    allowed = set(SCENES[scene].releases(subject))
    assert set(result["attributes"]) == allowed
    assert result["valid"] is True
    assert result["subject_type"] == subject
    if subject == "person":
        text = r.text
        id_number = id_number_of(world, user)
        person = person_of(world, user)
        assert (id_number in text) == ("id_number" in allowed)
        assert (f'"{person.name}"' in text) == ("name" in allowed)
        assert "birth" not in text
        assert "phone" not in text


def test_hospital_attributes_have_the_right_values(world: World) -> None:
    r = world.scan("hospital", world.code()["token"], user="hospital1")
    attributes = r.json()["attributes"]
    person = person_of(world, "citizen1")
    assert attributes["name"] == person.name
    assert attributes["masked_id_number"].endswith(id_number_of(world, "citizen1")[-4:])
    assert "*" in attributes["masked_id_number"]
    assert attributes["medical_voucher"].startswith("E")


def test_a_scanner_only_scans_in_its_own_scene(world: World) -> None:
    token = world.code()["token"]
    r = world.scan("hotel", token, user="metro1")
    assert r.status_code == 403
    assert r.json()["code"] == "scene_not_allowed"
    assert world.scan("metro", token, user="citizen1").status_code == 403
    assert world.scan("nowhere", token, user="metro1").status_code == 404
    anonymous = world.client.post("/api/v1/scenes/metro/scan", json={"token": token})
    assert anonymous.status_code == 401


# -- refusals ----------------------------------------------------------------------------------


def _refused(world: World, scene: str, token: str, **body: Any) -> str:
    r = world.scan(scene, token, **body)
    assert r.status_code in (400, 409, 422), r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["title"]
    assert problem["title_en"]
    return str(problem["code"])


def test_each_bad_code_is_refused_with_its_own_code_and_logged(world: World) -> None:
    genuine = world.code()["token"]
    stranger = sm2.Sm2Signer(sm2.KeyPair.generate())
    claims = Claims(
        subject_type=SubjectType.PERSON,
        region_code="310000",
        ref=secrets.token_hex(12),
        issued_at=int(time.time()),
        validity=60,
        paper=False,
        kid=sm2.key_id(stranger.public_key),
    )
    forged = to_text(signed_part(claims), stranger.sign(signed_part(claims)))
    altered = genuine[:12] + ("A" if genuine[12] != "A" else "B") + genuine[13:]
    expired = signed_by_active_key(world, issued_at=int(time.time()) - 120)
    record_issue(world, expired)
    cases = {
        "code_malformed": "hello",
        "code_forged": forged,
        "code_altered": altered,
        "code_wrong_region": signed_by_active_key(world, region_code="320000"),
        "code_expired": expired,
        "code_not_yet_valid": signed_by_active_key(world, issued_at=int(time.time()) + 300),
        "code_unknown": signed_by_active_key(world),
    }
    with world.session() as session:
        before = session.scalar(select(func.count(CodeScan.id)))
    for expected, token in cases.items():
        assert _refused(world, "hospital", token) == expected
    with world.session() as session:
        rows = session.scalars(
            select(CodeScan).order_by(CodeScan.id.desc()).limit(len(cases))
        ).all()
        assert session.scalar(select(func.count(CodeScan.id))) == before + len(cases)
    assert sorted(r.outcome for r in rows) == sorted(cases)
    assert all(r.attributes == [] for r in rows)


def test_an_enterprise_code_is_refused_where_only_people_are_served(world: World) -> None:
    token = world.code("enterprise1", subject="enterprise")["token"]
    assert _refused(world, "hospital", token) == "code_wrong_subject"
    person_token = world.code()["token"]
    assert _refused(world, "credit", person_token) == "code_wrong_subject"


def test_once_only_scenes_refuse_a_replay_and_others_do_not(world: World) -> None:
    token = world.code()["token"]
    assert world.scan("metro", token).status_code == 200
    assert _refused(world, "metro", token) == "code_replayed"
    assert world.scan("hospital", token).status_code == 200
    assert world.scan("hospital", token).status_code == 200  # many uses within its life


def test_a_retried_scan_gets_the_first_answer_and_spends_one_use(world: World) -> None:
    token = world.code()["token"]
    key = {"idempotency-key": secrets.token_hex(8)}
    first = world.scan("metro", token, headers=key)
    again = world.scan("metro", token, headers=key)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    ref = first.json() and token  # the code text is the only handle a test has
    from tongban.idcode.token import parse

    with world.session() as session:
        uses = session.scalar(
            select(func.count()).select_from(CodeUse).where(CodeUse.ref == parse(ref).claims.ref)
        )
        scans = session.scalar(
            select(func.count(CodeScan.id)).where(CodeScan.ref == parse(ref).claims.ref)
        )
    assert uses == 1
    assert scans == 1
    assert _refused(world, "metro", token) == "code_replayed"  # without the key: a replay


# -- paper codes -------------------------------------------------------------------------------


def test_paper_code_needs_the_id_card_and_can_be_revoked(world: World) -> None:
    r = world.client.post("/api/v1/me/paper-code", headers=world.auth("citizen2"))
    assert r.status_code == 200, r.text
    paper = r.json()
    days = datetime.fromisoformat(paper["expires_at"]) - datetime.fromisoformat(paper["issued_at"])
    assert days.days == 365
    token = paper["token"]
    right = id_number_of(world, "citizen2")
    wrong = id_number_of(world, "citizen1")
    assert _refused(world, "metro", token) == "code_paper_not_accepted"
    assert _refused(world, "hospital", token) == "code_id_check_required"
    assert _refused(world, "hospital", token, id_number=wrong) == "code_id_mismatch"
    ok = world.scan("hospital", token, id_number=right.lower())
    assert ok.status_code == 200
    assert ok.json()["paper"] is True
    pdf = world.client.get("/api/v1/me/paper-code.pdf", headers=world.auth("citizen2"))
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    revoked = world.client.delete("/api/v1/me/paper-code", headers=world.auth("citizen2"))
    assert revoked.json() == {"revoked": 1}
    assert _refused(world, "hospital", token, id_number=right) == "code_revoked"
    gone = world.client.get("/api/v1/me/paper-code.pdf", headers=world.auth("citizen2"))
    assert gone.status_code == 404


def test_a_new_paper_code_revokes_the_old_one(world: World) -> None:
    first = world.client.post("/api/v1/me/paper-code", headers=world.auth("citizen1")).json()
    second = world.client.post("/api/v1/me/paper-code", headers=world.auth("citizen1")).json()
    right = id_number_of(world, "citizen1")
    assert _refused(world, "hotel", first["token"], id_number=right) == "code_revoked"
    assert world.scan("hotel", second["token"], id_number=right).status_code == 200


def test_paper_codes_are_for_minors_elders_and_disabled_people(world: World) -> None:
    r = world.client.post("/api/v1/me/paper-code", headers=world.auth("enterprise1"))
    assert r.status_code == 403
    assert r.json()["code"] == "paper_code_not_eligible"


def test_a_window_prints_a_paper_code_for_someone_at_the_counter(world: World) -> None:
    id_number = id_number_of(world, "citizen2")
    r = world.client.post(
        "/api/v1/counter/paper-codes", json={"id_number": id_number}, headers=world.auth("window1")
    )
    assert r.status_code == 200, r.text
    assert r.content.startswith(b"%PDF")
    usage = world.client.get("/api/v1/me/data-usage", headers=world.auth("citizen2")).json()
    assert any(u["action"] == "code.paper_issued" for u in usage)
    citizen = world.client.post(
        "/api/v1/counter/paper-codes", json={"id_number": id_number}, headers=world.auth("citizen1")
    )
    assert citizen.status_code == 403


# -- the holder's view, the hall, photos -------------------------------------------------------


def test_the_holder_sees_who_scanned_and_what_they_saw(world: World) -> None:
    token = world.code("citizen2")["token"]
    world.scan("hotel", token, user="hotel1")
    world.scan("hotel", token, user="hotel1")  # refused: once only
    scans = world.client.get("/api/v1/me/code/scans", headers=world.auth("citizen2")).json()
    assert scans[0]["verifier"] == "外滩酒店前台"
    assert scans[0]["outcome"] == "code_replayed"
    assert scans[1]["outcome"] == "ok"
    assert scans[1]["attributes"] == ["name", "id_number", "photo_ref"]
    assert scans[1]["scene_name"] == "酒店入住登记"
    mine = world.client.get("/api/v1/me/code/scans", headers=world.auth("citizen1")).json()
    assert all(s["verifier"] != "外滩酒店前台" or s["at"] != scans[0]["at"] for s in mine)


def test_enterprise_scans_are_shown_to_its_agent(world: World) -> None:
    token = world.code("enterprise1", subject="enterprise")["token"]
    assert world.scan("credit", token, user="credit1").status_code == 200
    scans = world.client.get(
        "/api/v1/me/code/scans?subject=enterprise", headers=world.auth("enterprise1")
    ).json()
    assert scans[0]["verifier"] == "银行对公信贷部"
    assert scans[0]["attributes"] == ["name", "uscc", "registration_status", "credit_class"]


def test_hall_check_in_gives_queue_numbers_in_order(world: World) -> None:
    first = world.scan("hall", world.code("citizen1")["token"]).json()["hall"]
    second = world.scan("hall", world.code("citizen2")["token"]).json()["hall"]
    company = world.scan("hall", world.code("enterprise1", subject="enterprise")["token"])
    assert first["key"] == world.hall_key
    assert int(second["ticket"][1:]) == int(first["ticket"][1:]) + 1
    assert second["waiting_ahead"] == first["waiting_ahead"] + 1
    assert first["ticket"].startswith("A")
    assert company.json()["hall"]["ticket"].startswith("B")
    # A queue kiosk learns the scene's attributes and nothing of what the holder holds.
    assert set(company.json()["attributes"]) == {"name", "uscc"}
    assert "licenses" not in company.text


def test_a_window_checks_people_in_and_sees_their_licenses(world: World) -> None:
    r = world.scan("hall", world.code()["token"], user="window1")
    assert r.status_code == 200, r.text
    assert r.json()["hall"]["key"] != world.hall_key  # window1 works at a street centre
    # One-stop service: the window sees which licenses the person holds, not their content.
    held = {h["type_name"]: h for h in r.json()["attributes"]["licenses"]}
    assert set(held) == {"居民身份证", "居民户口簿"}
    assert held["居民身份证"]["status"] == "01"
    assert "content" not in held["居民身份证"]
    company = world.scan(
        "hall", world.code("enterprise1", subject="enterprise")["token"], user="window1"
    )
    types = {h["type_name"] for h in company.json()["attributes"]["licenses"]}
    assert {"营业执照", "食品经营许可证"} <= types
    # The holder's history says the window saw the list.
    scans = world.client.get("/api/v1/me/code/scans", headers=world.auth("citizen1")).json()
    assert (
        "licenses"
        in next(s for s in scans if s["scene"] == "hall" and s["attributes"][-1:] == ["licenses"])[
            "attributes"
        ]
    )


def test_a_scanner_fetches_the_photo_only_after_a_scan_released_it(world: World) -> None:
    ref = person_of(world, "citizen1").photo_ref
    url = f"/api/v1/scenes/hotel/photos/{ref}"
    assert world.client.get(url, headers=world.auth("hotel1")).status_code == 404
    scanned = world.scan("hotel", world.code()["token"], user="hotel1").json()
    assert scanned["attributes"]["photo_ref"] == ref
    photo = world.client.get(url, headers=world.auth("hotel1"))
    assert photo.status_code == 200
    assert photo.headers["content-type"].startswith("image/")
    hospital = world.client.get(
        f"/api/v1/scenes/hospital/photos/{ref}", headers=world.auth("hospital1")
    )
    assert hospital.status_code == 404


# -- the trust list and offline verification ---------------------------------------------------


def test_offline_verification_with_only_the_trust_list(world: World, tmp_path: Path) -> None:
    document = world.client.get("/api/v1/trust-list")
    assert document.status_code == 200
    assert "max-age" in document.headers["cache-control"]
    trust = tmp_path / "trust.json"
    trust.write_text(document.text, encoding="utf-8")
    root = public_key_from_pem(document.json()["root"]["public_key_pem"])
    pinned = f"{trust}={root_fingerprint_of(root)}"
    token = world.code()["token"]
    runner = CliRunner()
    ok = runner.invoke(cli, ["code", "verify", token, "--trust", pinned])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["valid"] is True
    expired = signed_by_active_key(world, issued_at=int(time.time()) - 600)
    bad = runner.invoke(cli, ["code", "verify", expired, "--trust", pinned])
    assert bad.exit_code == 1
    assert json.loads(bad.output)["code"] == "code_expired"
    wrong_pin = runner.invoke(cli, ["code", "verify", token, "--trust", f"{trust}={'ab' * 32}"])
    assert json.loads(wrong_pin.output)["code"] == "trust_list_invalid"
    unpinned = runner.invoke(cli, ["code", "verify", token, "--trust", str(trust)])
    assert unpinned.exit_code == 1
    assert "--insecure-unpinned" in unpinned.output
    risky = runner.invoke(
        cli, ["code", "verify", token, "--trust", str(trust), "--insecure-unpinned"]
    )
    assert risky.exit_code == 0
    twice = runner.invoke(cli, ["code", "verify", token, "--trust", pinned, "--trust", pinned])
    assert twice.exit_code == 1
    assert "two trust lists" in twice.output


def test_the_scene_registry_is_public(world: World) -> None:
    scenes = {s["key"]: s for s in world.client.get("/api/v1/scenes").json()}
    assert set(scenes) == {"hall", "metro", "hospital", "culture", "hotel", "event", "credit"}
    assert scenes["metro"]["attributes"] == {"person": []}
    assert scenes["metro"]["use"] == "once"
    assert scenes["metro"]["accepts_paper"] is False


def test_paper_codes_are_never_spent(world: World) -> None:
    paper = world.client.post("/api/v1/me/paper-code", headers=world.auth("citizen2")).json()
    right = id_number_of(world, "citizen2")
    for _ in range(2):  # a once-only scene, twice: the ID card is checked each time instead
        assert world.scan("event", paper["token"], id_number=right).status_code == 200
    world.client.delete("/api/v1/me/paper-code", headers=world.auth("citizen2"))


def test_an_account_asking_for_codes_too_fast_is_slowed_down(own_world: World) -> None:
    world = own_world
    codes_of(world).limiter = RateLimiter(3)
    statuses = [
        world.client.post("/api/v1/me/code", headers=world.auth("citizen1")).status_code
        for _ in range(5)
    ]
    assert statuses == [200, 200, 200, 429, 429]
    refused = world.client.post("/api/v1/me/code", headers=world.auth("citizen1"))
    assert refused.json()["code"] == "rate_limited"
    assert world.client.post("/api/v1/me/code", headers=world.auth("citizen2")).status_code == 200


def test_prune_forgets_old_codes_and_scans_but_not_paper_codes(own_world: World) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from tongban.db import utcnow
    from tongban.idcode.service import prune

    world = own_world
    token = world.code()["token"]
    assert world.scan("metro", token).status_code == 200
    paper = world.client.post("/api/v1/me/paper-code", headers=world.auth("citizen2")).json()
    long_ago = utcnow() - timedelta(days=400)
    with world.session() as session:
        session.execute(
            update(CodeIssue).where(CodeIssue.kind == "dynamic").values(expires_at=long_ago)
        )
        session.execute(update(CodeScan).values(at=long_ago))
        session.execute(update(CodeUse).values(at=long_ago))
        issues, scans = prune(session, issues_days=7, scans_days=180)
        session.commit()
        assert issues >= 1
        assert scans >= 1
        assert session.scalar(select(func.count(CodeScan.id))) == 0
        kinds = set(session.scalars(select(CodeIssue.kind)))
    assert kinds == {"paper"}
    right = id_number_of(world, "citizen2")
    assert world.scan("hospital", paper["token"], id_number=right).status_code == 200
