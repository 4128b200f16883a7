"""Failure paths found in review: retries with reused keys, a scan that fails after spending the
code, keys rotated by another process, guessing the ID number of a paper code, odd photos."""

from __future__ import annotations

import io

import segno
from PIL import Image
from sqlalchemy import func, select

from tests.idcode.conftest import World
from tests.idcode.test_api import id_number_of
from tests.idcode.test_pages import browser
from tests.identity.test_pages import HTML, csrf_of
from tongban.crypto.signing import SigningKeys
from tongban.idcode.models import CodeScan, CodeUse
from tongban.idcode.token import parse
from tongban.identity.models import Account
from tongban.identity.schemas import Role
from tongban.identity.service import create_account


def test_a_key_reused_for_another_code_is_refused_not_answered(world: World) -> None:
    key = {"idempotency-key": "gate-7-0001"}
    first = world.scan("hotel", world.code()["token"], headers=key)
    assert first.status_code == 200
    other = world.scan("hotel", "TBGARBAGE", headers=key)
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert "name" not in other.json()
    with world.session() as session:
        stored = session.scalars(
            select(CodeScan.response_enc).where(CodeScan.idempotency_key == "gate-7-0001")
        ).one()
    assert stored is not None
    assert stored.startswith("tb1.")  # the kept answer holds an ID number: encrypted


def test_an_empty_key_is_no_key(world: World) -> None:
    for _ in range(2):
        r = world.scan("hospital", world.code()["token"], headers={"idempotency-key": " "})
        assert r.status_code == 200, r.text


def test_a_scan_that_fails_after_spending_leaves_the_code_unspent(world: World) -> None:
    with world.session() as session:
        shared = session.scalars(select(Account.password_hash)).first()
        if session.scalar(select(Account.id).where(Account.username == "kiosk_nowhere")) is None:
            create_account(
                session,
                "kiosk_nowhere",
                None,
                [(Role.VERIFIER, "hall@no-such-hall")],
                password_hash=shared,
                display_name="错误绑定的取号机",
            )
            session.commit()
    token = world.code()["token"]
    broken = world.scan("hall", token, user="kiosk_nowhere")
    assert broken.status_code == 409
    assert broken.json()["code"] == "hall_not_found"
    with world.session() as session:
        ref = parse(token).claims.ref
        assert (
            session.scalar(select(func.count()).select_from(CodeUse).where(CodeUse.ref == ref)) == 0
        )
    assert world.scan("hall", token).status_code == 200  # still good for a real check-in


def test_codes_keep_verifying_when_another_process_rotates_the_key(world: World) -> None:
    world.code()  # this process now caches the active signer
    other_process = SigningKeys(world.settings, world.client.app.state.keyring)  # type: ignore[attr-defined]
    with world.session() as session:
        other_process.rotate(session, "code", other_process.region_owner)
        session.commit()
    token = world.code()["token"]
    r = world.scan("hospital", token)
    assert r.status_code == 200, r.text


def test_guessing_a_paper_codes_id_number_locks_it(world: World) -> None:
    paper = world.client.post("/api/v1/me/paper-code", headers=world.auth("citizen2")).json()
    right = id_number_of(world, "citizen2")
    wrong = id_number_of(world, "citizen1")
    for _ in range(5):
        assert (
            world.scan("hospital", paper["token"], id_number=wrong).json()["code"]
            == "code_id_mismatch"
        )
    locked = world.scan("hospital", paper["token"], id_number=right)
    assert locked.status_code == 423
    assert locked.json()["code"] == "code_locked"
    world.client.delete("/api/v1/me/paper-code", headers=world.auth("citizen2"))


def _upload(world: World, image: bytes, kind: str = "image/png") -> tuple[int, str]:
    client = browser(world, "metro1")
    csrf = csrf_of(client.get("/scan", headers=HTML).text)
    r = client.post(
        "/scan",
        data={"csrf_token": csrf, "scene": "metro"},
        files={"photo_file": ("x", image, kind)},
    )
    return r.status_code, r.text


def test_odd_photos_get_a_clear_answer_not_a_crash(world: World) -> None:
    long_text = segno.make_qr("X" * 900, error="l")
    buffer = io.BytesIO()
    long_text.save(buffer, kind="png", scale=4)
    status, text = _upload(world, buffer.getvalue())
    assert status == 422
    assert "不是随申码" in text
    lab = Image.new("LAB", (64, 64))
    tiff = io.BytesIO()
    lab.save(tiff, "TIFF")
    status, _ = _upload(world, tiff.getvalue(), "image/tiff")
    assert status == 422
