"""跨省通办: messages per second between two regions' nodes, and the delay a forwarded case
sees each way, next to the ceilings measured in the same run.

Two nodes run as they do for people (`tongban demo --region 310000 / 320000`, each a process
with its own SQLite database, keys and federation worker thread) and trust each other
(`tongban peers add`). Prints:
- throughput: 1,000 messages written into Shanghai's outbox in one transaction (50 streams),
  from its commit until every one is acknowledged by Jiangsu's signed receipt, and until
  Jiangsu has applied them all (the worker in Shanghai's process polls every second: another
  process's commit does not wake it, so up to a second of this is the poll);
- ceiling: plain HTTP requests to Jiangsu's node from one client, one after another (the worker
  sends one message per request, so this bounds it), and SM2-signing plus checking a message
  in this process (the cryptography each message costs, once on each side);
- delay: 20 cases of the Jiangsu matter handed in at Shanghai's portal, from the 201 until the
  case exists in Jiangsu's database, and from Jiangsu's approval until Shanghai shows it
  (p50, p95, max).

Run: `python bench/federation.py`.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from support.server import free_port, login
from tongban.cases.models import Case
from tongban.crypto import sm2
from tongban.crypto.keys import keyring_for
from tongban.crypto.signing import SigningKeys
from tongban.db import make_engine, make_sessionmaker, transaction
from tongban.federation import envelope as env
from tongban.federation import service
from tongban.federation.models import InboxMessage, OutboxMessage
from tongban.licenses.service import Registry
from tongban.settings import Settings, sqlite_url

MESSAGES = 1_000
STREAMS = 50
CASES = 20
HTTP_CEILING = 1_000
CRYPTO_CEILING = 500
NO_RECORD = "20P901000001"
SH, JS = "310000", "320000"


@contextmanager
def node(folder: Path, region: str) -> Iterator[tuple[str, Path]]:
    db = folder / f"{region}.db"
    port = free_port()
    env_vars = {
        **os.environ,
        "TONGBAN_LOGIN_RATE_PER_MINUTE": "10000",
        "TONGBAN_LOG_LEVEL": "WARNING",
        "TONGBAN_FEDERATION_RETRY_CAP_SECONDS": "1",
    }
    env_vars.pop("TONGBAN_DATABASE_URL", None)
    command = [sys.executable, "-m", "tongban", "demo", "--region", region]
    log = open(folder / f"{region}.log", "wb")  # noqa: SIM115 - open while the node runs
    proc = subprocess.Popen(
        [*command, "--port", str(port), "--db", str(db)],
        env=env_vars,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        until(lambda: proc.poll() is not None or _ready(base), 120)
        if proc.poll() is not None:
            raise TimeoutError(f"the {region} node exited")
        yield base, db
    except TimeoutError:
        log.flush()
        print((folder / f"{region}.log").read_text()[-2000:], file=sys.stderr)
        raise
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


def _ready(base: str) -> bool:
    try:
        return httpx.get(base + "/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def until(check: Callable[[], Any], seconds: float, step: float = 0.005) -> float:
    """Seconds until `check` holds (raises if it never does)."""
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        if check():
            return time.perf_counter() - start
        time.sleep(step)
    raise TimeoutError(f"not within {seconds} s")


def peers_add(db: Path, url: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "tongban", "peers", "add", "--url", url, "--agree-shared",
         "--db", str(db)],
        check=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip


def scalar(db: Path, query: Any) -> Any:
    engine = make_engine(sqlite_url(db))
    try:
        with make_sessionmaker(engine)() as session:
            return session.scalar(query)
    finally:
        engine.dispose()


def count(db: Path, query: Any) -> int:
    return int(scalar(db, query) or 0)


def throughput(sh_db: Path, js_db: Path) -> tuple[float, float]:
    settings = Settings(database_url=sqlite_url(sh_db), kek_file=Path(f"{sh_db}.kek"))
    ring = keyring_for(settings)
    registry = Registry(settings, ring, SigningKeys(settings, ring))
    engine = make_engine(settings.database_url)
    body = {"identifier": "1.2.156.3005.2.bench", "purpose": "吞吐测试"}
    before = count(
        js_db,
        select(func.count()).select_from(InboxMessage).where(InboxMessage.status == "applied"),
    )
    with transaction(make_sessionmaker(engine)) as session:
        for n in range(MESSAGES):
            service.enqueue(session, registry, JS, "license.used", f"bench:{n % STREAMS}", body)
    engine.dispose()
    start = time.perf_counter()  # committed: from here on it is the nodes' work
    sent_in = applied_in = 0.0
    while not (sent_in and applied_in) and time.perf_counter() - start < 300:
        if not sent_in and not count(
            sh_db,
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.status == "pending"),
        ):
            sent_in = time.perf_counter() - start
        if (
            not applied_in
            and count(
                js_db,
                select(func.count())
                .select_from(InboxMessage)
                .where(InboxMessage.status == "applied"),
            )
            >= before + MESSAGES
        ):
            applied_in = time.perf_counter() - start
        time.sleep(0.02)
    if not (sent_in and applied_in):
        raise TimeoutError("the messages were not all delivered and applied in 300 s")
    return MESSAGES / sent_in, MESSAGES / applied_in


def http_ceiling(base: str) -> float:
    with httpx.Client() as client:
        start = time.perf_counter()
        for _ in range(HTTP_CEILING):
            client.get(base + "/healthz")
        return HTTP_CEILING / (time.perf_counter() - start)


def crypto_ceiling() -> float:
    """Sign one message as the sender does and check it as the receiver does."""
    pair = sm2.KeyPair.generate()
    signer = sm2.Sm2Signer(pair)
    from tongban.crypto.trustlist import TrustedKey, TrustList

    kid = sm2.key_id(pair.public_key)
    now = int(time.time())
    owner = f"region:{SH}"
    key = TrustedKey(kid, pair.public_key, "active", now - 60, use="federation", owner=owner)
    trust = TrustList(SH, "", now, now + 86400, "", {kid: key})
    body = {"identifier": "1.2.156.3005.2.bench", "purpose": "吞吐测试"}
    start = time.perf_counter()
    for n in range(CRYPTO_CEILING):
        document = env.build(
            message_id=env.new_id(), sender=SH, recipient=JS, type="license.used",
            stream=f"bench:{n}", seq=1, created_at=now, body=body, kid=kid, signer=signer,
        )  # fmt: skip
        env.verify(document, trust, recipient=JS, now=now, max_age=3600)
    return CRYPTO_CEILING / (time.perf_counter() - start)


def case_delays(sh: str, js: str, sh_db: Path, js_db: Path) -> tuple[list[float], list[float]]:
    citizen = login(sh, "citizen3")
    consent = httpx.post(
        f"{sh}/api/v1/me/peer-consents",
        json={"region": JS, "purpose": "性能测试", "days": 1},
        headers=citizen,
    ).json()
    httpx.post(f"{sh}/api/v1/me/peer-consents/{consent['id']}/fetch", headers=citizen, timeout=30)
    form = httpx.get(f"{sh}/api/v1/matters/{NO_RECORD}/form", headers=citizen).json()
    values = {f["key"]: f["value"] for f in form["fields"] if f["value"] is not None}
    reviewer = login(js, "reviewer1")
    there: list[float] = []
    back: list[float] = []
    with httpx.Client(timeout=30) as client:
        for n in range(CASES):
            made = client.post(
                f"{sh}/api/v1/cases",
                json={"matter": NO_RECORD, "form": values, "delivery": "electronic"},
                headers={**citizen, "idempotency-key": f"bench-{n}"},
            )
            made.raise_for_status()
            case_id = int(made.json()["id"])
            # The reference Shanghai gave the case between the regions (its stream's name).
            ref = str(scalar(sh_db, select(Case.exchange_ref).where(Case.id == case_id)))
            there.append(until(lambda r=ref: _arrived(js_db, r), 60))
            js_id = _case_id(js_db, ref)
            for action in ("accept", "start_review", "approve"):
                client.post(
                    f"{js}/api/v1/cases/{js_id}/transitions",
                    json={"action": action},
                    headers=reviewer,
                ).raise_for_status()
            back.append(
                until(
                    lambda c=case_id: (
                        client.get(f"{sh}/api/v1/cases/{c}", headers=citizen).json()["status"]
                        == "approved"
                    ),
                    60,
                )
            )
    return there, back


def _arrived(js_db: Path, origin: str) -> bool:
    return (
        count(
            js_db,
            select(func.count())
            .select_from(Case)
            .where(Case.origin_region == SH, Case.origin_case == origin),
        )
        == 1
    )


def _case_id(js_db: Path, origin: str) -> int:
    return count(js_db, select(Case.id).where(Case.origin_region == SH, Case.origin_case == origin))


def ms(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    return f"{statistics.median(ordered) * 1000:7.1f} {p95 * 1000:7.1f} {ordered[-1] * 1000:7.1f}"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with node(folder, SH) as (sh, sh_db), node(folder, JS) as (js, js_db):
            peers_add(sh_db, js)
            peers_add(js_db, sh)
            sent, applied = throughput(sh_db, js_db)
            http = http_ceiling(js)
            crypto = crypto_ceiling()
            there, back = case_delays(sh, js, sh_db, js_db)
    print("federation: two nodes (processes, SQLite) on loopback, one worker thread each")
    print(f"{'':46} {'per second':>12}")
    print(f"{'messages acknowledged (signed receipts)':46} {sent:12.0f}")
    print(f"{'messages applied by the receiver':46} {applied:12.0f}")
    print(f"{'ceiling: sequential HTTP GET /healthz':46} {http:12.0f}")
    print(f"{'ceiling: SM2 sign + full check of a message':46} {crypto:12.0f}")
    print()
    print(f"forwarded case, {CASES} cases: {'p50':>7} {'p95':>7} {'max':>7} ms")
    print(f"{'  handed in here -> made there':31} {ms(there)}")
    print(f"{'  approved there -> shown here':31} {ms(back)}")


if __name__ == "__main__":
    main()
