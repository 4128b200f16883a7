"""`tongban doctor`: a deployment's configuration, check by check, on a database made by
`tongban demo` (SQLite, and PostgreSQL when TONGBAN_TEST_DATABASE_URL is set)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, delete, select
from typer.testing import CliRunner

from tests.conftest import fresh_database
from tongban import doctor
from tongban.cli import app
from tongban.db import make_engine, make_sessionmaker, transaction
from tongban.settings import Settings, get_settings

runner = CliRunner()
JS = "320000"


def _new_kek() -> str:
    return base64.b64encode(os.urandom(32)).decode()


# Every setting the checks read, from the test alone (None: unset, so the default).
CLEAN: dict[str, str | None] = dict.fromkeys(
    (
        "TONGBAN_DATABASE_URL",
        "TONGBAN_FILES_DIR",
        "TONGBAN_KEK",
        "TONGBAN_KEK_FILE",
        "TONGBAN_REGION_CODE",
        "TONGBAN_REQUIRE_STAFF_OTP",
        "TONGBAN_COOKIE_SECURE",
    )
)


def invoke(args: list[str], env: dict[str, str | None]) -> tuple[int, str]:
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, args, env={**CLEAN, **env})
    finally:
        get_settings.cache_clear()
    return result.exit_code, result.output


def statuses(out: str) -> dict[str, str]:
    """Each check's status by name, from the lines doctor printed."""
    found = {}
    for text in out.splitlines():
        status, _, rest = text.partition(" ")
        if status in ("ok", "warn", "error"):
            name = rest.strip()[:15].strip()
            found[name] = status
    return found


def line_of(out: str, name: str) -> str:
    return next(t for t in out.splitlines() if t[6:].startswith(name + " "))


@dataclass
class Demo:
    url: str
    files: Path
    kek: str | None  # PostgreSQL's, in the environment; SQLite's is the demo file beside it

    def env(self, **extra: str | None) -> dict[str, str | None]:
        return {
            "TONGBAN_DATABASE_URL": self.url,
            "TONGBAN_FILES_DIR": str(self.files),
            "TONGBAN_KEK": self.kek,
            **extra,
        }

    def settings(self) -> Settings:
        return Settings(
            database_url=self.url,
            files_dir=self.files,
            kek=SecretStr(self.kek) if self.kek else None,
        )


