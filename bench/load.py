"""Load: a realistic mix of citizens' and reviewers' requests against API processes behind nginx
on PostgreSQL, with 1 and then 2 processes, next to ceilings measured in the same run.

The deployment is production-shaped: `tongban serve` processes (one per port, the same database
and KEK), the pre-review worker (submissions queue pre-reviews), and nginx in front with the
configuration of `deploy/nginx/tongban.conf` rendered for a local prefix (support/nginx.py).
The database is a demo database (`tongban demo`) made on the local PostgreSQL server, with one
citizen account per virtual user (real-name verified, ID card and household register in the
license registry), reviewers of the departments the load's cases go to, and a backlog of
submitted cases so that the reviewers' queues are not empty. Each configuration runs on its own
copy of that database (`CREATE DATABASE … TEMPLATE`), so both start from the same state; every
database is dropped at the end, every process group stopped, also on failure.

Virtual users log in once each (argon2, through nginx), from an address of their own on
127.0.0.0/8 as people come from addresses of their own, and then loop without pause for a fixed
time. Citizens pick by weight: catalog searches (varied Chinese queries), guide views, 随申码
(the citizen issues a code, a hotel's or metro gate's scanner account scans it), applications
(the prefilled form, then `POST /api/v1/cases` with an Idempotency-Key), status checks (my
cases, one of my cases). Reviewers take their queue (nearest deadline first), open a case and
move it on (accept, start_review, approve — approval issues the matter's license).

Prints, per configuration: per operation the requests, req/s, p50 and p99 latency and the
answers other than the expected one by status; the whole mix's throughput; the ceilings
(`/healthz` through nginx, straight to the processes, and nginx answering alone); the CPU used
by the API processes, the worker, nginx, PostgreSQL and this client; the cases in the database
against the 201s; unhandled errors in the processes' logs. Then how throughput grew from 1 to 2
processes.

Needs nginx (`apt-get install -y --no-install-recommends nginx`) and a PostgreSQL server
(`TONGBAN_BENCH_DATABASE_URL`, default the local one); without either it says so and exits 0.
Run: `python bench/load.py [--duration 30 --users 32 --reviewers 4 --processes 1 2]`.
"""

# Each request is a lambda awaited at once by call(), inside the loop turn that made it.
# ruff: noqa: B023

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import random
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from support import deployment as d
from support import nginx as ngx
from support.loadseed import add_citizens, add_reviewers, ensure_next_year
from support.server import free_port
from tongban.db import make_engine
from tongban.portal.rendering import STATIC_DIR
from tongban.settings import Settings

