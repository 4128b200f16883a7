"""Crash safety of applications: a real `tongban serve` on a demo SQLite file is killed with
SIGKILL, more than once, while several clients submit cases with Idempotency-Key headers and
retry each key until it is answered with a 201. Every acknowledged case must then be there
exactly once, under its key, and readable; no key may have made two cases."""

from __future__ import annotations

import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

# 个人所得税综合所得年度汇算: a personal matter without any material, so nothing ever has to be
# uploaded before it can be submitted; its one field the registries cannot prefill is the year.
MATTER = "20P008000003"
USERS = ("citizen1", "citizen2")
PASSWORD = "Demo@2026"
CLIENTS = 8
KEYS_PER_CLIENT = 12
KILLS = 4
DEADLINE_S = 40.0  # for the clients' submissions, kills and restarts included
REQUEST_TIMEOUT_S = 10.0
SERVE = [sys.executable, "-m", "tongban", "serve"]


def _free_port() -> int:
    """A free port below the ephemeral range: while the server is down, a client's connection
    to the port could otherwise be given that same port as its own and connect to itself,
    and the restarted server could not bind it."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    below = range(10000, low)
    for port in random.sample(below, min(200, len(below))):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """One `tongban serve` process at a time on a fixed port and database, killable and
    restartable; its output goes to a log file kept across restarts."""

    def __init__(self, db: Path, env: dict[str, str], log: Path) -> None:
        self.db, self.env, self.log = db, env, log
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [*SERVE, "--db", str(self.db), "--port", str(self.port)],
                env=self.env,
                cwd=self.db.parent,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                if httpx.get(self.base + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"server not ready within 30 s:\n{self.tail()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown handler, no last commit, no flush."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.reap()

    def reap(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None

    def tail(self, chars: int = 6000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


@dataclass
class Tally:
    """What the clients saw, shared between their threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    acked: dict[str, tuple[str, int]] = field(default_factory=dict)  # key -> (user, case id)
    created: dict[str, str | None] = field(default_factory=dict)  # key -> the case's first event
    transport_errors: int = 0
    replays: int = 0  # keys whose case was stored by a request whose answer the kill lost
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def ack_count(self) -> int:
        with self.lock:
            return len(self.acked)


def _login(base: str, user: str) -> dict[str, str]:
    r = httpx.post(
        base + "/api/v1/auth/token", json={"username": user, "password": PASSWORD}, timeout=10
    )
    assert r.status_code == 200, r.text
    return {"authorization": "Bearer " + r.json()["access_token"]}


def _filled_form(base: str, headers: dict[str, str]) -> dict[str, Any]:
    """The form as the applicant sends it: the prefilled values, and made-up valid ones for the
    required fields left empty. The matter must need no upload before it can be submitted."""
    r = httpx.get(f"{base}/api/v1/matters/{MATTER}/form", headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    body = r.json()
    uploads = [m["key"] for m in body["materials"] if m["required"] and m["resolution"] == "upload"]
    assert not uploads, f"{MATTER} needs required materials uploaded: {uploads}"
    made_up = {
        "integer": 2025,
        "date": "2026-01-05",
        "boolean": True,
        "decimal": "1",
        "phone": "13800138000",
        "postal_code": "200000",
    }
    values: dict[str, Any] = {}
    for f in body["fields"]:
        if f["value"] is not None:
            values[f["key"]] = f["value"]
        elif f["required"]:
            if f["type"] == "enum":
                values[f["key"]] = f["options"][0]
            else:
                values[f["key"]] = made_up.get(f["type"], "测试填写")
    return values


def _first_event_at(case: dict[str, Any]) -> str | None:
    history = case.get("history") or []
    return str(history[0]["at"]) if history else None


def _created_before(case: dict[str, Any], moment: datetime) -> bool:
    at = _first_event_at(case)
    return at is not None and datetime.fromisoformat(at) < moment


def _client(
    base: str,
    user: str,
    headers: dict[str, str],
    form: dict[str, Any],
    keys: list[str],
    tally: Tally,
    stop: threading.Event,
    deadline: float,
) -> None:
    """Submit one case per key; retry the same key with the same body until it is a 201."""
    body = {"matter": MATTER, "form": form}
    with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT_S) as http:
        for key in keys:
            retried = False
            while True:
                if stop.is_set() or time.monotonic() > deadline:
                    with tally.lock:
                        tally.failures.append(f"{user} {key}: never acknowledged")
                    return
                sent = datetime.now(UTC)
                try:
                    r = http.post(
                        "/api/v1/cases", json=body, headers=headers | {"idempotency-key": key}
                    )
                except httpx.TransportError:
                    with tally.lock:
                        tally.transport_errors += 1
                    retried = True
                    time.sleep(random.uniform(0.05, 0.2))
                    continue
                with tally.lock:
                    tally.statuses[r.status_code] += 1
                if r.status_code == 201:
                    case = r.json()
                    with tally.lock:
                        tally.acked[key] = (user, int(case["id"]))
                        tally.created[key] = _first_event_at(case)
                        if retried and _created_before(case, sent):
                            tally.replays += 1
                    break
                if r.status_code >= 500:
                    retried = True
                    time.sleep(random.uniform(0.05, 0.2))
                    continue
                with tally.lock:
                    tally.failures.append(f"{user} {key}: {r.status_code} {r.text[:300]}")
                return


