"""The `tongban` command: demo, db, catalog check/load/stats/export."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import MINI_CATALOG
from tongban.cli import app

runner = CliRunner()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_demo_prepares_a_new_database_once(tmp_path: Path) -> None:
    db = str(tmp_path / "demo.db")
    code, out = run("demo", "--db", db, "--no-serve")
    assert code == 0, out
    # Two ratings, or none once the demo's cases could only be due in a year the calendar
    # does not know yet (then nothing is accepted, so nothing is finished to rate).
    assert "catalog loaded" in out and re.search(r"demo ratings given: [02]\n", out)
    code, out = run("ratings", "sweep", "--db", db)  # the demo's ticket is not yet due
    assert code == 0 and "0 tickets escalated, 0 closed without a reply" in out, out
    code, out = run("demo", "--db", db, "--no-serve")
    assert code == 0 and "using the existing data" in out
    code, out = run("catalog", "stats", "--db", db, "--json")
    assert code == 0
    assert json.loads(out)["matters"] >= 80


def test_db_upgrade_and_current(tmp_path: Path) -> None:
    db = str(tmp_path / "x.db")
    code, out = run("db", "upgrade", "--db", db)
    assert code == 0 and "database at revision" in out
    code, out = run("db", "current", "--db", db)
    assert code == 0
    current, head = out.split(",")
    assert current.split()[-1] == head.split()[-1]


def test_commands_refuse_an_unmigrated_database(tmp_path: Path) -> None:
    code, out = run("catalog", "stats", "--db", str(tmp_path / "new.db"))
    assert code == 1 and "tongban db upgrade" in out


def test_check_load_stats_export_round_trip(tmp_path: Path) -> None:
    db = str(tmp_path / "c.db")
    assert run("db", "upgrade", "--db", db)[0] == 0
    code, out = run("catalog", "check", str(MINI_CATALOG))
    assert code == 0 and "ok: 4 matters" in out
    code, out = run("catalog", "load", str(MINI_CATALOG), "--db", db)
    assert code == 0 and "matters new 4" in out
    code, out = run("catalog", "stats", "--db", db)
    assert code == 0 and "部门核发材料免提交率" in out
    code, out = run("catalog", "export", str(tmp_path / "out"), "--db", db)
    assert code == 0 and "matters 4" in out
    assert run("catalog", "check", str(tmp_path / "out"))[0] == 0


def test_a_bad_catalog_is_reported_and_nothing_is_loaded(tmp_path: Path) -> None:
    db = str(tmp_path / "c.db")
    assert run("db", "upgrade", "--db", db)[0] == 0
    bad = tmp_path / "bad"
    shutil.copytree(MINI_CATALOG, bad)
    path = bad / "matters" / "sh-gaj.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("trips: 1\n", "trips: many\n", 1), encoding="utf-8"
    )
    code, out = run("catalog", "load", str(bad), "--db", db)
    assert code == 1
    assert "matters/sh-gaj.yaml:" in out and "trips" in out and "nothing loaded" in out
    code, out = run("catalog", "stats", "--db", db, "--json")
    assert json.loads(out)["matters"] == 0


def test_demo_reads_the_database_url_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tongban.settings import get_settings

    target = tmp_path / "from-env.db"
    monkeypatch.setenv("TONGBAN_DATABASE_URL", f"sqlite:///{target}")
    get_settings.cache_clear()
    try:
        code, out = run("demo", "--no-serve")
    finally:
        get_settings.cache_clear()
    assert code == 0, out
    assert target.exists()


def test_export_refuses_a_folder_with_catalog_files(tmp_path: Path) -> None:
    db = str(tmp_path / "c.db")
    assert run("db", "upgrade", "--db", db)[0] == 0
    assert run("catalog", "load", str(MINI_CATALOG), "--db", db)[0] == 0
    out_dir = tmp_path / "out"
    assert run("catalog", "export", str(out_dir), "--db", db)[0] == 0
    code, out = run("catalog", "export", str(out_dir), "--db", db)
    assert code == 1 and "already holds catalog files" in out


def test_demo_makes_its_own_key_and_keys_rotate(tmp_path: Path) -> None:
    db = str(tmp_path / "k.db")
    code, out = run("demo", "--db", db, "--no-serve")
    assert code == 0, out
    assert (tmp_path / "k.db.kek").exists() and "generated a demo key-encryption key" in out
    code, out = run("keys", "init", "--db", db)
    assert code == 0 and "data and signing keys ready" in out
    code, out = run("keys", "rotate", "--db", db)
    assert code == 0 and "active" in out, out
    # The signing keys' private halves were re-encrypted too: the region can still sign.
    code, out = run("code", "trust-list", "--db", db)
    assert code == 0 and '"format": "tongban-trust-list/1"' in out, out
    code, out = run("audit", "verify", "--db", db)
    assert code == 0 and "audit chain intact" in out
    code, out = run("calendar", "seed", "--db", db)  # the demo seeded it already
    assert code == 0 and "nothing new" in out and "calendar knows 2004" in out, out


def test_audit_verify_says_where_the_chain_breaks(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "a.db"
    assert run("demo", "--db", str(db), "--no-serve")[0] == 0
    assert run("keys", "rotate", "--db", str(db))[0] == 0
    assert run("keys", "rotate", "--db", str(db))[0] == 0
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE audit_entries SET actor = 'someone' WHERE seq = 1")
    code, out = run("audit", "verify", "--db", str(db))
    assert code == 1
    assert "entry 1 was changed" in out and "audit chain broken" in out


def test_keys_need_a_kek(tmp_path: Path) -> None:
    db = str(tmp_path / "nokey.db")
    assert run("db", "upgrade", "--db", db)[0] == 0
    code, out = run("keys", "init", "--db", db)
    assert code == 1 and "TONGBAN_KEK" in out


def test_enroll_otp_prints_a_secret_an_authenticator_accepts(tmp_path: Path) -> None:
    import base64
    import re

    from tongban.identity.service import otp_now

    db = str(tmp_path / "otp.db")
    assert run("demo", "--db", db, "--no-serve")[0] == 0
    code, out = run("accounts", "enroll-otp", "window1", "--db", db)
    assert code == 0 and "otpauth://totp/" in out
    secret = re.search(r"secret ([A-Z2-7]+)", out)
    assert secret
    raw = base64.b32decode(secret.group(1) + "=" * (-len(secret.group(1)) % 8))
    # The printed secret is the stored one: a staff login with its code goes through.
    from fastapi.testclient import TestClient

    from tongban.app import create_app
    from tongban.settings import Settings, sqlite_url

    with TestClient(create_app(Settings(database_url=sqlite_url(db)))) as client:
        body = {"username": "window1", "password": "Demo@2026", "otp": otp_now(raw)}
        assert client.post("/api/v1/auth/token", json=body).status_code == 200
    code, out = run("accounts", "enroll-otp", "nobody", "--db", db)
    assert code == 1 and "no account" in out


def test_keys_rewrap_moves_the_node_to_a_new_kek(tmp_path: Path) -> None:
    """`tongban keys rewrap`: audited, idempotent, a bad new KEK changes nothing, and afterwards
    only the new KEK opens the node (doctor says so with the old one)."""
    import base64
    import os

    db = str(tmp_path / "r.db")
    assert run("demo", "--db", db, "--no-serve")[0] == 0
    bad = tmp_path / "bad.kek"
    bad.write_text("not a key\n")
    code, out = run("keys", "rewrap", "--db", db, "--new-kek-file", str(bad))
    assert code == 1 and "nothing changed" in out, out
    code, out = run("keys", "rewrap", "--db", db, "--new-kek-file", str(tmp_path / "none.kek"))
    assert code == 1 and "nothing changed" in out, out
    new = tmp_path / "new.kek"
    new.write_text(base64.b64encode(os.urandom(32)).decode() + "\n")
    code, out = run("keys", "rewrap", "--db", db, "--new-kek-file", str(new))
    assert code == 0 and "2 data keys wrapped under" in out, out
    code, out = run("keys", "rewrap", "--db", db, "--new-kek-file", str(new))
    assert code == 0 and "already under" in out, out
    # The old KEK (the demo's, beside the database) opens nothing now ...
    code, out = run("doctor", "--db", db)
    assert code == 1 and "was wrapped by key-encryption key" in out, out
    code, out = run("keys", "rotate", "--db", db)
    assert code == 1, out
    # ... the new one everything: the signing keys, the audit chain with the rewrap in it.
    for args in (["doctor"], ["keys", "rotate"], ["audit", "verify"]):
        code, out = run_with_kek_file(new, *args, "--db", db)
        assert code == 0, out
    import sqlite3

    with sqlite3.connect(db) as conn:
        actions = [r[0] for r in conn.execute("SELECT action FROM audit_entries")]
    assert actions.count("keys.rewrap") == 1


def run_with_kek_file(kek: Path, *args: str) -> tuple[int, str]:
    from tongban.settings import get_settings

    get_settings.cache_clear()  # the settings are read once per process
    try:
        result = runner.invoke(app, list(args), env={"TONGBAN_KEK_FILE": str(kek)})
    finally:
        get_settings.cache_clear()
    return result.exit_code, result.output