PG_URL = os.environ.get(
    "TONGBAN_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
PASSWORD = "Demo@2026"
JSON = {"accept": "application/json"}
# What the deployment is given beyond the defaults, and why:
SETTINGS = {
    # Staff log in without an authenticator app (as in `tongban demo`): the reviewers are
    # virtual users.
    "TONGBAN_REQUIRE_STAFF_OTP": "false",
    # 20 codes a minute per account: a person asks for one a minute; a virtual user stands for
    # many people one after another and asks for several a second.
    "TONGBAN_CODE_RATE_PER_MINUTE": "10000",
}
# Logins stay at 20 a minute per client address (the default): each virtual user logs in once,
# from an address of its own.

# Personal matters the load's citizens apply for, tried in order: no required material to
# upload for a citizen with an ID card and household register, every field prefilled or
# fillable, a short promised time. The first MATTERS that qualify are used.
PREFERRED = (
    "20P003000013",  # 无犯罪记录证明开具 (公安; issues a license on approval)
    "20P008000003",  # 个人所得税综合所得年度汇算 (税务)
    "07P003000006",  # 居民身份证换领、补领 (公安)
    "20P004000010",  # 社会保险待遇领取资格认证 (人社)
    "07P005000001",  # 城乡居民基本医疗保险参保登记 (医保)
    "20P004000001",  # 社会保障卡申领
)
MATTERS = 4
FILLERS: dict[str, Any] = {
    "string": "压力测试",
    "text": "压力测试",
    "address": "上海市浦东新区世纪大道100号",
    "integer": 2025,
    "decimal": "100.00",
    "boolean": True,
    "date": "2026-01-05",
    "phone": "13800138000",
    "postal_code": "200120",
}
QUERIES = [
    "生孩子", "出生医学证明", "开便利店", "办居住证", "退休", "领养老金", "上户口",
    "食品经营许可", "公司注册", "结婚登记", "护照", "医保", "社保卡", "公积金提取", "开餐馆",
    "健身房", "宾馆", "药店", "营业执照", "残疾人证", "失业金", "居住证积分", "新生儿",
    "无犯罪记录证明", "身份证丢了怎么补", "个税汇算", "港澳通行证", "异地就医备案", "养老保险转移",
    "灵活就业", "离婚", "低保", "长护险", "租房提取公积金", "驾驶证换证",
]  # fmt: skip
SCANNERS = (("hotel1", "hotel"), ("metro1", "metro"))
CITIZEN_MIX = {
    "search": 34,
    "guide": 24,
    "code": 14,  # issue + scan
    "apply": 8,  # form + submit
    "my cases": 10,
    "a case": 10,
}
OPERATIONS = [
    # name, expected status
    ("search  GET /matters?q=", 200),
    ("guide  GET /matters/{code}", 200),
    ("code: issue  POST /me/code", 200),
    ("code: scan  POST /scenes/{s}/scan", 200),
    ("apply: form  GET /matters/{code}/form", 200),
    ("apply: submit  POST /cases", 201),
    ("status: my cases  GET /me/cases", 200),
    ("status: a case  GET /cases/{id}", 200),
    ("review: queue  GET /cases/queue", 200),
    ("review: open  GET /cases/{id}", 200),
    ("review: move  POST /cases/{id}/transitions", 200),
]
EXPECT = dict(OPERATIONS)
SEARCH, GUIDE, ISSUE, SCAN, FORM, SUBMIT, MINE, ONE, QUEUE, OPEN, MOVE = (n for n, _ in OPERATIONS)
REVIEW_ACTIONS = ("approve", "start_review", "accept")  # the furthest step allowed is taken


# ---------------------------------------------------------------------------------------------
# Counting
# ---------------------------------------------------------------------------------------------


@dataclass
class Op:
    latencies: list[float] = field(default_factory=list)
    answers: Counter[str] = field(default_factory=Counter)  # "201", "409", "no answer" …
    samples: dict[str, str] = field(default_factory=dict)

    def ok(self, expect: int) -> int:
        return self.answers[str(expect)]

    def errors(self, expect: int) -> int:
        return sum(self.answers.values()) - self.ok(expect)


def pct(values: list[float], p: int) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0] * 1000
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1] * 1000


@dataclass
class Tally:
    ops: dict[str, Op] = field(default_factory=lambda: {n: Op() for n, _ in OPERATIONS})
    window: tuple[float, float] = (0.0, 0.0)  # requests counted: started and ended inside
    created: int = 0  # every 201 of a submission, warm-up included
    created_ids: set[int] = field(default_factory=set)

    def record(self, op: str, began: float, ended: float, status: str, sample: str = "") -> None:
        if not (self.window[0] <= began and ended <= self.window[1]):
            return
        o = self.ops[op]
        o.latencies.append(ended - began)
        o.answers[status] += 1
        if status != str(EXPECT[op]) and sample:
            o.samples.setdefault(status, " ".join(sample.split())[:160])


async def call(
    tally: Tally, op: str, send: Callable[[], Awaitable[httpx.Response]]
) -> httpx.Response | None:
    began = time.perf_counter()
    try:
        r = await send()
    except httpx.HTTPError as exc:
        tally.record(op, began, time.perf_counter(), "no answer", f"{type(exc).__name__}: {exc}")
        return None
    ended = time.perf_counter()
    status = str(r.status_code)
    if op == SCAN and r.status_code == 200 and not r.json().get("valid"):
        status = "200 invalid"  # a wrong answer: the code was just issued
    tally.record(op, began, ended, status, r.text)
    return r


# ---------------------------------------------------------------------------------------------
# Virtual users
# ---------------------------------------------------------------------------------------------


def address(i: int) -> str:
    """The i-th virtual user's own client address on loopback (127.0.1.1, 127.0.1.2, …)."""
    return f"127.0.{1 + i // 250}.{1 + i % 250}"


