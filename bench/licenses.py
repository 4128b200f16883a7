"""电子证照: licenses signed and verified per second next to the raw SM2 primitive, verification
requests per second over HTTP, and how the 免提交 resolver's look-up grows with the registry
(PostgreSQL, up to 1,000,000 licenses).

Prints, in one run:
- signing a license (RFC 8785 canonical JSON + SM2 over it) vs raw `sm2_sign` of the same
  bytes; verifying one (every check of docs/licenses.md) vs raw `sm2_verify`;
- `GET /api/v1/licenses/{identifier}/verify` over HTTP, one `tongban serve` process;
- resolver latency (p50/p95) for a real matter and applicant with 10k, 100k and 1M licenses in
  a PostgreSQL database of its own (`TONGBAN_BENCH_DATABASE_URL`, default the local server;
  skipped with a note when none answers). Shanghai's registry held 140M licenses of 604 types
  in 2021: the look-up is by holder and type, so what matters is that it does not grow.

Run: `python bench/licenses.py`.
"""

from __future__ import annotations

import base64
import io
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import gmssl_pyx
import httpx
from pydantic import SecretStr

from support.server import demo_server, login
from tongban.crypto import sm2
from tongban.crypto.trustlist import TrustedKey, TrustList
from tongban.licenses.document import sign_document, signed_bytes, verify_document

