"""Backup and a tested restore, as docs/operations.md tells an operator to do them, on SQLite
(the online backup API) and PostgreSQL (pg_dump -Fc, then pg_restore into a new database).

A populated node (`tongban demo`: people, licenses, applications with uploaded files, audit
entries; and a 随申码 issued) is backed up with `tongban backup create`, then restored into a
new database and a new uploads folder, with the KEK taken from "the secret store" (the
environment). The restored node must be whole: its people decrypt and are found by blind
index, its blobs open, its licenses and codes verify against its trust list under the root
fingerprint pinned before the backup, its audit chain is intact, its schema is current, and a
new case can be submitted. With another KEK it must refuse, not serve garbage."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import func, make_url, select
from typer.testing import CliRunner

from tests.cases.helpers import apply
from tests.conftest import fresh_database
from tests.fixtures_identity import login
from tests.idcode.conftest import World
from tongban.app import create_app
from tongban.audit.models import AuditEntry
from tongban.backup import FILES, MANIFEST, POSTGRES_DUMP, SQLITE_COPY, read_manifest
from tongban.cases.files import FileStore, read_file
from tongban.cases.models import CaseFile
from tongban.cli import app as cli
from tongban.crypto.keys import keyring_for
from tongban.crypto.sm2 import public_key_from_pem
from tongban.crypto.trustlist import load_document, root_fingerprint_of
from tongban.db import make_engine, make_sessionmaker
from tongban.idcode.trust import verify_token
from tongban.identity.demo import DEMO_PASSWORD
from tongban.identity.models import Account, Person
from tongban.identity.service import find_person_by_id_number
from tongban.licenses.document import verify_document
from tongban.licenses.service import today as licenses_today
from tongban.migrate import head_revision, is_current
from tongban.settings import Settings, get_settings
from tongban.workdays.service import known_years

runner = CliRunner()
PG_BIN = Path("/usr/lib/postgresql/15/bin")
# Every setting a command reads that a developer's shell might hold.
CLEAN: dict[str, str | None] = dict.fromkeys(
    (
        "TONGBAN_DATABASE_URL",
        "TONGBAN_FILES_DIR",
        "TONGBAN_KEK",
        "TONGBAN_KEK_FILE",
        "TONGBAN_REGION_CODE",
        "TONGBAN_REQUIRE_STAFF_OTP",
    )
)


def new_kek() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def tongban(args: list[str], env: dict[str, str | None]) -> tuple[int, str]:
    get_settings.cache_clear()
    try:
        result = runner.invoke(cli, args, env={**CLEAN, **env})
    finally:
        get_settings.cache_clear()
    return result.exit_code, result.output


@dataclass
class Node:
    url: str
    files: Path
    kek: str

    def env(self, **extra: str | None) -> dict[str, str | None]:
        return {
            "TONGBAN_DATABASE_URL": self.url,
            "TONGBAN_FILES_DIR": str(self.files),
            "TONGBAN_KEK": self.kek,
            **extra,
        }

    def settings(self, kek: str | None = None) -> Settings:
        return Settings(
            database_url=self.url,
            files_dir=self.files,
            kek=SecretStr(kek or self.kek),
            require_staff_otp=False,
            login_rate_per_minute=1000,
        )


@dataclass
class Taken:
    """What the node held when it was backed up, read through its own code."""

    backup: Path
    id_number: str
    phone: str | None
    name: str
    files: dict[int, str]  # case file id -> sha256 of the plain bytes
    audit_entries: int
    root_fingerprint: str
    license: dict[str, Any]
    code: str
    code_issued_at: int
    extra: dict[str, Any] = field(default_factory=dict)


def citizen(client: TestClient) -> dict[str, str]:
    token = login(client, "citizen1", DEMO_PASSWORD)["access_token"]
    return {"authorization": f"Bearer {token}"}


def trust_root(document: dict[str, Any]) -> str:
    return root_fingerprint_of(public_key_from_pem(document["root"]["public_key_pem"]))


def take(node: Node, backup: Path) -> Taken:
    """Use the node (a login, a code), read what it holds, then back it up."""
    settings = node.settings()
    engine = make_engine(node.url)
    try:
        with TestClient(create_app(settings, engine)) as client:
            auth = citizen(client)
            issued = int(time.time())
            r = client.post("/api/v1/me/code", headers=auth)
            assert r.status_code == 200, r.text
            code = r.json()["token"]
            wallet = client.get("/api/v1/me/licenses", headers=auth)
            assert wallet.status_code == 200 and wallet.json()["items"], wallet.text
            trust = client.get("/api/v1/trust-list").json()
        ring = keyring_for(settings)
        with make_sessionmaker(engine)() as session:
            account = session.scalars(select(Account).where(Account.username == "citizen1")).one()
            person = session.get(Person, account.person_id)
            assert person is not None
            store = FileStore(node.files)
            rows = list(session.scalars(select(CaseFile)))
            assert rows, "the demo has uploaded files"
            taken = Taken(
                backup=backup,
                id_number=ring.decrypt(session, "person.id_number", person.id_number_enc),
                phone=ring.decrypt(session, "person.phone", person.phone_enc)
                if person.phone_enc
                else None,
                name=person.name,
                files={r.id: _sha256(read_file(session, store, ring, r)) for r in rows},
                audit_entries=session.scalar(select(func.count()).select_from(AuditEntry)) or 0,
                root_fingerprint=trust_root(trust),
                license=wallet.json()["items"][0],
                code=code,
                code_issued_at=issued,
            )
    finally:
        engine.dispose()
    assert taken.audit_entries > 0
    status, out = tongban(
        ["backup", "create", str(backup), "--pg-dump", str(PG_BIN / "pg_dump")], node.env()
    )
    assert status == 0, out
    return taken


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def restore_database(backend: str, backup: Path, url: str) -> None:
    """Step 2 of the procedure: the database copy into a new, empty database."""
    if backend == "sqlite":
        target = make_url(url).database
        assert target
        shutil.copyfile(backup / SQLITE_COPY, target)
        return
    libpq = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    done = subprocess.run(
        [
            str(PG_BIN / "pg_restore"),
            "--no-owner",
            "--exit-on-error",
            f"--dbname={libpq}",
            str(backup / POSTGRES_DUMP),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def restore_uploads(backup: Path, files: Path) -> None:
    """Step 3: the uploads folder, times kept (the orphan sweep goes by age)."""
    shutil.copytree(backup / FILES, files, copy_function=shutil.copy2)


@pytest.fixture(scope="module")
def world(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Node, Taken, Node]]:
    """The node, what it held at its backup, and its restored copy (database and folder new,
    the KEK the same, from its store)."""
    folder = tmp_path_factory.mktemp("backup")
    with fresh_database(backend, folder) as url:
        source = Node(url, folder / "files", new_kek())
        status, out = tongban(["demo", "--no-serve"], source.env())
        assert status == 0, out
        taken = take(source, folder / "backup")
        with fresh_database(backend, folder) as restored_url:
            restored = Node(restored_url, folder / "restored-files", source.kek)
            # 1. the backup is whole and the KEK from the store opens it
            status, out = tongban(["backup", "check", str(taken.backup)], restored.env())
            assert status == 0, out
            restore_database(backend, taken.backup, restored_url)
            restore_uploads(taken.backup, restored.files)
            # 4. migrate (a restore into a newer release), then the node's own checks
            status, out = tongban(["db", "upgrade"], restored.env())
            assert status == 0, out
            yield source, taken, restored


@pytest.fixture(scope="module")
def restored_client(world: tuple[Node, Taken, Node]) -> Iterator[TestClient]:
    _, _, restored = world
    engine = make_engine(restored.url)
    try:
        with TestClient(create_app(restored.settings(), engine)) as client:
            yield client
    finally:
        engine.dispose()


def test_the_backup_says_what_it_holds_and_holds_no_kek(world: tuple[Node, Taken, Node]) -> None:
    source, taken, _ = world
    manifest = read_manifest(taken.backup)
    assert manifest.revision == head_revision()
    assert manifest.region_code == "310000"
    assert manifest.files == len(list((taken.backup / FILES).rglob("*/*")))
    assert manifest.files >= len(taken.files)
    ring = keyring_for(source.settings())
    assert manifest.kek_ids == [ring.kek.id]
    assert {k.purpose for k in manifest.data_keys} == {"field", "index"}
    key_bytes = base64.b64decode(source.kek)
    for path in taken.backup.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert source.kek.encode() not in content and key_bytes not in content, path


def test_the_restored_node_passes_its_checks(world: tuple[Node, Taken, Node]) -> None:
    _, taken, restored = world
    status, out = tongban(["doctor"], restored.env())
    assert status == 0, out
    assert "error" not in {line.split(" ", 1)[0] for line in out.splitlines()}, out
    status, out = tongban(["audit", "verify"], restored.env())
    assert status == 0, out
    # Every entry of the backup, and the ones the checks and the restore wrote since.
    entries = int(out.split("intact: ")[1].split()[0])
    assert entries >= taken.audit_entries
    engine = make_engine(restored.url)
    try:
        assert is_current(engine)
    finally:
        engine.dispose()


def test_people_decrypt_and_are_found_by_blind_index(world: tuple[Node, Taken, Node]) -> None:
    _, taken, restored = world
    settings = restored.settings()
    ring = keyring_for(settings)
    engine = make_engine(restored.url)
    try:
        with make_sessionmaker(engine)() as session:
            person = find_person_by_id_number(session, ring, taken.id_number)
            assert person is not None and person.name == taken.name
            assert ring.decrypt(session, "person.id_number", person.id_number_enc) == (
                taken.id_number
            )
            if taken.phone is not None:
                assert person.phone_enc is not None
                assert ring.decrypt(session, "person.phone", person.phone_enc) == taken.phone
    finally:
        engine.dispose()


def test_every_uploaded_file_opens(
    world: tuple[Node, Taken, Node], restored_client: TestClient
) -> None:
    _, taken, restored = world
    ring = keyring_for(restored.settings())
    engine = make_engine(restored.url)
    try:
        with make_sessionmaker(engine)() as session:
            store = FileStore(restored.files)
            rows = list(session.scalars(select(CaseFile)))
            assert {r.id: _sha256(read_file(session, store, ring, r)) for r in rows} == taken.files
    finally:
        engine.dispose()
    # And through the API, as the applicant downloads it.
    auth = citizen(restored_client)
    downloaded = 0
    for case in restored_client.get("/api/v1/me/cases", headers=auth).json():
        for material in case["materials"]:
            for f in material["files"]:
                r = restored_client.get(f"/api/v1/cases/{case['id']}/files/{f['id']}", headers=auth)
                assert r.status_code == 200, r.text
                assert _sha256(r.content) == f["sha256"] == taken.files[f["id"]]
                downloaded += 1
    assert downloaded > 0


def test_licenses_and_codes_verify_under_the_root_pinned_before(
    world: tuple[Node, Taken, Node], restored_client: TestClient
) -> None:
    _, taken, _ = world
    document = restored_client.get("/api/v1/trust-list").json()
    # Scanners and peers pinned the root before the backup: the restored node is the same one.
    assert trust_root(document) == taken.root_fingerprint
    trust = load_document(document, now=int(time.time()), root_fingerprint=taken.root_fingerprint)
    lists = {trust.region_code: trust}
    # The registry's day is Beijing's: from 16:00 UTC it is already tomorrow there, and a
    # license issued then is valid from tomorrow.
    verdict = verify_document(taken.license, lists, today=licenses_today(), status="01")
    assert verdict.valid, verdict.as_dict()
    registered = restored_client.get(
        f"/api/v1/licenses/{taken.license['identifier']}/verify"
    ).json()
    assert registered["valid"] is True, registered
    # The code issued before the backup verifies (at its time: it lives a minute) ...
    assert verify_token(taken.code, lists, now=taken.code_issued_at).claims.region_code
    # ... and the restored node signs new ones with the restored code key.
    r = restored_client.post("/api/v1/me/code", headers=citizen(restored_client))
    assert r.status_code == 200, r.text
    assert verify_token(r.json()["token"], lists, now=int(time.time())).claims.kid


def test_a_new_case_is_submitted_on_the_restored_node(
    world: tuple[Node, Taken, Node],
    restored_client: TestClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, _, restored = world
    engine = make_engine(restored.url)
    try:
        with make_sessionmaker(engine)() as session:
            day = date(max(known_years(session)), 6, 1)
        monkeypatch.setattr("tongban.licenses.service.today", lambda: day)
        node = World(restored.settings(), engine, restored_client, {}, hall_key="")
        submitted = apply(node, "20P010000001")
        assert submitted.status_code == 200, submitted.text
        assert submitted.json()["status"] not in ("draft", "rejected"), submitted.json()
    finally:
        engine.dispose()


def test_a_restore_with_another_kek_refuses_loudly(world: tuple[Node, Taken, Node]) -> None:
    _, taken, restored = world
    wrong = new_kek()
    status, out = tongban(["backup", "check", str(taken.backup)], restored.env(TONGBAN_KEK=wrong))
    assert status == 1 and "not by the configured one" in out, out
    status, out = tongban(["doctor"], restored.env(TONGBAN_KEK=wrong))
    assert status == 1, out
    kek_line = next(line for line in out.splitlines() if line[6:].startswith("kek "))
    assert kek_line.startswith("error") and "was wrapped by key-encryption key" in kek_line
    # A server started so anyway answers personal data with an error, never with garbage.
    engine = make_engine(restored.url)
    try:
        app = create_app(restored.settings(kek=wrong), engine)
        with TestClient(app, raise_server_exceptions=False) as client:
            me = client.get("/api/v1/me", headers=citizen(client))
            assert me.status_code >= 500
            assert taken.name not in me.text
    finally:
        engine.dispose()


def test_a_backup_changed_or_cut_short_is_refused(
    world: tuple[Node, Taken, Node], tmp_path: Path
) -> None:
    _, taken, restored = world
    copy = tmp_path / "copy"
    shutil.copytree(taken.backup, copy)
    next(p for p in (copy / FILES).rglob("*/*") if p.is_file()).unlink()
    status, out = tongban(["backup", "check", str(copy)], restored.env())
    assert status == 1 and "uploaded files" in out, out
    database = copy / read_manifest(copy).database_file
    database.write_bytes(database.read_bytes() + b"\0")
    status, out = tongban(["backup", "check", str(copy)], restored.env())
    assert status == 1 and "changed since the backup" in out, out
    (copy / MANIFEST).unlink()
    status, out = tongban(["backup", "check", str(copy)], restored.env())
    assert status == 1 and "did not finish" in out, out


def test_a_backup_never_overwrites_another(world: tuple[Node, Taken, Node]) -> None:
    source, taken, _ = world
    before = (taken.backup / MANIFEST).read_bytes()
    status, out = tongban(["backup", "create", str(taken.backup)], source.env())
    assert status == 1 and "not an empty folder" in out, out
    assert (taken.backup / MANIFEST).read_bytes() == before