def client(base: str, i: int, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(
        local_address=address(i), limits=httpx.Limits(max_connections=1)
    )
    return httpx.AsyncClient(
        base_url=base, transport=transport, timeout=60, headers={**JSON, **(headers or {})}
    )


async def log_in(c: httpx.AsyncClient, username: str) -> tuple[dict[str, str], float]:
    began = time.perf_counter()
    r = await c.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    took = time.perf_counter() - began
    if r.status_code != 200:
        raise RuntimeError(f"log in as {username}: {r.status_code} {r.text[:200]}")
    return {"authorization": "Bearer " + r.json()["access_token"]}, took


def filled(form: dict[str, Any]) -> dict[str, Any] | None:
    """The form to send: what the platform prefilled, a value for each other required field;
    None when a required material must still be uploaded or a field has no value here."""
    if any(m["required"] and m["resolution"] == "upload" for m in form["materials"]):
        return None
    values: dict[str, Any] = {}
    for f in form["fields"]:
        if f["value"] not in (None, ""):
            values[f["key"]] = f["value"]
        elif f["required"]:
            value = (f["options"] or [None])[0] if f["type"] == "enum" else FILLERS.get(f["type"])
            if value is None:
                return None
            values[f["key"]] = value
    return values


@dataclass
class World:
    """What the virtual users share: the catalog's codes, the matters applied for, the
    scanners' tokens, the clock."""

    guides: list[str]
    matters: list[str]
    scanners: list[tuple[dict[str, str], str]]  # (authorization, scene)
    stop: float = 0.0


async def citizen(
    world: World,
    tally: Tally,
    c: httpx.AsyncClient,
    desk: httpx.AsyncClient,
    rng: random.Random,
) -> None:
    r = await c.get("/api/v1/me/cases")
    mine: list[int] = [case["id"] for case in r.json()] if r.status_code == 200 else []
    kinds, weights = list(CITIZEN_MIX), list(CITIZEN_MIX.values())
    while time.perf_counter() < world.stop:
        kind = rng.choices(kinds, weights)[0]
        if kind == "a case" and not mine:
            kind = "my cases"
        if kind == "search":
            params: dict[str, Any] = {"q": rng.choice(QUERIES), "size": 10}
            if rng.random() < 0.2:
                params["audience"] = "person"
            await call(tally, SEARCH, lambda: c.get("/api/v1/matters", params=params))
        elif kind == "guide":
            code = rng.choice(world.guides)
            await call(tally, GUIDE, lambda: c.get(f"/api/v1/matters/{code}"))
        elif kind == "code":
            r = await call(tally, ISSUE, lambda: c.post("/api/v1/me/code"))
            if r is not None and r.status_code == 200:
                token = r.json()["token"]
                auth, scene = rng.choice(world.scanners)
                await call(
                    tally,
                    SCAN,
                    lambda: desk.post(
                        f"/api/v1/scenes/{scene}/scan", json={"token": token}, headers=auth
                    ),
                )
        elif kind == "apply":
            code = rng.choice(world.matters)
            r = await call(tally, FORM, lambda: c.get(f"/api/v1/matters/{code}/form"))
            form = filled(r.json()) if r is not None and r.status_code == 200 else None
            if form is not None:
                body = {"matter": code, "form": form, "channel": "app"}
                key = {"Idempotency-Key": uuid.uuid4().hex}
                r = await call(
                    tally, SUBMIT, lambda: c.post("/api/v1/cases", json=body, headers=key)
                )
                if r is not None and r.status_code == 201:
                    tally.created += 1
                    tally.created_ids.add(r.json()["id"])
                    mine.append(r.json()["id"])
        elif kind == "my cases":
            r = await call(tally, MINE, lambda: c.get("/api/v1/me/cases"))
            if r is not None and r.status_code == 200:
                mine = [case["id"] for case in r.json()]
        else:
            case_id = rng.choice(mine)
            await call(tally, ONE, lambda: c.get(f"/api/v1/cases/{case_id}"))


async def reviewer(world: World, tally: Tally, c: httpx.AsyncClient, rng: random.Random) -> None:
    while time.perf_counter() < world.stop:
        r = await call(tally, QUEUE, lambda: c.get("/api/v1/cases/queue"))
        if r is None or r.status_code != 200:
            continue
        # Nearest deadline first; reviewers of one department take one of the first few, so
        # they seldom reach for the same case.
        ready = [
            case for case in r.json()[:10] if set(case["allowed_actions"]) & set(REVIEW_ACTIONS)
        ]
        if not ready:
            await asyncio.sleep(0.5)  # an empty queue: the reviewer waits for work
            continue
        case_id = rng.choice(ready)["id"]
        r = await call(tally, OPEN, lambda: c.get(f"/api/v1/cases/{case_id}"))
        if r is None or r.status_code != 200:
            continue
        allowed = set(r.json()["allowed_actions"])
        action = next((a for a in REVIEW_ACTIONS if a in allowed), None)
        if action is not None:
            await call(
                tally,
                MOVE,
                lambda: c.post(f"/api/v1/cases/{case_id}/transitions", json={"action": action}),
            )


# ---------------------------------------------------------------------------------------------
# One configuration
# ---------------------------------------------------------------------------------------------


@dataclass
class Ceiling:
    label: str
    requests: int
    seconds: float
    latencies: list[float]
    failed: int

    @property
    def rate(self) -> float:
        return (self.requests - self.failed) / self.seconds if self.seconds else 0.0


@dataclass
class Result:
    processes: int
    seconds: float
    tally: Tally
    logins: list[float]
    ceilings: list[Ceiling]
    cpu: dict[str, float]  # cores, during the mix
    checks: list[str]

    @property
    def answered(self) -> int:
        return sum(len(o.latencies) for o in self.tally.ops.values())

    @property
    def ok(self) -> int:
        return sum(o.ok(EXPECT[n]) for n, o in self.tally.ops.items())


async def ceiling(label: str, urls: list[str], seconds: float, users: int) -> Ceiling:
    # Each URL is a base and a path: the client is given the base, each request the path.
    split = [u.split("/", 3) for u in urls]
    clients = [client("/".join(split[i % len(split)][:3]), 1000 + i) for i in range(users)]
    path = "/" + split[0][3]
    latencies: list[float] = []
    failed = 0
    stop = time.perf_counter() + seconds

    async def loop(c: httpx.AsyncClient) -> None:
        nonlocal failed
        while time.perf_counter() < stop:
            began = time.perf_counter()
            try:
                r = await c.get(path)
                failed += r.status_code != 200
            except httpx.HTTPError:
                failed += 1
            latencies.append(time.perf_counter() - began)

    began = time.perf_counter()
    try:
        await asyncio.gather(*(loop(c) for c in clients))
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    return Ceiling(label, len(latencies), time.perf_counter() - began, latencies, failed)


async def drive(
    dep: d.Deployment,
    citizens: list[str],
    reviewers: list[str],
    world: World,
    args: argparse.Namespace,
) -> Result:
    tally = Tally()
    n = len(citizens) + len(reviewers)
    clients = [client(dep.base, i) for i in range(n)]
    desks = [client(dep.base, 500 + i) for i in range(len(citizens))]
    try:
        scanner_clients = [client(dep.base, 900 + i) for i in range(len(SCANNERS))]
        world.scanners = []
        for sc, (username, scene) in zip(scanner_clients, SCANNERS, strict=True):
            auth, _ = await log_in(sc, username)
            world.scanners.append((auth, scene))
            await sc.aclose()
        logged = await asyncio.gather(
            *(log_in(c, u) for c, u in zip(clients, [*citizens, *reviewers], strict=True))
        )
        for c, (auth, _) in zip(clients, logged, strict=True):
            c.headers.update(auth)
        logins = [took for _, took in logged]
        rng = random.Random(2026)
        began = time.perf_counter()
        world.stop = began + args.warmup + args.duration
        tally.window = (began + args.warmup, world.stop)
        jobs: list[Coroutine[Any, Any, None]] = [
            citizen(world, tally, clients[i], desks[i], random.Random(rng.random()))
            for i in range(len(citizens))
        ]
        jobs += [
            reviewer(world, tally, clients[len(citizens) + i], random.Random(rng.random()))
            for i in range(len(reviewers))
        ]

        async def measure_cpu() -> dict[str, float]:
            await asyncio.sleep(max(0.0, tally.window[0] - time.perf_counter()))
            before, t0 = dep.cpu(), time.perf_counter()
            await asyncio.sleep(max(0.0, tally.window[1] - time.perf_counter()))
            after, t1 = dep.cpu(), time.perf_counter()
            return {k: (after[k] - before[k]) / (t1 - t0) for k in before}

        cpu_job = asyncio.ensure_future(measure_cpu())
        await asyncio.gather(*jobs)
        cpu = await cpu_job
    finally:
        await asyncio.gather(*(c.aclose() for c in [*clients, *desks]))
    ceilings = []
    users = n
    if dep.proxy is not None:
        ceilings.append(
            await ceiling(
                "ceiling: nginx alone  GET /nginx-healthz",
                [dep.base + "/nginx-healthz"],
                args.ceiling,
                users,
            )
        )
        ceilings.append(
            await ceiling(
                "ceiling: through nginx  GET /healthz",
                [dep.base + "/healthz"],
                args.ceiling,
                users,
            )
        )
    ceilings.append(
        await ceiling(
            "ceiling: straight to the processes  GET /healthz",
            [dep.direct(i) + "/healthz" for i in range(len(dep.api))],
            args.ceiling,
            users,
        )
    )
    return Result(len(dep.api), args.duration, tally, logins, ceilings, cpu, [])


def count_cases(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.scalar(text("SELECT count(*) FROM cases")) or 0)
    finally:
        engine.dispose()


def run_configuration(
    n: int,
    url: str,
    env: dict[str, str],
    folder: Path,
    citizens: list[str],
    reviewers: list[str],
    world: World,
    args: argparse.Namespace,
    nginx_binary: str,
    settings: Settings,
) -> Result:
    local = ngx.Local(
        listen_port=free_port(),
        backends=[free_port() for _ in range(n)],
        prefix=folder / "nginx",
        static_dir=Path(STATIC_DIR),
        max_upload_mb=settings.max_upload_mb,
        federation_max_message_mb=settings.federation_max_message_mb,
        workers=args.nginx_workers,
    )
    before = count_cases(url)
    with d.deploy(env, folder, n, proxy=local, nginx_binary=nginx_binary) as dep:
        result = run_async(drive(dep, citizens, reviewers, world, args))
        checks = result.checks
        r = httpx.post(dep.base + "/api/v1/federation/messages", json={}, headers=JSON)
        checks.append(
            f"federation endpoint from a non-peer address through nginx: {r.status_code}"
            + (" (refused by nginx: ok)" if r.status_code == 403 else " (NOT refused)")
        )
        r = httpx.get(dep.base + "/static/css/tongban.css")
        checks.append(
            f"static file through nginx: {r.status_code}, served by "
            + ("nginx" if "expires" in r.headers else "the application")
        )
        logs = dep.logs()
    made = count_cases(url) - before
    checks.append(
        f"cases made in the database: {made:,}; 201s answered: {result.tally.created:,}: "
        + ("ok" if made == result.tally.created else "MISMATCH")
    )
    errors: Counter[str] = Counter()
    for log in logs:
        errors += d.server_errors(log)
    if errors:
        checks.append(f"unhandled errors in the processes' logs: {sum(errors.values())}")
        checks += [f"  {k:>5} x {e}" for e, k in errors.most_common(8)]
    else:
        checks.append("unhandled errors in the processes' logs: none")
    return result


def run_async(coro: Coroutine[Any, Any, Result]) -> Result:
    try:
        import uvloop  # the client's own CPU is part of the machine's: spend less of it

        return uvloop.run(coro)
    except ImportError:
        return asyncio.run(coro)


# ---------------------------------------------------------------------------------------------
# The database and its people
# ---------------------------------------------------------------------------------------------


def make_seed(
    dbs: d.Databases,
    env_for: Callable[[str], dict[str, str]],
    folder: Path,
    args: argparse.Namespace,
) -> tuple[str, list[str], list[str], World]:
    """The demo database with the load's people and backlog; its name, the citizens' and
    reviewers' usernames, and what the virtual users share."""
    import subprocess

    name = dbs.create("seed")
    url = dbs.url(name)
    env = env_for(url)
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "tongban", "demo", "--no-serve"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"tongban demo failed:\n{done.stdout}{done.stderr}")
    settings = Settings(
        database_url=url, kek=env["TONGBAN_KEK"], files_dir=Path(env["TONGBAN_FILES_DIR"])
    )
    citizens = add_citizens(settings, "load", args.users - args.reviewers)
    year = ensure_next_year(settings)
    print(
        f"demo database made and {len(citizens)} citizens added in "
        f"{time.perf_counter() - began:.1f} s"
        + (f"; calendar year {year} entered (only 元旦)" if year else "")
    )
    with d.deploy(env, folder / "seed", 1, worker=False) as dep:
        guides, matters, departments = asyncio.run(survey(dep.base, citizens[0]))
        reviewers = add_reviewers(
            settings, "loadrev-", [departments[i % len(departments)] for i in range(args.reviewers)]
        )
        made = asyncio.run(backlog(dep.base, citizens, matters, args.backlog))
    print(
        f"matters applied for: {', '.join(matters)} (departments {', '.join(departments)}); "
        f"{len(reviewers)} reviewers; backlog: {made} submitted cases"
    )
    return name, citizens, reviewers, World(guides, matters, [])