PG_URL = os.environ.get(
    "TONGBAN_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
SCHOOL = "20P010000001"  # 义务教育入学报名: hukou booklet, ID cards, vaccination certificate


def rate(fn: Any, seconds: float = 0.5) -> float:
    n, start = 0, time.perf_counter()
    while True:
        for _ in range(20):
            fn()
        n += 20
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n / elapsed


def best_rates(*fns: Any, rounds: int = 5) -> list[float]:
    best = [0.0] * len(fns)
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            best[i] = max(best[i], rate(fn))
    return best


def row(label: str, ours: float, raw: float | None = None, unit: str = "") -> None:
    raw_s = f"{raw:>12.0f}" if raw else " " * 12
    ratio = f"{ours / raw:>8.2f}" if raw else ""
    print(f"  {label:<52}{ours:>12.0f}{raw_s}{ratio}{unit}")


def bench_primitives() -> None:
    pair = sm2.KeyPair.generate()
    signer = sm2.Sm2Signer(pair)
    kid = sm2.key_id(pair.public_key)
    now = int(time.time())
    document = {
        "format": "tongban-license/1",
        "identifier": "1.2.156.3005.2.11310000T00000002H001.11310000T00000002H.00000001.001.U",
        "version": 1,
        "type": {"key": "business_license", "code": "11310000T00000002H001", "name": "营业执照"},
        "issuer": {
            "department": "sh-scjgj",
            "name": "上海市市场监督管理局",
            "code": "11310000T00000002H",
        },
        "issued_on": "2026-11-28",
        "valid_from": "2026-11-28",
        "valid_until": None,
        "holder": {
            "kind": "enterprise",
            "name": "上海浦江便利店有限公司",
            "id": "91310115MA10000015",
        },
        "content": {f"field.{i}": "经营范围：食品销售；日用百货销售" for i in range(8)},
        "signed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
    }
    signed = sign_document(document, kid, signer)
    message = signed_bytes(signed)
    public64 = pair.public_key[1:]
    der = gmssl_pyx.sm2_sign(pair.private_key, public64, message)
    key = TrustedKey(kid, pair.public_key, "active", now - 60, use="license", owner="dept:sh-scjgj")
    lists = {"310000": TrustList("310000", "上海市", now, now + 60, "-", {kid: key})}
    today = date.today()
    raw_sign, ours_sign = best_rates(
        lambda: gmssl_pyx.sm2_sign(pair.private_key, public64, message),
        lambda: sign_document(document, kid, signer),
    )
    raw_verify, ours_verify = best_rates(
        lambda: gmssl_pyx.sm2_verify(public64, message, der),
        lambda: verify_document(signed, lists, today=today, status="01"),
    )
    print(f"{'licenses, one core, best of 5':<54}{'ours /s':>12}{'raw /s':>12}{'ratio':>8}")
    row("sign (RFC 8785 + SM2, Z cached) vs raw sm2_sign", ours_sign, raw_sign)
    row("verify (every check) vs raw sm2_verify", ours_verify, raw_verify)
    size = len(base64.b64encode(message))
    print(f"  (document of {len(message)} bytes; {size} in base64)")


def bench_http(tmp: Path) -> None:
    with demo_server(tmp, "licenses") as base:
        holder = login(base, "enterprise1")
        items = httpx.get(base + "/api/v1/me/licenses", headers=holder).json()["items"]
        identifiers = [d["identifier"] for d in items]
        done = [0]
        lock = threading.Lock()
        stop = time.perf_counter() + 5

        def worker() -> None:
            with httpx.Client(base_url=base) as c:
                i = 0
                while time.perf_counter() < stop:
                    r = c.get(f"/api/v1/licenses/{identifiers[i % len(identifiers)]}/verify")
                    assert r.status_code == 200, r.text
                    assert r.json()["valid"], r.text
                    i += 1
                    with lock:
                        done[0] += 1

        began = time.perf_counter()
        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        verify_rate = done[0] / (time.perf_counter() - began)
    print(f"\n{'over HTTP, one server process, 4 clients':<54}{'req/s':>12}")
    row("GET /api/v1/licenses/{identifier}/verify", verify_rate)


def bench_resolver() -> None:
    try:
        import psycopg
        from sqlalchemy import make_url

        server = make_url(PG_URL)
        admin = server.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(admin, autocommit=True, connect_timeout=3):
            pass
    except Exception as exc:
        print(f"\nresolver on PostgreSQL: skipped, no server at {PG_URL} ({type(exc).__name__})")
        return
    name = f"tongban_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        _resolver_on(server.set(database=name).render_as_string(hide_password=False))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _resolver_on(url: str) -> None:
    from sqlalchemy import select, text

    from tongban.catalog.service import load_catalog_dir
    from tongban.crypto.keys import keyring_for
    from tongban.crypto.signing import SigningKeys
    from tongban.db import make_engine, make_sessionmaker, transaction
    from tongban.identity.demo import load_demo_principals
    from tongban.identity.models import Account
    from tongban.licenses.demo import load_demo_licenses
    from tongban.licenses.resolver import Applicant, resolve_materials
    from tongban.licenses.service import Registry
    from tongban.migrate import upgrade
    from tongban.settings import Settings

    engine = make_engine(url)
    upgrade(engine)
    settings = Settings(database_url=url, kek=SecretStr(base64.b64encode(os.urandom(32)).decode()))
    ring = keyring_for(settings)
    sessions = make_sessionmaker(engine)
    with transaction(sessions) as session:
        load_catalog_dir(session)
        ring.ensure_keys(session)
        load_demo_principals(session, ring)
        load_demo_licenses(session, Registry(settings, ring, SigningKeys(settings, ring)))
        person_id = session.scalar(select(Account.person_id).where(Account.username == "citizen1"))
        type_ids = list(session.scalars(text("SELECT id FROM license_types ORDER BY id")))
        department = session.scalar(text("SELECT id FROM departments ORDER BY id LIMIT 1"))
    applicant = Applicant(person_id, None)
    title = f"resolver on PostgreSQL (one applicant, {SCHOOL})"
    print(f"\n{title:<54}{'p50 ms':>12}{'p95 ms':>12}")
    holders_made = 0
    total = 0
    raw = engine.raw_connection()
    try:
        for target in (10_000, 100_000, 1_000_000):
            holders_made, total = _grow(raw, target, total, holders_made, type_ids, department)
            # VACUUM too, not just ANALYZE: otherwise autovacuum wakes up after a million-row
            # COPY and takes a core while the look-ups are being timed.
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE licenses"))
                conn.execute(text("VACUUM ANALYZE persons"))
            timings = []
            with transaction(sessions) as session:
                resolve_materials(session, SCHOOL, applicant, date.today())  # warm
                for _ in range(200):
                    start = time.perf_counter()
                    resolve_materials(session, SCHOOL, applicant, date.today())
                    timings.append((time.perf_counter() - start) * 1000)
            timings.sort()
            p50 = statistics.median(timings)
            p95 = timings[int(len(timings) * 0.95)]
            print(f"  {f'{total:,} licenses':<52}{p50:>12.2f}{p95:>12.2f}")
    finally:
        raw.close()
        engine.dispose()


def _grow(
    raw: Any, target: int, total: int, holders: int, type_ids: list[int], department: int
) -> tuple[int, int]:
    """Add synthetic holders (10 licenses each) until the registry holds `target` licenses.

    The rows are made with COPY: what the resolver reads are the indexed columns, so the
    signed documents of these made-up licenses are placeholders that nothing decrypts.
    """
    cur = raw.cursor()
    need = target - total
    new_holders = need // 10
    first = holders
    persons = io.StringIO()
    for i in range(first, first + new_holders):
        persons.write(f"synthetic\tx\tsyn{i:012d}\t1980-01-01\t男\tf\t2026-01-01 00:00:00+00\n")
    persons.seek(0)
    with cur.copy(
        "COPY persons (name, id_number_enc, id_number_index, birth_date, gender, disabled, "
        "created_at) FROM STDIN"
    ) as copy:
        copy.write(persons.read())
    cur.execute(
        "SELECT id FROM persons WHERE id_number_index LIKE 'syn%%' ORDER BY id OFFSET %s", (first,)
    )
    ids = [r[0] for r in cur.fetchall()]
    with cur.copy(
        "COPY licenses (identifier, serial, version, type_id, issuer_id, holder_kind, person_id, "
        "license_number, paper_number, issued_on, valid_from, status, current, kid, "
        "document_enc, status_changed_at, created_at) FROM STDIN"
    ) as copy:
        n = total
        for person in ids:
            for k in range(10):
                n += 1
                copy.write(
                    f"syn.{n}\t{n:08d}\t1\t{type_ids[(person + k) % len(type_ids)]}\t{department}\t"
                    f"person\t{person}\tN{n}\tP{n}\t2026-01-01\t2026-01-01\t01\tt\tsynthetc\tx\t"
                    "2026-01-01 00:00:00+00\t2026-01-01 00:00:00+00\n"
                )
    raw.commit()
    return first + new_holders, total + new_holders * 10


def main() -> None:
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores\n")
    bench_primitives()
    with tempfile.TemporaryDirectory() as tmp:
        bench_http(Path(tmp))
    bench_resolver()


if __name__ == "__main__":
    main()
