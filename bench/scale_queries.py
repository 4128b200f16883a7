"""The key queries on the city-scale database (`bench/scale_data.py`), run as the service runs
them: the same service functions the API routes call, in one process, on PostgreSQL.

    python bench/scale_queries.py [--db tongban_scale] [--runs 20] [--plans build/scale/plans.txt]

For each query it prints the time per call (p50, p95 and the slowest of `--runs` calls, each
for another person, case or license), how many SQL statements one call sends and the rows they
return, and the plan of each statement from EXPLAIN (ANALYZE, BUFFERS) with its execution time:
the scan it chose on the big tables, and what it read. The full plans go to `--plans`.

The ceiling each is compared with is the database's own time for the same statements (the sum
of their execution times in EXPLAIN ANALYZE): what is left is Python, decryption, signatures
and the driver. Without the database it says how to build it and exits (so `make bench` goes
on).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from support.scale import DATABASE, ROOT, SERVER, database_exists, settings_for

BIG = ("persons", "accounts", "cases", "case_events", "licenses", "license_events", "code_")


@dataclass
class Captured:
    statements: list[tuple[str, Any]] = field(default_factory=list)
    rows: int = 0
    on: bool = False


@dataclass
class Query:
    name: str
    what: str  # the route or worker it stands for
    call: Callable[[Any, int], Any]  # (session, n) -> result; n picks the subject
    writes: bool = False  # rolled back after each call
    slow: bool = False  # reads a whole table by design: run fewer times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", default=SERVER)
    parser.add_argument("--db", default=DATABASE)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--slow-runs", type=int, default=3, help="runs of the whole-table ones")
    parser.add_argument("--only", help="run only the queries whose name contains this")
    parser.add_argument("--plans", type=Path, default=ROOT / "build" / "scale" / "plans.txt")
    args = parser.parse_args(argv)
    exists = database_exists(args.server, args.db)
    if not exists:
        where = "no PostgreSQL server answers" if exists is None else f"no database {args.db}"
        print(f"{where}: build the data set first with")
        print(f"    python bench/scale_data.py --build --db {args.db}")
        print("(about 22 minutes on two cores)")
        return 0
    return run(args)


def run(args: argparse.Namespace) -> int:
    from sqlalchemy import event

    from tongban.app import create_app
    from tongban.db import make_engine

    settings = settings_for(args.server, args.db)
    engine = make_engine(settings.database_url)
    app = create_app(settings, engine)
    captured = Captured()

    @event.listens_for(engine, "before_cursor_execute")
    def remember(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if captured.on:
            captured.statements.append((statement, parameters))

    @event.listens_for(engine, "after_cursor_execute")
    def count(conn: Any, cursor: Any, *_: Any) -> None:
        if captured.on and cursor.description is not None:
            captured.rows += max(cursor.rowcount, 0)

    sessions = app.state.sessions
    world = survey(sessions)
    print_setting(engine, world)
    queries = key_queries(app, world)
    if args.only:
        queries = [q for q in queries if args.only in q.name]
    args.plans.parent.mkdir(parents=True, exist_ok=True)
    with args.plans.open("w") as plans:
        print(
            f"\n{'query':<34} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'SQL':>6} "
            f"{'rows':>7} {'DB ms':>8}  (DB ms: the statements' own time, EXPLAIN ANALYZE)"
        )
        for q in queries:
            measure(q, sessions, captured, args.runs, args.slow_runs, plans)
    print(f"\nfull plans: {args.plans}")
    engine.dispose()
    return 0


# ---------------------------------------------------------------------------------------------
# What the queries are asked about
# ---------------------------------------------------------------------------------------------


@dataclass
class Survey:
    counts: dict[str, int]
    heavy_accounts: list[int]  # accounts of people with many cases
    enterprises: list[int]
    busiest_department: str
    department_open: int
    busiest_hall: str
    hall_open: int
    license_ids: list[str]
    person_ids: list[int]
    matters: list[str]  # person matters with license materials
    verifier: Any  # Principal of the demo's metro gate


def survey(sessions: Any) -> Survey:
    from sqlalchemy import func, select, text

    from tongban.cases.models import Case
    from tongban.catalog.models import Matter, MatterMaterial
    from tongban.identity.models import Account
    from tongban.identity.service import principal_of

    rng = random.Random(7)
    with sessions() as s:
        counts = {
            t: int(s.scalar(text(f"SELECT reltuples::bigint FROM pg_class WHERE relname = '{t}'")))
            for t in ("persons", "cases", "case_events", "licenses", "code_issues", "code_scans")
        }
        # The heaviest applicants: sampled among those with the most cases.
        heavy = list(
            s.scalars(
                select(Case.created_by)
                .where(
                    Case.id
                    > func.coalesce(select(func.max(Case.id)).scalar_subquery(), 0) - 200_000
                )
                .group_by(Case.created_by)
                .order_by(func.count().desc())
                .limit(200)
            )
        )
        rng.shuffle(heavy)
        department, n_department = s.execute(
            text(
                "SELECT department_key, count(*) FROM cases WHERE status IN "
                "('submitted', 'accepted', 'under_review', 'correction_requested') "
                "GROUP BY 1 ORDER BY 2 DESC LIMIT 1"
            )
        ).one()
        hall, n_hall = s.execute(
            text(
                "SELECT hall_key, count(*) FROM cases WHERE hall_key IS NOT NULL AND status IN "
                "('submitted', 'accepted', 'under_review', 'correction_requested') "
                "GROUP BY 1 ORDER BY 2 DESC LIMIT 1"
            )
        ).one()
        top = int(s.scalar(text("SELECT max(id) FROM licenses")))
        picks = [rng.randrange(1, top) for _ in range(2_000)]
        ids = list(
            s.scalars(
                text("SELECT identifier FROM licenses WHERE id = ANY(:ids) AND current"),
                {"ids": picks},
            )
        )
        persons = list(
            s.scalars(
                text("SELECT id FROM persons WHERE id = ANY(:ids)").bindparams(
                    ids=[rng.randrange(1, counts["persons"]) for _ in range(500)]
                )
            )
        )
        enterprises = list(s.scalars(text("SELECT id FROM enterprises ORDER BY id DESC LIMIT 500")))
        matters = list(
            s.scalars(
                select(Matter.code)
                .join(MatterMaterial, MatterMaterial.matter_id == Matter.id)
                .where(Matter.for_person.is_(True), MatterMaterial.source == "license")
                .distinct()
                .order_by(Matter.code)
            )
        )
        metro = s.scalars(select(Account).where(Account.username == "metro1")).one()
        verifier = principal_of(metro)
    rng.shuffle(ids)
    rng.shuffle(persons)
    return Survey(
        counts,
        heavy,
        enterprises,
        department,
        int(n_department),
        hall,
        int(n_hall),
        ids,
        persons,
        matters,
        verifier,
    )


def print_setting(engine: Any, w: Survey) -> None:
    with engine.connect() as conn:
        version = conn.exec_driver_sql("SHOW server_version").scalar()
        settings = {
            name: conn.exec_driver_sql(f"SHOW {name}").scalar()
            for name in ("shared_buffers", "work_mem", "effective_cache_size", "random_page_cost")
        }
        size = conn.exec_driver_sql(
            "SELECT pg_size_pretty(pg_database_size(current_database()))"
        ).scalar()
    print(f"PostgreSQL {version}, {', '.join(f'{k} {v}' for k, v in settings.items())}")
    print("database " + ", ".join(f"{k} {v:,}" for k, v in w.counts.items()) + f"; {size} on disk")
    print(
        f"busiest department {w.busiest_department}: {w.department_open:,} open cases; "
        f"busiest hall {w.busiest_hall}: {w.hall_open:,}"
    )


# ---------------------------------------------------------------------------------------------
# The queries
# ---------------------------------------------------------------------------------------------


def key_queries(app: Any, w: Survey) -> list[Query]:
    from tongban.cases import service as cases
    from tongban.cases.api import case_out
    from tongban.dashboard.service import dashboard
    from tongban.idcode import service as codes_service
    from tongban.idcode.api import run_scan
    from tongban.idcode.schemas import ScanIn
    from tongban.idcode.token import Channel
    from tongban.identity.models import Account
    from tongban.identity.service import Principal, principal_of
    from tongban.licenses import service as licenses
    from tongban.licenses.resolver import Applicant, resolve_materials
    from tongban.workdays.service import calendar

    registry = app.state.licenses
    codes = app.state.codes
    today = date.today()
    reviewer = Principal(0, "scale-reviewer", (("reviewer", w.busiest_department),), None, None)
    window = Principal(0, "scale-window", (("window_staff", w.busiest_hall),), None, None)

    def citizen(session: Any, n: int) -> Any:
        account = session.get(Account, w.heavy_accounts[n % len(w.heavy_accounts)])
        return principal_of(account)

    def my_cases(session: Any, n: int) -> Any:
        principal = citizen(session, n)
        return [
            case_out(session, registry, principal, c) for c in cases.my_cases(session, principal)
        ]

    def queue(principal: Any) -> Callable[[Any, int], Any]:
        def call(session: Any, n: int) -> Any:
            rows = cases.queue(session, principal)  # its first page, as the API's default
            total = cases.queue_size(session, principal)  # the X-Total-Count header
            return total, [case_out(session, registry, principal, c, in_list=True) for c in rows]

        return call

    def resolve(session: Any, n: int) -> Any:
        person = w.person_ids[n % len(w.person_ids)]
        matter = w.matters[n % len(w.matters)]
        return resolve_materials(session, matter, Applicant(person, None), today)

    def verify(session: Any, n: int) -> Any:
        identifier = w.license_ids[n % len(w.license_ids)]
        with quiet_stderr():  # GmSSL prints each failed verification there
            return licenses.verify_registered(session, registry, identifier)

    def wallet(session: Any, n: int) -> Any:
        return licenses.wallet(session, citizen(session, n))

    def scan(session: Any, n: int) -> Any:
        person = w.person_ids[n % len(w.person_ids)]
        issued = codes_service.issue_code(
            session,
            codes,
            codes_service.Subject("person", person_id=person),
            channel=Channel.APP,
        )
        outcome = run_scan(session, codes, "metro", w.verifier, ScanIn(token=issued.token), None)
        assert outcome.status == 200, outcome.body
        return outcome

    def board(session: Any, n: int) -> Any:
        return dashboard(session, today)

    def deadline_report(session: Any, n: int) -> Any:
        return cases.deadline_report(session)

    def status_list(session: Any, n: int) -> Any:
        registry.signing.forget()  # its cache would answer after the first call
        return licenses.status_list(session, registry)

    def sweep(session: Any, n: int) -> Any:
        calendar(session)
        return cases.sweep(session, today)

    return [
        Query("my cases", "GET /api/v1/me/cases", my_cases),
        Query(
            "department queue by deadline", "GET /api/v1/cases/queue (reviewer)", queue(reviewer)
        ),
        Query("hall queue", "GET /api/v1/cases/queue (window)", queue(window)),
        Query(
            "materials resolve (免提交)",
            "GET /api/v1/matters/{code}/form, POST /api/v1/cases",
            resolve,
        ),
        Query("license verify by identifier", "GET /api/v1/licenses/{id}/verify", verify),
        Query("a holder's licenses", "GET /api/v1/me/licenses", wallet),
        Query("code issue + scan", "POST /me/code, POST /scenes/metro/scan", scan, writes=True),
        Query("dashboard statistics", "GET /api/v1/dashboard", board, slow=True),
        Query("deadline report", "GET /api/v1/cases/deadline-report", deadline_report),
        Query("license status list", "GET /api/v1/licenses/status-list", status_list, slow=True),
        Query("daily deadline sweep", "tongban cases sweep", sweep, writes=True, slow=True),
    ]


# ---------------------------------------------------------------------------------------------
# Timing and plans
# ---------------------------------------------------------------------------------------------


@contextmanager
def quiet_stderr() -> Iterator[None]:
    saved = os.dup(2)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


@contextmanager
def capturing(captured: Captured) -> Iterator[Captured]:
    captured.statements.clear()
    captured.rows = 0
    captured.on = True
    try:
        yield captured
    finally:
        captured.on = False


def measure(
    q: Query, sessions: Any, captured: Captured, runs: int, slow_runs: int, plans: Any
) -> None:
    times = []
    statements: list[tuple[str, Any]] = []
    rows = 0
    for n in range(slow_runs if q.slow else runs):
        with sessions() as session, capturing(captured):
            began = time.perf_counter()
            q.call(session, n)
            times.append((time.perf_counter() - began) * 1000)
            if n == 0:
                statements, rows = list(captured.statements), captured.rows
            session.rollback()
    explained = explain(sessions, statements)
    db_ms = sum(e.total_ms for e in explained)
    times.sort()
    p50 = statistics.median(times)
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    print(
        f"{q.name:<34} {p50:>8.1f} {p95:>8.1f} {times[-1]:>8.1f} "
        f"{len(statements):>6,} {rows:>7,} {db_ms:>8.1f}"
    )
    plans.write(f"\n=== {q.name} — {q.what}\n")
    plans.write(f"calls: {len(times)}; ms p50 {p50:.1f}, max {times[-1]:.1f}\n")
    for e in explained:
        flag = _flag(e.plan)
        if e.total_ms >= 1.0 or flag:
            times_n = f" x{e.times}" if e.times > 1 else ""
            note = f"   <-- {flag}" if flag else ""
            print(f"    {e.ms:8.2f} ms{times_n:<6} {_summary(e.plan)}{note}")
        plans.write(f"\n-- {e.ms:.2f} ms, sent {e.times} times\n{e.sql}\n{e.plan}\n")


def explain(sessions: Any, statements: list[tuple[str, Any]]) -> list[Explained]:
    """Each distinct statement of the call again, with the parameters of its first use, under
    EXPLAIN (ANALYZE, BUFFERS); writes too, in a transaction that is rolled back. A statement
    sent once per row (the same text N times) is explained once and counted N times."""
    uses: dict[str, list[Any]] = {}
    for sql, params in statements:
        uses.setdefault(sql, []).append(params)
    out = []
    with sessions() as session:
        cursor = session.connection().connection.dbapi_connection.cursor()
        for sql, params in uses.items():
            head = sql.lstrip().split(None, 1)[0].upper()
            if head not in ("SELECT", "UPDATE", "INSERT", "DELETE", "WITH"):
                continue
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params[0])
            plan = "\n".join(row[0] for row in cursor.fetchall())
            match = re.search(r"Execution Time: ([0-9.]+) ms", plan)
            out.append(Explained(sql, plan, float(match.group(1)) if match else 0.0, len(params)))
        session.rollback()
    return out


@dataclass(frozen=True)
class Explained:
    sql: str
    plan: str
    ms: float  # of one execution
    times: int  # how often the call sent it

    @property
    def total_ms(self) -> float:
        return self.ms * self.times


def _summary(plan: str) -> str:
    """The plan's nodes on the big tables, in one line."""
    nodes = []
    for line in plan.splitlines():
        m = re.search(
            r"(Seq Scan|Parallel Seq Scan|Index Scan|Index Only Scan|Bitmap Heap Scan|"
            r"Bitmap Index Scan)(?: using (\S+))? on (\S+)",
            line,
        )
        if m:
            kind, index, table = m.groups()
            nodes.append(f"{kind} {index or table}" if index else f"{kind} {table}")
    first = plan.splitlines()[0].split("  (")[0].strip() if plan else ""
    return f"{first}: {', '.join(dict.fromkeys(nodes))}" if nodes else first


def _flag(plan: str) -> str:
    for line in plan.splitlines():
        m = re.search(r"Seq Scan on (\S+).*actual time=[0-9.]+\.\.([0-9.]+) rows=(\d+)", line)
        if m and m.group(1).startswith(BIG):
            return f"seq scan of {m.group(1)}"
    return ""


if __name__ == "__main__":
    sys.exit(main())