async def survey(base: str, username: str) -> tuple[list[str], list[str], list[str]]:
    async with client(base, 990) as c:
        auth, _ = await log_in(c, username)
        c.headers.update(auth)
        guides: list[str] = []
        page = 1
        while True:
            r = await c.get("/api/v1/matters", params={"size": 100, "page": page})
            items = r.json()["items"]
            guides += [m["code"] for m in items]
            if len(items) < 100:
                break
            page += 1
        matters: list[str] = []
        departments: list[str] = []
        for code in PREFERRED:
            r = await c.get(f"/api/v1/matters/{code}/form")
            if r.status_code != 200 or filled(r.json()) is None:
                continue
            matters.append(code)
            department = (await c.get(f"/api/v1/matters/{code}")).json()["department"]["code"]
            if department not in departments:
                departments.append(department)
            if len(matters) == MATTERS:
                break
    if not matters:
        raise RuntimeError("no matter in PREFERRED that the load's citizens can apply for")
    return guides, matters, departments


async def backlog(base: str, citizens: list[str], matters: list[str], each: int) -> int:
    made = 0

    async def one(i: int, username: str) -> None:
        nonlocal made
        async with client(base, i) as c:
            auth, _ = await log_in(c, username)
            c.headers.update(auth)
            for k in range(each):
                code = matters[(i + k) % len(matters)]
                form = filled((await c.get(f"/api/v1/matters/{code}/form")).json())
                body = {"matter": code, "form": form, "channel": "app"}
                key = {"Idempotency-Key": uuid.uuid4().hex}
                r = await c.post("/api/v1/cases", json=body, headers=key)
                if r.status_code != 201:
                    raise RuntimeError(f"backlog case: {r.status_code} {r.text[:200]}")
                made += 1

    await asyncio.gather(*(one(i, u) for i, u in enumerate(citizens)))
    return made


