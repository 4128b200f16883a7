"""办件: case submissions per second over HTTP, next to two ceilings measured on the same server
process in the same run, on SQLite and on PostgreSQL.

Prints, per database:
- `POST /api/v1/cases`: a personal matter the demo citizens can submit straight away (no
  required material left to upload, the form prefilled), each request with an Idempotency-Key of
  its own, from 50 concurrent clients spread over citizen1 and citizen2;
- ceiling: `POST /bench/insert`, a route that inserts one row in a small table in one
  transaction through the app's own session machinery (served by bench/support/bench_app.py,
  never by the product): what any request that writes costs at least;
- ceiling: `GET /healthz`, what a request costs at least;
- requests, answers per second, p50 and p99 latency, answers other than the expected one, and
  the CPU the server process and this client used (in cores: on a small machine the clients
  share the server's cores, so these tell which side was the limit);
- that the cases in the database are as many as the 201s, so the rate counts no failure;
- how long one server process takes for Shanghai's ~134,000 cases a day at that rate.

The server is one process, built and run as `tongban serve` does (uvicorn, one worker).
PostgreSQL: a database of its own on `TONGBAN_BENCH_DATABASE_URL` (default the local server),
dropped afterwards; skipped with a note when no server answers.

Run: `python bench/cases.py`.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import make_url, text

from support.server import free_port, login
from tongban.db import make_engine
from tongban.settings import sqlite_url

CLIENTS = 50
SUBMISSIONS = 2_000
INSERTS = 2_000
HEALTH_CHECKS = 4_000
WARM_UP = 100  # requests of each kind before any is timed
# No new request after this long (seconds) or this many failures, so that a server that stalls
# or fails ends the run all the same; the table says when a run was cut short.
WARM_UP_LIMIT = 5.0
TIMED_LIMIT = 60.0
MAX_FAILURES = 50
CASES_PER_DAY = 134_000  # Shanghai's 一网通办, about
CITIZENS = ("citizen1", "citizen2")
# 无犯罪记录证明开具: the ID card comes from the license registry and every field is prefilled.
# Tried first; any personal matter the citizens can submit at once will do.
PREFERRED = ("20P003000013",)
PG_URL = os.environ.get(
    "TONGBAN_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
JSON = {"accept": "application/json"}  # as an app sends: errors as problem+json, not pages
RUNNER = Path(__file__).resolve().parent / "support" / "bench_app.py"

# A valid value, by type, for a required field that the registries leave empty.
FILLERS: dict[str, Any] = {
    "string": "基准测试",
    "text": "基准测试",
    "address": "上海市浦东新区世纪大道100号",
    "integer": 1,
    "decimal": "100.00",
    "boolean": True,
    "date": "2026-01-05",
    "id_number": "11010519491231002X",
    "uscc": "91310115MA10000015",
    "phone": "13800138000",
    "postal_code": "200120",
}


@dataclass(frozen=True)
class Server:
    base: str
    pid: int
    log: Path

    def cpu_seconds(self) -> float | None:
        """User and system CPU time of the server process so far (Linux), None elsewhere."""
        try:
            stat = Path(f"/proc/{self.pid}/stat").read_text()
        except OSError:
            return None
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Matter:
    code: str
    name: str
    forms: list[dict[str, Any]]  # one per citizen, in the order of CITIZENS
    filled: list[str]  # required fields left empty by the registries, filled in here


@dataclass
class Run:
    label: str
    expect: int
    latencies: list[float] = field(default_factory=list)
    answers: Counter[int] = field(default_factory=Counter)  # status; 0: no answer
    seconds: float = 0.0
    cut_short: str = ""  # why it stopped before all its requests: "time" or "failures"
    server_cpu: float | None = None  # cores
    client_cpu: float = 0.0  # cores
    samples: dict[int, str] = field(default_factory=dict)  # the first answer of each other status

    @property
    def ok(self) -> int:
        return self.answers[self.expect]

    @property
    def failed(self) -> int:
        return sum(self.answers.values()) - self.ok

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def percentile_ms(self, p: int) -> float:
        if len(self.latencies) < 2:
            return self.latencies[0] * 1000 if self.latencies else float("nan")
        cuts = statistics.quantiles(self.latencies, n=100, method="inclusive")
        return cuts[p - 1] * 1000


Send = Callable[[int, httpx.AsyncClient], Awaitable[httpx.Response]]


def subprocess_env(url: str, folder: Path, **overrides: str) -> dict[str, str]:
    """The settings of the demo and the server: this database, uploads in `folder`, logins
    not limited, none of the caller's own TONGBAN_ settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TONGBAN_")}
    return {
        **env,
        "TONGBAN_DATABASE_URL": url,
        "TONGBAN_FILES_DIR": str(folder / "files"),
        "TONGBAN_LOGIN_RATE_PER_MINUTE": "10000",
        "TONGBAN_REQUIRE_STAFF_OTP": "false",
        **overrides,
    }


