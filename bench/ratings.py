"""好差评 statistics: the figures of the public page and the dashboard over many ratings.

Fills a fresh SQLite file with generated ratings (5% of them bad, each bad one with a ticket,
most answered, some late) over 12 months, 30 departments and 200 halls, then prints p50/p95 of:
- stats: the whole city's figures (one query: count, distribution, bad, rectified, on time);
- stats, one department and month: the same with filters (indexed);
- by department / by month: the figures per group, one grouped query each;
beside the ceiling, in the same run: the bare SQL of the city's distribution
(`SELECT level, count(*) FROM ratings WHERE excluded = 0 GROUP BY level`), the least any
distribution must read; the figures add the tickets' join and the rates to it.

Run: `python bench/ratings.py [--ratings 200000] [--runs 30] [--postgres URL]`; with
--postgres (a server URL, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test) the same runs
on a fresh PostgreSQL database made for the run and dropped after it.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from sqlalchemy import insert, make_url, text

from support.timing import timed
from tongban.db import make_engine, make_sessionmaker, utcnow
from tongban.migrate import upgrade
from tongban.ratings import service as ratings
from tongban.ratings.models import Rating, RatingTicket
from tongban.settings import sqlite_url


def fill(engine: object, count: int, seed: int = 11) -> None:
    rng = random.Random(seed)
    now = utcnow()
    rows, tickets = [], []
    for n in range(count):
        bad = rng.random() < 0.05
        level = rng.choice((1, 2)) if bad else rng.choices((3, 4, 5), (1, 3, 6))[0]
        rows.append(
            {
                "id": n + 1,
                "subject": "case",
                "subject_id": n + 1,
                "rater_person_id": 1 + n % 50_000,
                "level": level,
                "indicators": {},
                "channel": rng.choice(("web", "app", "wechat", "alipay", "pad", "sms")),
                "department_key": f"dept-{rng.randrange(30)}",
                "hall_key": f"hall-{rng.randrange(200)}",
                "matter_code": f"01E0010{rng.randrange(100):05d}",
                "month": f"2026-{1 + rng.randrange(12):02d}",
                "excluded": False,
                "changes": 0,
                "rated_at": now,
            }
        )
        if bad:
            answered = rng.random() < 0.85
            tickets.append(
                {
                    "rating_id": n + 1,
                    "status": "closed" if answered else "verifying",
                    "unit_kind": "department",
                    "unit_key": rows[-1]["department_key"],
                    "opened_on": date(2026, 1, 5),
                    "step_since": date(2026, 1, 5),
                    "late_steps": int(rng.random() < 0.1),
                    "reopened": 0,
                    "answered_at": now if answered else None,
                    "answered_on_time": (rng.random() >= 0.1) if answered else None,
                    "created_at": now,
                }
            )
    with engine.begin() as conn:  # type: ignore[attr-defined]
        # Generated raters are not people of the registry: no person rows to point at.
        if conn.dialect.name == "sqlite":
            conn.execute(text("PRAGMA foreign_keys=OFF"))
        else:
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        for start in range(0, len(rows), 20_000):
            conn.execute(insert(Rating), rows[start : start + 20_000])
        if tickets:
            conn.execute(insert(RatingTicket), tickets)
    with engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(text("ANALYZE"))


@contextmanager
def database(server: str | None, folder: Path) -> Iterator[str]:
    if server is None:
        yield sqlite_url(folder / "bench.db")
        return
    import psycopg

    name = f"tongban_bench_{uuid.uuid4().hex[:8]}"
    admin = make_url(server).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ratings", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--postgres", help="a PostgreSQL server URL to run on instead of SQLite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, database(args.postgres, Path(folder)) as url:
        engine = make_engine(url)
        print(f"database: {engine.dialect.name}")
        upgrade(engine)
        start = time.perf_counter()
        fill(engine, args.ratings)
        print(f"{args.ratings:,} ratings generated in {time.perf_counter() - start:.1f} s")
        session = make_sessionmaker(engine)()
        city = ratings.Filters()
        one = ratings.Filters(department="dept-7", month="2026-06")
        ceiling = text(
            "SELECT level, count(*) FROM ratings WHERE excluded = "
            + ("0" if engine.dialect.name == "sqlite" else "false")
            + " GROUP BY level"
        )
        cases: list[tuple[str, Callable[[], object]]] = [
            ("stats, whole city", lambda: ratings.stats(session, city)),
            ("stats, one department and month", lambda: ratings.stats(session, one)),
            ("by department (30 groups)", lambda: ratings.breakdown(session, "department", city)),
            ("by month (12 groups)", lambda: ratings.breakdown(session, "month", city)),
            ("ceiling: bare distribution SQL", lambda: session.execute(ceiling).all()),
        ]
        print(f"{'query':36} {'p50 ms':>9} {'p95 ms':>9}")
        for name, fn in cases:
            fn()  # warm the page cache
            p50, p95 = timed(fn, args.runs)
            print(f"{name:36} {p50:9.2f} {p95:9.2f}")
        figures = ratings.stats(session, city)
        print(
            f"check: {figures['count']:,} ratings, satisfaction {figures['satisfaction_rate']}, "
            f"bad {figures['bad']:,}, rectified {figures['rectified']:,}"
        )
        session.close()
        engine.dispose()


if __name__ == "__main__":
    main()