# ---------------------------------------------------------------------------------------------
# Printing
# ---------------------------------------------------------------------------------------------


def print_result(res: Result, cores: int) -> None:
    t = res.tally
    print(
        f"\n{res.processes} API process{'es' if res.processes > 1 else ''} behind nginx, "
        f"PostgreSQL; {res.seconds:.0f} s of the mix"
    )
    print(f"  {'operation':<46}{'requests':>9}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}  errors")
    for name, expect in OPERATIONS:
        o = t.ops[name]
        errors = ", ".join(f"{k} x{v}" for k, v in sorted(o.answers.items()) if k != str(expect))
        print(
            f"  {name:<46}{len(o.latencies):>9,}{o.ok(expect) / res.seconds:>8.1f}"
            f"{pct(o.latencies, 50):>8.1f}{pct(o.latencies, 99):>8.1f}  {errors or '-'}"
        )
    every = [x for o in t.ops.values() for x in o.latencies]
    print(
        f"  {'the whole mix':<46}{res.answered:>9,}{res.ok / res.seconds:>8.1f}"
        f"{pct(every, 50):>8.1f}{pct(every, 99):>8.1f}  {res.answered - res.ok} errors"
    )
    print(
        f"  {'log in (once per user, before the mix)':<46}{len(res.logins):>9,}{'':>8}"
        f"{pct(res.logins, 50):>8.1f}{pct(res.logins, 99):>8.1f}"
    )
    for c in res.ceilings:
        print(
            f"  {c.label:<46}{c.requests:>9,}{c.rate:>8.1f}{pct(c.latencies, 50):>8.1f}"
            f"{pct(c.latencies, 99):>8.1f}  {c.failed or '-'}"
        )
    cpu = res.cpu
    print(
        f"  CPU during the mix, in cores (of {cores}): API processes {cpu['api']:.2f}, "
        f"pre-review worker {cpu['worker']:.2f}, nginx {cpu['nginx']:.2f}, "
        f"PostgreSQL {cpu['postgres']:.2f} (visible here), this client {cpu['client']:.2f}; "
        f"machine busy {cpu['machine']:.2f}, of which not any of these "
        f"{cpu['machine'] - sum(v for k, v in cpu.items() if k != 'machine'):.2f}"
    )
    for name, _ in OPERATIONS:
        for status, sample in t.ops[name].samples.items():
            print(f"  {name.split('  ')[0]} {status}, first: {sample}")
    for line in res.checks:
        print(f"  {line}")