def make_demo(env: dict[str, str]) -> None:
    """`tongban demo --no-serve` on the database of TONGBAN_DATABASE_URL."""
    done = subprocess.run(
        [sys.executable, "-m", "tongban", "demo", "--no-serve"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"tongban demo failed:\n{done.stdout}{done.stderr}")


@contextmanager
def bench_server(env: dict[str, str], log: Path) -> Iterator[Server]:
    """The bench app (the product's app plus /bench/insert) in a process of its own."""
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, str(RUNNER), "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Server(f"http://127.0.0.1:{port}", proc.pid, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the server stopped with {proc.returncode}:\n{log_tail(log)}")
            try:
                if httpx.get(server.base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not answer in 60 s:\n{log_tail(log)}")
            time.sleep(0.1)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def log_tail(log: Path, lines: int = 20) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def personal_matters(base: str) -> list[str]:
    codes: list[str] = []
    page = 1
    while True:
        r = httpx.get(
            base + "/api/v1/matters", params={"audience": "person", "size": 100, "page": page}
        )
        r.raise_for_status()
        items = r.json()["items"]
        codes += [m["code"] for m in items]
        if len(items) < 100:
            return codes
        page += 1


def form_for(base: str, auth: dict[str, str], code: str) -> tuple[dict[str, Any], list[str]] | None:
    """The form to send for `code` as this citizen, or None when a required material still needs
    uploading or a required empty field is of a type we have no value for."""
    r = httpx.get(f"{base}/api/v1/matters/{code}/form", headers={**auth, **JSON})
    if r.status_code != 200:
        return None
    body = r.json()
    if any(m["required"] and m["resolution"] == "upload" for m in body["materials"]):
        return None
    form: dict[str, Any] = {}
    filled: list[str] = []
    for f in body["fields"]:
        if f["value"] not in (None, ""):
            form[f["key"]] = f["value"]
        elif f["required"]:
            value = (f["options"] or [None])[0] if f["type"] == "enum" else FILLERS.get(f["type"])
            if value is None:
                return None
            form[f["key"]] = value
            filled.append(f["key"])
    return form, filled


def submit_body(code: str, form: dict[str, Any]) -> dict[str, Any]:
    return {"matter": code, "form": form, "channel": "app"}


def idempotency() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


def choose_matter(server: Server, auths: list[dict[str, str]]) -> tuple[Matter, int]:
    """The first matter, of PREFERRED and then of the catalog's personal ones, that every
    citizen can submit now: no required material to upload, and one case each accepted (201)
    by the server. Returns it and the number of cases those trials created."""
    base = server.base
    created = 0
    candidates = [*PREFERRED, *(c for c in personal_matters(base) if c not in PREFERRED)]
    for code in candidates:
        found = [form_for(base, auth, code) for auth in auths]
        if any(f is None for f in found):
            continue
        forms = [f[0] for f in found if f is not None]
        filled = sorted({k for f in found if f is not None for k in f[1]})
        name = ""
        for auth, form in zip(auths, forms, strict=True):
            r = httpx.post(
                base + "/api/v1/cases",
                json=submit_body(code, form),
                headers={**auth, **JSON, **idempotency()},
            )
            if r.status_code >= 500:
                raise RuntimeError(
                    f"{code}: {r.status_code} {r.text[:200]}\n{log_tail(server.log)}"
                )
            if r.status_code != 201:
                print(f"  ({code} refused: {r.status_code} {r.text[:200]})")
                break
            created += 1
            name = r.json()["matter_name"]
        else:
            return Matter(code, name, forms, filled), created
    raise RuntimeError("no personal matter that the demo citizens can submit straight away")


async def drive(
    server: Server,
    clients: list[httpx.AsyncClient],
    label: str,
    expect: int,
    total: int,
    send: Send,
    limit: float,
) -> Run:
    """`total` requests from all the clients at once, each sending its next when answered;
    none sent after `limit` seconds or MAX_FAILURES failures (those in flight are waited for)."""
    run = Run(label, expect)
    left = total
    stop = time.perf_counter() + limit

    async def client(i: int, c: httpx.AsyncClient) -> None:
        nonlocal left
        while left > 0:
            if time.perf_counter() > stop:
                run.cut_short = run.cut_short or "time"
                return
            if run.failed >= MAX_FAILURES:
                run.cut_short = run.cut_short or "failures"
                return
            left -= 1
            start = time.perf_counter()
            try:
                r = await send(i, c)
                status = r.status_code
                if status != expect:
                    run.samples.setdefault(status, " ".join(r.text.split())[:160])
            except httpx.HTTPError as exc:
                status = 0
                run.samples.setdefault(0, f"no answer: {type(exc).__name__}: {exc}"[:160])
            run.latencies.append(time.perf_counter() - start)
            run.answers[status] += 1

    server_cpu, client_cpu = server.cpu_seconds(), time.process_time()
    began = time.perf_counter()
    await asyncio.gather(*(client(i, c) for i, c in enumerate(clients)))
    run.seconds = time.perf_counter() - began
    run.client_cpu = (time.process_time() - client_cpu) / run.seconds
    server_cpu_after = server.cpu_seconds()
    if server_cpu is not None and server_cpu_after is not None:
        run.server_cpu = (server_cpu_after - server_cpu) / run.seconds
    return run


async def measure(
    server: Server, auths: list[dict[str, str]], matter: Matter
) -> tuple[list[Run], list[Run]]:
    """Warm-up and timed runs of submit, bare insert and /healthz, on one set of clients."""
    clients = [
        httpx.AsyncClient(
            base_url=server.base,
            headers={**auths[i % len(auths)], **JSON},
            timeout=60,
            limits=httpx.Limits(max_connections=1),
        )
        for i in range(CLIENTS)
    ]

    async def submit(i: int, c: httpx.AsyncClient) -> httpx.Response:
        form = matter.forms[i % len(matter.forms)]
        return await c.post(
            "/api/v1/cases", json=submit_body(matter.code, form), headers=idempotency()
        )

    async def bare_insert(_i: int, c: httpx.AsyncClient) -> httpx.Response:
        return await c.post("/bench/insert")

    async def health(_i: int, c: httpx.AsyncClient) -> httpx.Response:
        return await c.get("/healthz")

    kinds: list[tuple[str, int, int, Send]] = [
        ("submit case (POST /api/v1/cases)", 201, SUBMISSIONS, submit),
        ("ceiling: bare insert (POST /bench/insert)", 201, INSERTS, bare_insert),
        ("ceiling: GET /healthz", 200, HEALTH_CHECKS, health),
    ]
    try:
        warm = [await drive(server, clients, *k[:2], WARM_UP, k[3], WARM_UP_LIMIT) for k in kinds]
        timed = [await drive(server, clients, *k, TIMED_LIMIT) for k in kinds]
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    return warm, timed


def count(url: str, table: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.scalar(text(f"SELECT count(*) FROM {table}")) or 0)
    finally:
        engine.dispose()


def bench_database(title: str, url: str, folder: Path, **env: str) -> Run:
    """Make a demo database at `url`, serve it, measure, check, print. Returns the timed
    submissions."""
    environment = subprocess_env(url, folder, **env)
    began = time.perf_counter()
    make_demo(environment)
    print(f"\n{title}: demo database made in {time.perf_counter() - began:.1f} s")
    cases_before = count(url, "cases")
    log = folder / "server.log"
    with bench_server(environment, log) as server:
        auths = [login(server.base, u) for u in CITIZENS]
        matter, tried = choose_matter(server, auths)
        filled = f"; filled in: {', '.join(matter.filled)}" if matter.filled else ""
        print(f"  matter {matter.code} {matter.name} (no required upload{filled})")
        warm, timed = asyncio.run(measure(server, auths, matter))
    print_table(title, timed)

    submitted = tried + warm[0].ok + timed[0].ok
    cases = count(url, "cases") - cases_before
    check = "ok" if cases == submitted else "MISMATCH"
    print(
        f"  cases in the database: {cases:,}; 201s answered: {submitted:,} ({tried} trial, "
        f"{warm[0].ok} warm-up, {timed[0].ok:,} timed): {check}"
    )
    inserted = warm[1].ok + timed[1].ok
    rows = count(url, "bench_rows")
    check = "ok" if rows == inserted else "MISMATCH"
    print(f"  bench rows in the database: {rows:,}; 201s answered: {inserted:,}: {check}")
    for stage, runs in (("warm-up", warm), ("timed", timed)):
        for run in runs:
            if run.cut_short and stage == "warm-up":
                print(f"  {run.label} (warm-up): cut short ({run.cut_short})")
            if run.failed:
                print(f"  {run.label} ({stage}): {run.failed} other answers")
                for status, sample in sorted(run.samples.items()):
                    print(f"    {run.answers[status]:>6} x {status}, first: {sample}")
    errors = server_errors(log)
    if errors:
        print(f"  server log: {sum(errors.values())} unhandled errors:")
        for error, n in errors.most_common():
            print(f"    {n:>6} {error}")
    print(f"  {day(timed[0])} (one server process; Shanghai's cases of a day)")
    return timed[0]


def day(run: Run) -> str:
    """How long Shanghai's cases of a day take at the run's rate."""
    if not run.rate:
        return f"{CASES_PER_DAY:,} cases: never (no case submitted)"
    failed = f", {run.failed} of {len(run.latencies):,} failed" if run.failed else ""
    minutes = CASES_PER_DAY / run.rate / 60
    return f"{CASES_PER_DAY:,} cases: {minutes:,.1f} min at {run.rate:.0f}/s{failed}"


def server_errors(log: Path) -> Counter[str]:
    """The exceptions behind the server's 500s, from its log: the last exception line of the
    traceback that follows each "unhandled error" line."""
    found: Counter[str] = Counter()
    last: str | None = None
    inside = False
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith(("INFO:", "ERROR:", "WARNING:")):
            if inside and last:
                found[last[:160]] += 1
            inside, last = "unhandled error" in line, None
        elif inside and re.match(r"^[A-Za-z_][\w.]*: ", line):
            last = line
    if inside and last:
        found[last[:160]] += 1
    return found


def print_table(title: str, runs: list[Run]) -> None:
    print(f"  {title}: one server process, {CLIENTS} concurrent clients")
    print(
        f"  {'operation':<46}{'requests':>9}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}"
        f"{'failed':>8}{'server CPU':>12}{'client CPU':>12}"
    )
    for run in runs:
        server_cpu = f"{run.server_cpu:.2f}" if run.server_cpu is not None else "-"
        label = run.label + (" *" if run.cut_short else "")
        print(
            f"  {label:<46}{len(run.latencies):>9,}{run.rate:>8.0f}"
            f"{run.percentile_ms(50):>8.1f}{run.percentile_ms(99):>8.1f}{run.failed:>8}"
            f"{server_cpu:>12}{run.client_cpu:>12.2f}"
        )
    if any(run.cut_short for run in runs):
        print(
            f"  * cut short: no request sent after {TIMED_LIMIT:.0f} s or {MAX_FAILURES} failures"
        )
    submit, insert, health = runs
    if insert.rate and health.rate:
        print(
            f"  submit case at {submit.rate / insert.rate:.2f} of the bare insert's rate and "
            f"{submit.rate / health.rate:.2f} of /healthz's"
        )


def bench_sqlite(folder: Path) -> Run:
    return bench_database("SQLite (file, WAL)", sqlite_url(folder / "cases.db"), folder)


def bench_postgres(folder: Path) -> Run | None:
    server_url = make_url(PG_URL)
    admin = server_url.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        import psycopg

        with psycopg.connect(admin, autocommit=True, connect_timeout=3):
            pass
    except Exception as exc:
        where = server_url.render_as_string(hide_password=True)
        print(f"\nPostgreSQL: skipped, no server at {where} ({type(exc).__name__}: {exc})")
        return None
    name = f"tongban_bench_cases_{os.getpid()}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = server_url.set(database=name).render_as_string(hide_password=False)
        # A PostgreSQL demo has no file to keep its KEK beside: it is given one for the run.
        kek = base64.b64encode(os.urandom(32)).decode()
        return bench_database("PostgreSQL", url, folder, TONGBAN_KEK=kek)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    # Stopped from outside, still stop the servers and drop the PostgreSQL database.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
    print(
        f"{SUBMISSIONS:,} submissions, {INSERTS:,} bare inserts and {HEALTH_CHECKS:,} health "
        f"checks per database after {WARM_UP} of each, from {CLIENTS} concurrent clients; "
        "req/s counts the expected answers only (201, 200), latencies all answers"
    )
    results: dict[str, Run | None] = {}
    broken = False
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        benches: list[tuple[str, Callable[[Path], Run | None]]] = [
            ("SQLite", bench_sqlite),
            ("PostgreSQL", bench_postgres),
        ]
        for name, bench in benches:
            (folder / name).mkdir()
            try:
                results[name] = bench(folder / name)
            except Exception as exc:  # the other database is still worth measuring
                print(f"\n{name}: the bench failed: {type(exc).__name__}: {exc}")
                broken = True
    print(f"\n{CASES_PER_DAY:,} cases a day (Shanghai), one server process:")
    for name, run in results.items():
        if run is not None:
            print(f"  {name:<12}{day(run)}")
    if broken:
        sys.exit(1)


if __name__ == "__main__":
    main()
