"""The database restarts under load: a real `tongban serve` on a PostgreSQL server of its own,
clients reading guides, searching, logging in, reading their cases and submitting
applications (each key retried until it is answered), and the server stopped for a few
seconds and started again. While it is down every request gets a clear 503
`database_unavailable` at once; when it is back the same process serves again within
seconds; every acknowledged application is there exactly once."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import pgcluster
from tests.cases.test_crash import MATTER, _filled_form
from tests.faults.helpers import Server, node_env, private_cluster, run

USERS = ("citizen1", "citizen2")
GUIDE = "/api/v1/matters/" + MATTER
SEARCH = "/api/v1/matters?q=开便利店&size=5"
DOWN_S = 4.0  # how long the database stays stopped
SLOWEST_S = 5.0  # no request may take longer, down or not
RECOVERY_S = 5.0  # after the database is back, every kind of request succeeds within this
REQUEST_TIMEOUT_S = 15.0
KEYS_PER_SUBMITTER = 40


@dataclass(frozen=True)
class Answer:
    kind: str
    sent: float
    took: float
    status: int  # 0: no answer (transport error)
    code: str | None = None
    problem: dict[str, Any] | None = None
    retry_after: str | None = None
    media_type: str = ""


@dataclass
class Load:
    """Everything the clients saw, shared between their threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    answers: list[Answer] = field(default_factory=list)
    acked: dict[str, int] = field(default_factory=dict)  # idempotency key -> case id
    failures: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def note(self, answer: Answer) -> None:
        with self.lock:
            self.answers.append(answer)


def _call(
    http: httpx.Client, load: Load, kind: str, method: str, url: str, **kw: Any
) -> httpx.Response | None:
    sent = time.monotonic()
    try:
        r = http.request(method, url, **kw)
    except httpx.TransportError:
        load.note(Answer(kind, sent, time.monotonic() - sent, 0))
        return None
    took = time.monotonic() - sent
    media = r.headers.get("content-type", "").split(";")[0]
    problem = r.json() if media == "application/problem+json" else None
    code = problem.get("code") if problem else None
    load.note(
        Answer(kind, sent, took, r.status_code, code, problem, r.headers.get("retry-after"), media)
    )
    return r


def _reader(base: str, load: Load) -> None:
    with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT_S) as http:
        while not load.stop.is_set():
            _call(http, load, "guide", "GET", GUIDE)
            _call(http, load, "search", "GET", SEARCH)
            _call(http, load, "page", "GET", "/matters/" + MATTER, headers={"accept": "text/html"})
            time.sleep(0.02)


def _logins(base: str, load: Load) -> None:
    body = {"username": USERS[0], "password": "Demo@2026"}
    with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT_S) as http:
        while not load.stop.is_set():
            _call(http, load, "login", "POST", "/api/v1/auth/token", json=body)
            time.sleep(0.1)


def _status_reader(base: str, load: Load, headers: dict[str, str], case_id: int) -> None:
    with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT_S, headers=headers) as http:
        while not load.stop.is_set():
            _call(http, load, "status", "GET", f"/api/v1/cases/{case_id}")
            _call(http, load, "my-cases", "GET", "/api/v1/me/cases")
            time.sleep(0.05)


def _submitter(
    base: str, load: Load, headers: dict[str, str], form: dict[str, Any], keys: list[str]
) -> None:
    """One case per key, the same key and body retried until it is a 201."""
    body = {"matter": MATTER, "form": form}
    with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT_S, headers=headers) as http:
        for key in keys:
            while True:
                if load.stop.is_set():
                    return
                r = _call(http, load, "submit", "POST", "/api/v1/cases", json=body,
                          headers={"idempotency-key": key})  # fmt: skip
                if r is not None and r.status_code == 201:
                    with load.lock:
                        load.acked[key] = int(r.json()["id"])
                    break
                if r is not None and r.status_code < 500:
                    with load.lock:
                        load.failures.append(f"{key}: {r.status_code} {r.text[:300]}")
                    return
                time.sleep(0.1)
            time.sleep(0.05)


@pytest.fixture(scope="module")
def cluster() -> Iterator[pgcluster.PgCluster]:
    with private_cluster() as made:
        yield made