def test_every_acknowledged_application_survives_the_server_being_killed(
    tmp_path: Path,
) -> None:
    db = tmp_path / "crash.db"
    env = {**os.environ, "TONGBAN_LOGIN_RATE_PER_MINUTE": "10000"}
    env.pop("TONGBAN_DATABASE_URL", None)
    subprocess.run(
        [sys.executable, "-m", "tongban", "demo", "--db", str(db), "--no-serve"],
        check=True,
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        timeout=120,
    )
    env["TONGBAN_REQUIRE_STAFF_OTP"] = "false"  # serve finds the demo KEK beside the database
    with closing(sqlite3.connect(db)) as conn:
        cases_before = conn.execute("SELECT count(*) FROM cases").fetchone()[0]

    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    server = Server(db, env, tmp_path / "serve.log")
    tally = Tally()
    stop = threading.Event()
    threads: list[threading.Thread] = []
    kills = 0
    try:
        server.start()
        headers = {user: _login(server.base, user) for user in USERS}
        forms = {user: _filled_form(server.base, headers[user]) for user in USERS}
        keys = {
            c: [f"crash-{seed}-{c}-{i}" for i in range(KEYS_PER_CLIENT)] for c in range(CLIENTS)
        }
        owner = {c: USERS[c % len(USERS)] for c in range(CLIENTS)}
        total = CLIENTS * KEYS_PER_CLIENT

        started = time.monotonic()
        deadline = started + DEADLINE_S
        for c in range(CLIENTS):
            user = owner[c]
            args = (server.base, user, headers[user], forms[user], keys[c], tally, stop, deadline)
            threads.append(threading.Thread(target=_client, args=args, daemon=True))
        for t in threads:
            t.start()

        # Kill after some acknowledgements, spread over the run, at a random moment within a
        # request; restart at once on the same port and database.
        for i in range(1, KILLS + 1):
            target = total * i // (KILLS + 1) + rng.randint(-3, 3)
            while tally.ack_count() < target and time.monotonic() < deadline:
                if not any(t.is_alive() for t in threads):
                    break
                time.sleep(0.005)
            if time.monotonic() >= deadline or not any(t.is_alive() for t in threads):
                break
            time.sleep(rng.uniform(0, 0.05))
            server.kill()
            kills += 1
            server.start()

        for t in threads:
            t.join(timeout=max(1.0, deadline - time.monotonic() + REQUEST_TIMEOUT_S))
        assert not any(t.is_alive() for t in threads), "clients still running"
        elapsed = time.monotonic() - started
        print(
            f"seed {seed}: {len(tally.acked)} acknowledged of {total} keys in {elapsed:.1f} s, "
            f"{kills} kills, {tally.transport_errors} transport errors, "
            f"{tally.replays} keys stored before a kill but answered only after it, "
            f"statuses {dict(tally.statuses)}"
        )

        assert not tally.failures, "\n".join(tally.failures[:20]) + "\n" + server.tail()
        assert kills >= 2, f"only {kills} kills happened while clients submitted"
        used = {key: owner[c] for c in keys for key in keys[c]}
        assert set(tally.acked) == set(used)

        # Each acknowledged key still answers with its first case, which is readable.
        with httpx.Client(base_url=server.base, timeout=REQUEST_TIMEOUT_S) as http:
            for key, (user, case_id) in sorted(tally.acked.items()):
                read = http.get(f"/api/v1/cases/{case_id}", headers=headers[user])
                assert read.status_code == 200, f"{key}: acknowledged case {case_id}: {read.text}"
                assert read.json()["id"] == case_id and read.json()["matter"] == MATTER
                # SQLite hands a lost row's id to the next insert: the same id must also be
                # the same case, created when the acknowledgement said.
                assert _first_event_at(read.json()) == tally.created[key], (
                    f"{key}: case {case_id} is not the case that was acknowledged"
                )
                again = http.post(
                    "/api/v1/cases",
                    json={"matter": MATTER, "form": forms[user]},
                    headers=headers[user] | {"idempotency-key": key},
                )
                assert again.status_code == 201, again.text
                assert again.json()["id"] == case_id, (
                    f"{key}: acknowledged as case {case_id}, retried as {again.json()['id']}"
                )

        # And in the database: one row per (account, key), one row per key, nothing else.
        with closing(sqlite3.connect(db)) as conn:
            rows = conn.execute(
                "SELECT a.username, c.idempotency_key, c.id FROM cases c "
                "JOIN accounts a ON a.id = c.created_by"
            ).fetchall()
            per_key = conn.execute(
                "SELECT created_by, idempotency_key, count(*) FROM cases "
                "WHERE idempotency_key IS NOT NULL "
                "GROUP BY created_by, idempotency_key HAVING count(*) > 1"
            ).fetchall()
            cases_after = conn.execute("SELECT count(*) FROM cases").fetchone()[0]
        assert per_key == []
        assert cases_after - cases_before == len(used)
        ours = {key: (user, case_id) for user, key, case_id in rows if key in used}
        assert ours == tally.acked
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=REQUEST_TIMEOUT_S + 1)
        server.reap()
