"""Signing keys: rotation keeps earlier codes verifying while they live; revocation stops them."""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update
from typer.testing import CliRunner

from tests.idcode.conftest import World
from tongban.cli import app as cli
from tongban.crypto.models import SigningKey
from tongban.crypto.trustlist import load_document
from tongban.db import utcnow
from tongban.idcode.models import CodeIssue
from tongban.idcode.service import Codes
from tongban.idcode.token import parse
from tongban.idcode.trust import verify_token


def codes_of(world: World) -> Codes:
    codes: Codes = world.client.app.state.codes  # type: ignore[attr-defined]
    return codes


def kids(document: dict[str, object]) -> dict[str, str]:
    keys = document["keys"]
    return {k["key_id"]: k["status"] for k in keys if k["use"] == "code"}  # type: ignore[attr-defined]


def test_rotation_keeps_old_codes_until_their_key_leaves_the_list(own_world: World) -> None:
    world = own_world
    keys = codes_of(world).keys
    old = world.code()["token"]
    old_kid = parse(old).claims.kid
    with world.session() as session:
        new_kid = keys.rotate(session).kid
        session.commit()
    new = world.code()["token"]
    assert parse(new).claims.kid == new_kid != old_kid
    assert world.scan("hospital", old).status_code == 200
    assert world.scan("hospital", new).status_code == 200
    document = world.client.get("/api/v1/trust-list").json()
    assert kids(document) == {old_kid: "retired", new_kid: "active"}

    # Later: every code of the old key has expired and the grace period has passed.
    with world.session() as session:
        past = utcnow() - timedelta(hours=1)
        session.execute(update(CodeIssue).where(CodeIssue.kid == old_kid).values(expires_at=past))
        session.execute(update(SigningKey).where(SigningKey.kid == old_kid).values(retired_at=past))
        session.commit()
    keys.forget()
    later = world.client.get("/api/v1/trust-list").json()
    assert kids(later) == {new_kid: "active"}
    trust = load_document(later, now=int(time.time()))
    verify_token(new, {trust.region_code: trust}, now=int(time.time()))
    assert world.scan("hospital", old).json()["code"] == "code_forged"


def test_a_live_paper_code_keeps_its_retired_key_published(own_world: World) -> None:
    world = own_world
    paper = world.client.post("/api/v1/me/paper-code", headers=world.auth("citizen2")).json()
    kid = parse(paper["token"]).claims.kid
    with world.session() as session:
        codes_of(world).keys.rotate(session)
        session.execute(
            update(SigningKey)
            .where(SigningKey.kid == kid)
            .values(retired_at=utcnow() - timedelta(days=30))
        )
        session.commit()
    codes_of(world).keys.forget()
    assert kids(world.client.get("/api/v1/trust-list").json())[kid] == "retired"


def test_revoking_a_key_stops_its_codes_and_a_new_key_takes_over(own_world: World) -> None:
    world = own_world
    before = world.code()["token"]
    kid = parse(before).claims.kid
    with world.session() as session:
        codes_of(world).keys.revoke(session, kid)
        session.commit()
    assert world.scan("hospital", before).json()["code"] == "code_key_revoked"
    after = world.code()["token"]
    assert parse(after).claims.kid != kid
    assert world.scan("hospital", after).status_code == 200
    assert kids(world.client.get("/api/v1/trust-list").json())[kid] == "revoked"


def test_key_commands(own_world: World, tmp_path: Path, monkeypatch: object) -> None:
    world = own_world
    import pytest

    mp: pytest.MonkeyPatch = monkeypatch  # type: ignore[assignment]
    mp.setenv("TONGBAN_DATABASE_URL", world.settings.database_url)
    assert world.settings.kek is not None
    mp.setenv("TONGBAN_KEK", world.settings.kek.get_secret_value())
    from tongban.settings import get_settings

    get_settings.cache_clear()
    try:
        runner = CliRunner()
        listed = runner.invoke(cli, ["keys", "signing-list"])
        assert listed.exit_code == 0, listed.output
        assert re.search(r"code +region:310000 +active", listed.output)
        assert re.search(r"root +region:310000 +active", listed.output)
        rotated = runner.invoke(cli, ["keys", "signing-rotate"])
        assert rotated.exit_code == 0, rotated.output
        new_kid = rotated.output.split()[2]
        out = tmp_path / "trust.json"
        exported = runner.invoke(cli, ["code", "trust-list", "--out", str(out)])
        assert exported.exit_code == 0, exported.output
        assert "fingerprint" in exported.output
        assert kids(json.loads(out.read_text(encoding="utf-8")))[new_kid] == "active"
        missing = runner.invoke(cli, ["keys", "signing-revoke", "ffffffff"])
        assert missing.exit_code == 1
        revoked = runner.invoke(cli, ["keys", "signing-revoke", new_kid])
        assert revoked.exit_code == 0, revoked.output
        with world.session() as session:
            status = session.scalars(select(SigningKey.status).where(SigningKey.kid == new_kid))
            assert status.one() == "revoked"
    finally:
        get_settings.cache_clear()