def print_scaling(results: list[Result]) -> None:
    if len(results) < 2:
        return
    base = results[0]
    print(f"\nthroughput against {base.processes} process (req/s of expected answers):")
    header = "".join(f"{f'{r.processes} proc':>10}" for r in results)
    print(f"  {'':<46}{header}{'ratio':>8}")
    rows: list[tuple[str, list[float]]] = [("the whole mix", [r.ok / r.seconds for r in results])]
    for name, expect in OPERATIONS:
        rows.append((name, [r.tally.ops[name].ok(expect) / r.seconds for r in results]))
    for label in [c.label for c in base.ceilings]:
        rows.append(
            (label, [next((c.rate for c in r.ceilings if c.label == label), 0.0) for r in results])
        )
    for label, rates in rows:
        ratio = rates[-1] / rates[0] if rates[0] else float("nan")
        print(f"  {label:<46}" + "".join(f"{x:>10.1f}" for x in rates) + f"{ratio:>8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=30, help="seconds of the mix, timed")
    parser.add_argument("--warmup", type=float, default=5, help="seconds of the mix before")
    parser.add_argument("--ceiling", type=float, default=4, help="seconds of each ceiling")
    parser.add_argument("--users", type=int, default=32, help="virtual users, reviewers included")
    parser.add_argument("--reviewers", type=int, default=4)
    parser.add_argument("--backlog", type=int, default=3, help="submitted cases per citizen")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--nginx-workers", type=int, default=1)
    args = parser.parse_args()
    if not 0 < args.reviewers < args.users:
        parser.error("--reviewers must be at least 1 and fewer than --users")
    nginx_binary = ngx.find_nginx()
    if nginx_binary is None:
        print(f"load: skipped, nginx is not installed (install it: {ngx.INSTALL_HINT})")
        return
    why = d.server_answers(PG_URL)
    if why is not None:
        print(f"load: skipped, no PostgreSQL server at {PG_URL.split('@')[-1]} ({why})")
        return
    # Stopped from outside, still stop the processes and drop the databases.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    cores = os.cpu_count() or 1
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"python {sys.version.split()[0]}, {cores} cores, load average {load:.2f} at the start; "
        f"{args.users} virtual users ({args.users - args.reviewers} citizens, {args.reviewers} "
        f"reviewers), {args.warmup:.0f} s warm-up + {args.duration:.0f} s per configuration"
    )
    print("settings raised: " + ", ".join(f"{k}={v}" for k, v in SETTINGS.items()))
    kek = base64.b64encode(os.urandom(32)).decode()
    dbs = d.Databases(PG_URL)
    results: list[Result] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)

            def env_for(url: str) -> dict[str, str]:
                return d.product_env(url, kek, folder, **SETTINGS)

            seed, citizens, reviewers, world = make_seed(dbs, env_for, folder, args)
            for n in args.processes:
                name = dbs.create(f"p{n}", template=seed)
                url = dbs.url(name)
                settings = Settings(database_url=url)
                results.append(
                    run_configuration(
                        n,
                        url,
                        env_for(url),
                        folder / f"p{n}",
                        citizens,
                        reviewers,
                        world,
                        args,
                        nginx_binary,
                        settings,
                    )
                )
                print_result(results[-1], cores)
            print_scaling(results)
    finally:
        dbs.close()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\nload average {load:.2f} at the end; databases dropped, processes stopped")


if __name__ == "__main__":
    main()