@pytest.fixture(scope="module")
def demo(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    folder = tmp_path_factory.mktemp("doctor")
    with fresh_database(backend, folder) as url:
        made = Demo(url, folder / "files", None if backend == "sqlite" else _new_kek())
        code, out = invoke(["demo", "--no-serve"], made.env())
        assert code == 0, out
        yield made


@pytest.fixture
def demo_engine(demo: Demo) -> Iterator[Engine]:
    engine = make_engine(demo.url)
    try:
        yield engine
    finally:
        engine.dispose()


def test_a_demo_database_has_warnings_only(demo: Demo) -> None:
    code, out = invoke(["doctor"], demo.env())
    assert code == 0, out
    found = statuses(out)
    for name in ("database", "migrations", "region", "kek", "signing-keys", "uploads"):
        assert found[name] == "ok", out
    assert found["staff-otp"] == "ok" and found["peers"] == "ok", out
    assert found["cookies"] == "warn", out  # TONGBAN_COOKIE_SECURE is off by default
    assert found["calendar"] in ("ok", "warn"), out  # next year: known once published
    assert "error" not in found.values()
    database = line_of(out, "database")
    assert "SQLite" in database or "PostgreSQL" in database
    assert "310000" in line_of(out, "region")
    last = out.strip().splitlines()[-1]
    assert last.startswith(f"{len(found)} checks: ") and last.endswith(", 0 errors"), last


def test_json_is_a_list_of_the_same_checks(demo: Demo) -> None:
    code, out = invoke(["doctor", "--json"], demo.env())
    assert code == 0, out
    checks = json.loads(out)
    assert isinstance(checks, list)
    assert all(set(c) == {"status", "name", "message"} for c in checks)
    assert {c["name"] for c in checks} >= {"database", "migrations", "kek", "uploads", "peers"}
    assert {c["status"] for c in checks} <= {"ok", "warn"}


def test_a_wrong_kek_is_an_error(demo: Demo) -> None:
    code, out = invoke(["doctor"], demo.env(TONGBAN_KEK=_new_kek()))
    assert code == 1, out
    kek = line_of(out, "kek")
    assert kek.startswith("error") and "was wrapped by key-encryption key" in kek, out
    assert "signing keys and peers were not checked" in kek
    assert "signing-keys" not in statuses(out)
    code, out = invoke(["doctor", "--json"], demo.env(TONGBAN_KEK="not base64!"))
    assert code == 1
    assert {"status": "error", "name": "kek"}.items() <= next(
        c for c in json.loads(out) if c["name"] == "kek"
    ).items()


def test_a_kek_file_that_is_not_there_is_an_error(demo: Demo, tmp_path: Path) -> None:
    missing = tmp_path / "kek"
    code, out = invoke(["doctor"], demo.env(TONGBAN_KEK=None, TONGBAN_KEK_FILE=str(missing)))
    assert code == 1 and line_of(out, "kek").startswith("error"), out
    assert f"{missing} does not exist" in out


def test_the_database_of_another_region_is_an_error(demo: Demo) -> None:
    code, out = invoke(["doctor"], demo.env(TONGBAN_REGION_CODE=JS))
    assert code == 1, out
    region = line_of(out, "region")
    assert region.startswith("error") and "belongs to region 310000" in region
    assert "signing-keys" not in statuses(out)


def _older_revision() -> str:
    from alembic.script import ScriptDirectory

    from tongban.migrate import alembic_config, head_revision

    newest = head_revision()
    assert newest is not None
    head = ScriptDirectory.from_config(alembic_config()).get_revision(newest)
    assert isinstance(head.down_revision, str)
    return head.down_revision


def test_a_schema_behind_is_an_error(backend: str, tmp_path: Path) -> None:
    from tongban.migrate import head_revision, upgrade

    older = _older_revision()
    with fresh_database(backend, tmp_path) as url:
        engine = make_engine(url)
        upgrade(engine, older)
        engine.dispose()
        code, out = invoke(["doctor"], {"TONGBAN_DATABASE_URL": url})
    assert code == 1, out
    migrations = line_of(out, "migrations")
    assert migrations.startswith("error")
    assert f"schema at revision {older}, this release needs {head_revision()}" in migrations
    assert "tongban db upgrade" in migrations
    found = statuses(out)
    assert found["database"] in ("ok", "warn")  # SQLite outside a demo is a warning
    assert not {"kek", "signing-keys", "calendar", "peers"} & set(found), out


def test_an_empty_database_has_no_schema(backend: str, tmp_path: Path) -> None:
    with fresh_database(backend, tmp_path) as url:
        if backend == "sqlite":
            Path(url.removeprefix("sqlite:///")).touch()  # an empty file
        code, out = invoke(["doctor"], {"TONGBAN_DATABASE_URL": url})
    assert code == 1, out
    assert "the database has no schema" in line_of(out, "migrations"), out


def test_no_database_file_is_an_error_and_none_is_made(tmp_path: Path) -> None:
    target = tmp_path / "nothing.db"
    code, out = invoke(["doctor", "--db", str(target)], {})
    assert code == 1, out
    assert line_of(out, "database").startswith("error") and "no database file" in out
    assert not target.exists()


def test_db_option_names_a_sqlite_file(backend: str, demo: Demo) -> None:
    if backend != "sqlite":
        pytest.skip("--db names an SQLite file")
    code, out = invoke(
        ["doctor", "--db", demo.url.removeprefix("sqlite:///")],
        {"TONGBAN_FILES_DIR": str(demo.files)},
    )
    assert code == 0 and "(a demo database)" in line_of(out, "database"), out


# -- the uploads folder ------------------------------------------------------------------------


def test_a_missing_uploads_folder_is_reported(demo: Demo, tmp_path: Path) -> None:
    missing = tmp_path / "not-mounted"
    code, out = invoke(["doctor"], demo.env(TONGBAN_FILES_DIR=str(missing)))
    # A demo makes it on its first upload: a warning there, an error anywhere else.
    assert code == 0, out
    assert line_of(out, "uploads") == f"warn  uploads         {missing} does not exist " + (
        "(TONGBAN_FILES_DIR: is the volume mounted?)"
    )
    assert not missing.exists()
    check = doctor.check_uploads(Settings(files_dir=missing), demo=False)
    assert check.status == "error" and "does not exist" in check.message


def test_an_uploads_folder_that_is_a_file_is_an_error(demo: Demo, tmp_path: Path) -> None:
    file = tmp_path / "a-file"
    file.write_text("not a folder")
    code, out = invoke(["doctor"], demo.env(TONGBAN_FILES_DIR=str(file)))
    assert code == 1, out
    assert line_of(out, "uploads") == f"error uploads         {file} is not a folder"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into any folder")
def test_an_unwritable_uploads_folder_is_an_error(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        check = doctor.check_uploads(Settings(files_dir=folder))
    finally:
        folder.chmod(0o700)
    assert check.status == "error" and "is not writable" in check.message


def test_an_uploads_folder_refusing_the_probe_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("tempfile.mkstemp", refuse)
    check = doctor.check_uploads(Settings(files_dir=tmp_path))
    assert check == ("error", "uploads", f"{tmp_path} is not writable: Permission denied")


def test_the_probe_file_is_removed(tmp_path: Path) -> None:
    assert doctor.check_uploads(Settings(files_dir=tmp_path)).status == "ok"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("free", "status"),
    [(2 * doctor.GIB, "ok"), (500 * doctor.MIB, "warn"), (50 * doctor.MIB, "error")],
)
def test_free_space_thresholds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, free: int, status: str
) -> None:
    real = shutil.disk_usage

    def usage(path: Any) -> Any:
        return real(path)._replace(free=free)

    monkeypatch.setattr("shutil.disk_usage", usage)
    check = doctor.check_uploads(Settings(files_dir=tmp_path))
    assert check.status == status, check