def test_requests_fail_clearly_while_the_database_is_down_and_recover_without_a_restart(
    cluster: pgcluster.PgCluster, tmp_path: Path
) -> None:
    env = node_env(cluster.create_database("restart"), tmp_path / "files")
    run(env, "demo", "--no-serve")
    server = Server(env, tmp_path / "serve.log").start()
    load = Load()
    threads: list[threading.Thread] = []
    try:
        headers = {user: server.token(user) for user in USERS}
        forms = {user: _filled_form(server.base, headers[user]) for user in USERS}
        first = httpx.post(
            server.base + "/api/v1/cases",
            json={"matter": MATTER, "form": forms[USERS[0]]},
            headers=headers[USERS[0]] | {"idempotency-key": "restart-first"},
            timeout=REQUEST_TIMEOUT_S,
        )
        assert first.status_code == 201, first.text
        pid = server.pid
        keys = {user: [f"restart-{user}-{i}" for i in range(KEYS_PER_SUBMITTER)] for user in USERS}
        threads = [
            threading.Thread(target=_reader, args=(server.base, load)),
            threading.Thread(target=_logins, args=(server.base, load)),
            threading.Thread(
                target=_status_reader,
                args=(server.base, load, headers[USERS[0]], int(first.json()["id"])),
            ),
            *(
                threading.Thread(
                    target=_submitter,
                    args=(server.base, load, headers[user], forms[user], keys[user]),
                )
                for user in USERS
            ),
        ]
        for t in threads:
            t.start()
        time.sleep(2.0)  # the load under way, the pool's connections all in use

        cluster.stop("fast")
        down = time.monotonic()
        readiness = []
        while time.monotonic() < down + DOWN_S:
            r = httpx.get(server.base + "/readyz", timeout=REQUEST_TIMEOUT_S)
            readiness.append(r.status_code)
            time.sleep(0.5)
        starting = time.monotonic()  # it may answer before pg_ctl says it is up
        cluster.start()
        up = time.monotonic()

        time.sleep(RECOVERY_S + 2.0)
        load.stop.set()
        for t in threads:
            t.join(timeout=REQUEST_TIMEOUT_S * 2)
        assert not any(t.is_alive() for t in threads), "clients still waiting"
        assert server.alive() and server.pid == pid, "the server process was restarted"
        answers = sorted(load.answers, key=lambda a: a.sent)
        report = _report(answers, down, up)
        print(report)

        # Never a 500 or a hang: an answer within seconds, a 503 while the database is away.
        wrong = [a for a in answers if a.status not in (200, 201, 503)]
        assert not wrong, f"{Counter((a.kind, a.status, a.code) for a in wrong)}\n{_errors(server)}"
        slow = [a for a in answers if a.took > SLOWEST_S]
        assert not slow, f"{len(slow)} slow answers, slowest {max(a.took for a in slow):.1f} s"
        unavailable = [a for a in answers if a.status == 503]
        assert unavailable, "no request noticed that the database was down"
        for a in unavailable:
            assert a.retry_after is not None, a
            if a.kind == "page":
                assert a.media_type == "text/html", a
            else:
                assert a.problem is not None, a
                assert a.code == "database_unavailable", a.problem
                assert a.problem["title"] and a.problem["title_en"], a.problem
        # Every request sent while it was down (after the in-flight ones) was refused.
        while_down = [a for a in answers if down + 0.5 < a.sent and a.sent + a.took < starting]
        assert while_down and all(a.status == 503 for a in while_down), Counter(
            (a.kind, a.status) for a in while_down
        )
        assert readiness and all(s == 503 for s in readiness), readiness

        # Back within seconds, every kind of request, in the same process.
        recovered = _recovered_at(answers, up)
        assert recovered is not None and recovered - up < RECOVERY_S, report

        # Every acknowledged application exactly once; no key made two.
        assert not load.failures, load.failures
        assert len(load.acked) > KEYS_PER_SUBMITTER // 4, "too few submissions went through"
        rows = cluster.psql(
            "SELECT idempotency_key || ' ' || id FROM cases WHERE idempotency_key LIKE 'restart-%'",
            "restart",
        ).splitlines()
        stored: dict[str, list[int]] = {}
        for line in rows:
            key, row_id = line.rsplit(" ", 1)
            stored.setdefault(key, []).append(int(row_id))
        assert all(len(ids) == 1 for ids in stored.values()), stored
        for key, case_id in load.acked.items():
            assert stored.get(key) == [case_id], (
                f"{key}: acknowledged {case_id}, stored {stored.get(key)}"
            )
    finally:
        load.stop.set()
        for t in threads:
            t.join(timeout=REQUEST_TIMEOUT_S * 2)
        server.stop()
        if not cluster.is_ready():
            cluster.start()


def _recovered_at(answers: list[Answer], up: float) -> float | None:
    """The moment after the database came back from which every request succeeded."""
    last_failure = max(
        (a.sent + a.took for a in answers if a.status >= 500 or a.status == 0), default=up
    )
    after = [a for a in answers if a.sent >= last_failure]
    kinds = {a.kind for a in answers}
    if {a.kind for a in after if a.status < 300} != kinds:
        return None
    return max(last_failure, up)


def _report(answers: list[Answer], down: float, up: float) -> str:
    failed = [a for a in answers if a.status >= 500 or a.status == 0]
    first = min((a.sent for a in failed), default=down)
    last = max((a.sent + a.took for a in failed), default=down)
    return (
        f"{len(answers)} requests, {len(failed)} failed, statuses "
        f"{dict(Counter((a.status, a.code) for a in answers))}; failures from "
        f"{first - down:+.2f} s to {last - up:+.2f} s after the database came back "
        f"(down {up - down:.1f} s); slowest {max(a.took for a in answers):.2f} s"
    )


def _errors(server: Server) -> str:
    """The server log's error lines, without the access log."""
    lines = server.tail(200_000).splitlines()
    return "\n".join(line for line in lines if "HTTP/1.1" not in line)[-6000:]
