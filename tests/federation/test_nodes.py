"""Two regions as they run: separate processes (`tongban demo --region ...`), databases and
ports on loopback, trusting each other through `tongban peers add`. A license of one verifies
in the other, a case travels there and back, a node killed mid-flight and restarted loses
nothing and duplicates nothing, and a forged message or one signed by a revoked key is
refused over the wire."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tongban.cases.models import Case
from tongban.db import make_engine, make_sessionmaker
from tongban.federation.models import OutboxMessage
from tongban.identity.demo import DEMO_PASSWORD
from tongban.settings import sqlite_url

TONGBAN = str(Path(sys.executable).with_name("tongban"))
NO_RECORD = "20P901000001"
SH, JS = "310000", "320000"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Process:
    region: str
    db: Path
    port: int
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, env: dict[str, str]) -> None:
        command = [TONGBAN, "demo", "--region", self.region, "--port", str(self.port)]
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [*command, "--db", str(self.db)], env=env, stdout=out, stderr=subprocess.STDOUT
            )

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)  # no goodbye: mid-flight, as a crash would be
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def wait_ready(self, seconds: float = 90) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.region} exited:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise AssertionError(f"{self.region} did not start:\n{self.log.read_text()[-3000:]}")

    def token(self, user: str) -> dict[str, str]:
        r = httpx.post(
            f"{self.url}/api/v1/auth/token",
            json={"username": user, "password": DEMO_PASSWORD},
            timeout=10,
        )
        assert r.status_code == 200, r.text
        return {"authorization": f"Bearer {r.json()['access_token']}"}

    def scalar(self, query: Any) -> Any:
        engine = make_engine(sqlite_url(self.db))
        try:
            with make_sessionmaker(engine)() as session:
                return session.scalar(query)
        finally:
            engine.dispose()


@dataclass
class Cluster:
    sh: Process
    js: Process
    env: dict[str, str]

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [TONGBAN, *args], env=self.env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout


def until(check: Callable[[], Any], seconds: float = 30, what: str = "") -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what or check}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if shutil.which(TONGBAN) is None and not Path(TONGBAN).exists():
        pytest.skip("the tongban command is not installed")
    folder = tmp_path_factory.mktemp("nodes")
    env = {
        **os.environ,
        "TONGBAN_FEDERATION_RETRY_CAP_SECONDS": "1",
        "TONGBAN_LOG_LEVEL": "WARNING",
        "TONGBAN_LOGIN_RATE_PER_MINUTE": "10000",
    }
    env.pop("TONGBAN_DATABASE_URL", None)
    env.pop("TONGBAN_REGION_CODE", None)
    sh = Process(SH, folder / "sh.db", _free_port(), folder / "sh.log")
    js = Process(JS, folder / "js.db", _free_port(), folder / "js.log")
    for node in (sh, js):
        node.start(env)
    try:
        for node in (sh, js):
            node.wait_ready()
        cluster = Cluster(sh, js, env)
        cluster.cli("peers", "add", "--url", js.url, "--agree-shared", "--db", str(sh.db))
        cluster.cli("peers", "add", "--url", sh.url, "--agree-shared", "--db", str(js.db))
        yield cluster
    finally:
        for node in (sh, js):
            node.stop()


def _apply(cluster: Cluster, key: str) -> int:
    sh = cluster.sh
    headers = sh.token("citizen3")
    form = httpx.get(f"{sh.url}/api/v1/matters/{NO_RECORD}/form", headers=headers).json()
    values = {f["key"]: f["value"] for f in form["fields"] if f["value"] is not None}
    r = httpx.post(
        f"{sh.url}/api/v1/cases",
        json={"matter": NO_RECORD, "form": values, "delivery": "electronic"},
        headers={**headers, "idempotency-key": key},
        timeout=10,
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _forwarded(cluster: Cluster, origin_ids: list[int]) -> int:
    wanted = [
        ref
        for ref in (
            cluster.sh.scalar(select(Case.exchange_ref).where(Case.id == i)) for i in origin_ids
        )
        if ref
    ]
    return int(
        cluster.js.scalar(
            select(func.count())
            .select_from(Case)
            .where(Case.origin_region == SH, Case.origin_case.in_(wanted))
        )
        or 0
    )


def test_the_peers_pinned_each_others_roots(cluster: Cluster) -> None:
    listed = cluster.cli("peers", "list", "--db", str(cluster.sh.db))
    assert "320000 江苏省" in listed
    assert "marriage_certificate = 11320500T00000002F001" in listed


def test_a_license_of_one_region_counts_and_verifies_in_the_other(cluster: Cluster) -> None:
    sh = cluster.sh
    headers = sh.token("citizen3")
    consent = httpx.post(
        f"{sh.url}/api/v1/me/peer-consents",
        json={"region": JS, "purpose": "办理生育登记", "days": 30},
        headers=headers,
    ).json()
    fetched = httpx.post(
        f"{sh.url}/api/v1/me/peer-consents/{consent['id']}/fetch", headers=headers, timeout=20
    )
    assert fetched.status_code == 200, fetched.text
    kept = {lic["counts_as"]: lic for lic in fetched.json()["licenses"]}
    assert "marriage_certificate" in kept
    form = httpx.get(f"{sh.url}/api/v1/matters/20P006000001/form", headers=headers).json()
    marriage = next(m for m in form["materials"] if m["key"] == "marriage_certificate")
    assert marriage["reason"] == "found_peer"
    identifier = kept["marriage_certificate"]["identifier"]
    verified = httpx.get(f"{sh.url}/api/v1/licenses/{identifier}/verify", timeout=20).json()
    assert verified["valid"] is True
    assert verified["region"] == JS


def test_a_case_goes_to_the_handling_region_and_its_result_comes_back(cluster: Cluster) -> None:
    case_id = _apply(cluster, "nodes-round-trip")
    until(lambda: _forwarded(cluster, [case_id]) == 1, what="the case to reach Jiangsu")
    js = cluster.js
    reviewer = js.token("reviewer1")
    queue = httpx.get(f"{js.url}/api/v1/cases/queue", headers=reviewer).json()
    there = next(c for c in queue if c["cross_region"] and c["channel"] == "region")
    for action in ("accept", "start_review", "approve"):
        r = httpx.post(
            f"{js.url}/api/v1/cases/{there['id']}/transitions",
            json={"action": action},
            headers=reviewer,
        )
        assert r.status_code == 200, r.text
    sh_headers = cluster.sh.token("citizen3")

    def approved() -> Any:
        case = httpx.get(f"{cluster.sh.url}/api/v1/cases/{case_id}", headers=sh_headers).json()
        return case if case["status"] == "approved" else None

    case = until(approved, what="the approval to come back")
    assert case["license"].startswith("1.2.156.3005.2.11320500T")  # issued in Suzhou


def test_a_peer_killed_mid_flight_and_restarted_loses_nothing_and_duplicates_nothing(
    cluster: Cluster,
) -> None:
    sent: list[int] = [_apply(cluster, f"nodes-kill-{n}") for n in range(3)]
    until(lambda: _forwarded(cluster, sent) >= 1, what="the first case to arrive")
    cluster.js.kill()
    sent += [_apply(cluster, f"nodes-kill-{n}") for n in range(3, 12)]  # Jiangsu is away
    time.sleep(2)  # Shanghai tries, and backs off
    pending = cluster.sh.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.status == "pending", OutboxMessage.peer_region == JS)
    )
    assert pending >= 9
    cluster.js.start(cluster.env)
    cluster.js.wait_ready()
    until(lambda: _forwarded(cluster, sent) == len(sent), seconds=60, what="every case")
    time.sleep(2)  # a late duplicate would have arrived by now
    assert _forwarded(cluster, sent) == len(sent)  # each once
    dead = cluster.sh.scalar(
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "dead")
    )
    assert dead == 0
    sh_headers = cluster.sh.token("citizen3")

    def numbered() -> bool:
        # Jiangsu's answers (its case numbers) came back for every case, too.
        cases = [
            httpx.get(f"{cluster.sh.url}/api/v1/cases/{i}", headers=sh_headers).json() for i in sent
        ]
        return all(c["cross_region"]["number"] for c in cases)

    until(numbered, seconds=60, what="Jiangsu's numbers")


def test_revoked_key_and_forged_messages_are_refused_over_the_wire(cluster: Cluster) -> None:
    from tongban.crypto import sm2
    from tongban.federation import envelope as env

    old = _signed_by_shanghai(cluster, seq=100)
    r = httpx.post(f"{cluster.js.url}/api/v1/federation/messages", json=old, timeout=20)
    assert r.status_code == 200  # genuine, while its key is trusted
    kid = old["signature"]["key_id"]
    revoked = cluster.cli("keys", "signing-revoke", kid, "--db", str(cluster.sh.db))
    assert "peer regions told" in revoked
    later = _signed_by_shanghai(cluster, seq=101, kid=kid)

    def refused() -> Any:
        got = httpx.post(f"{cluster.js.url}/api/v1/federation/messages", json=later, timeout=20)
        return got if got.status_code == 401 else None

    answer = until(refused, what="Jiangsu to learn of the revocation")
    assert answer.json()["code"] == "message_key_revoked"

    stranger = sm2.KeyPair.generate()
    forged = env.build(
        message_id=env.new_id(),
        sender=SH,
        recipient=JS,
        type="license.used",
        stream="licenses",
        seq=99,
        created_at=int(time.time()),
        body={"identifier": "1.2.156.3005.2.x", "purpose": "伪造"},
        kid=sm2.key_id(stranger.public_key),
        signer=sm2.Sm2Signer(stranger),
    )
    r = httpx.post(f"{cluster.js.url}/api/v1/federation/messages", json=forged, timeout=20)
    assert r.status_code == 401
    assert r.json()["code"] == "message_key_unknown"
    tampered = {**_signed_by_shanghai(cluster, seq=102), "body": {"purpose": "改过"}}
    r = httpx.post(f"{cluster.js.url}/api/v1/federation/messages", json=tampered, timeout=20)
    assert r.status_code == 401
    assert r.json()["code"] == "message_signature_invalid"


def _signed_by_shanghai(cluster: Cluster, *, seq: int, kid: str | None = None) -> dict[str, Any]:
    """A message signed with Shanghai's federation key (read from its demo database and
    key-encryption key): what only Shanghai's node could have sent."""
    from tongban.crypto.keys import keyring_for
    from tongban.crypto.models import SigningKey
    from tongban.crypto.signing import PRIVATE_FIELD
    from tongban.federation import envelope as env
    from tongban.settings import Settings

    settings = Settings(
        database_url=sqlite_url(cluster.sh.db), kek_file=Path(f"{cluster.sh.db}.kek")
    )
    ring = keyring_for(settings)
    engine = make_engine(settings.database_url)
    try:
        with make_sessionmaker(engine)() as session:
            query = select(SigningKey).where(SigningKey.purpose == "federation")
            row = session.scalars(
                query.where(SigningKey.kid == kid)
                if kid
                else query.where(SigningKey.status == "active")
            ).one()
            private = bytes.fromhex(ring.decrypt(session, PRIVATE_FIELD, row.private_key_enc))
            from tongban.crypto import sm2

            signer = sm2.Sm2Signer(sm2.KeyPair(private, bytes.fromhex(row.public_key)))
            return env.build(
                message_id=env.new_id(),
                sender=SH,
                recipient=JS,
                type="license.used",
                stream="probe",
                seq=seq,
                created_at=int(time.time()),
                body={"identifier": "1.2.156.3005.2.probe", "purpose": "核验"},
                kid=row.kid,
                signer=signer,
            )
    finally:
        engine.dispose()