# -- settings ----------------------------------------------------------------------------------


def test_staff_otp_off_is_a_warning_outside_a_demo() -> None:
    off = Settings(require_staff_otp=False)
    assert doctor.check_staff_otp(off, demo=False).status == "warn"
    assert doctor.check_staff_otp(off, demo=True).status == "ok"
    assert doctor.check_staff_otp(Settings(), demo=False).status == "ok"


def test_cookies_not_secure_is_a_warning() -> None:
    assert doctor.check_cookies(Settings()).status == "warn"
    assert doctor.check_cookies(Settings(cookie_secure=True)).status == "ok"


def test_staff_otp_off_is_fine_in_a_demo_database(demo: Demo) -> None:
    code, out = invoke(["doctor"], demo.env(TONGBAN_REQUIRE_STAFF_OTP="false"))
    assert code == 0 and line_of(out, "staff-otp").startswith("ok"), out  # a demo database


# -- the calendar ------------------------------------------------------------------------------


def test_the_calendar_must_know_this_year_and_should_know_the_next(
    demo_engine: Engine,
) -> None:
    from tongban.workdays.service import known_years

    with make_sessionmaker(demo_engine)() as session:
        last = known_years(session)[-1]
    assert doctor.check_calendar(demo_engine, date(last - 1, 6, 1)).status == "ok"
    warned = doctor.check_calendar(demo_engine, date(last, 6, 1))
    assert warned.status == "warn" and f"enter {last + 1}" in warned.message
    missing = doctor.check_calendar(demo_engine, date(last + 1, 1, 2))
    assert missing.status == "error" and f"not {last + 1}" in missing.message


# -- peers -------------------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once the socket is closed


def _jiangsu_list() -> tuple[dict[str, Any], str]:
    from tongban.crypto import sm2
    from tongban.crypto.trustlist import build_document, root_fingerprint_of

    root = sm2.Sm2Signer(sm2.KeyPair.generate())
    now = int(time.time())
    document = build_document(
        region_code=JS,
        region_name="江苏省",
        keys=[],
        root=root,
        issued_at=now,
        next_update=now + 7 * 86400,
    )
    return document, root_fingerprint_of(root.public_key)


@pytest.fixture
def peer(demo: Demo, demo_engine: Engine) -> Iterator[dict[str, Any]]:
    """Jiangsu as a peer of the demo node, at an address nobody answers (removed after)."""
    from tongban.federation.models import Peer
    from tongban.identity.models import Account

    document, fingerprint = _jiangsu_list()
    url = f"http://127.0.0.1:{_closed_port()}"
    factory = make_sessionmaker(demo_engine)
    with transaction(factory) as session:
        account = session.scalars(select(Account.id).order_by(Account.id)).first()
        assert account is not None
        session.add(
            Peer(
                region_code=JS,
                name="江苏省",
                url=url,
                root_fingerprint=fingerprint,
                trust_list=document,
                trust_next_update=datetime.fromtimestamp(int(time.time()) + 7 * 86400, UTC),
                trust_fetched_at=datetime.now(UTC),
                account_id=account,
            )
        )
    try:
        yield {"url": url, "document": document}
    finally:
        with transaction(factory) as session:
            session.execute(delete(Peer).where(Peer.region_code == JS))


def test_an_unreachable_peer_is_a_warning(demo: Demo, peer: dict[str, Any]) -> None:
    code, out = invoke(["doctor"], demo.env())
    assert code == 0, out
    found = line_of(out, f"peer {JS}")
    assert found.startswith("warn") and f"江苏省 at {peer['url']}: unreachable" in found, out
    assert "peers" not in statuses(out)


class Answering:
    """A peer's node that answers with its trust list."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.asked: list[tuple[str, float]] = []

    def get(self, url: str, *, timeout: float) -> tuple[int, Any]:
        self.asked.append((url, timeout))
        return 200, self.document

    def post(self, url: str, body: bytes, *, timeout: float) -> tuple[int, Any]:
        raise AssertionError("doctor only reads")


def test_a_peer_that_answers_is_ok(demo: Demo, demo_engine: Engine, peer: dict[str, Any]) -> None:
    node = Answering(peer["document"])
    (check,) = doctor.check_peers(demo.settings(), demo_engine, node)
    assert check.status == "ok" and check.name == f"peer {JS}", check
    assert "answers, trust list current until" in check.message
    assert node.asked == [(f"{peer['url']}/api/v1/trust-list", doctor.PEER_TIMEOUT_SECONDS)]
    # Another root's list at the peer's address does not check against the pinned one.
    (check,) = doctor.check_peers(demo.settings(), demo_engine, Answering(_jiangsu_list()[0]))
    assert check.status == "warn" and "does not check against the pinned root" in check.message


# -- pre-review ------------------------------------------------------------------------------


def test_the_ocr_models_load() -> None:
    check = doctor.check_ocr()
    assert check.status == "ok", check
