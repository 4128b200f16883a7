"""The product's app, built and served the way `tongban serve` does it, plus one route that
exists only for benches: `POST /bench/insert` inserts one row in a small table of its own, in
one transaction, through the app's own session machinery (the `DbSession` of every route).
That is the floor under any request that writes: what an endpoint costs beyond it is its own.

Run: `python bench/support/bench_app.py --port N`, with the settings in the environment as for
`tongban serve` (TONGBAN_DATABASE_URL; the KEK from TONGBAN_KEK, or beside an SQLite demo
database). Never part of the product: the route and its table live here only.
"""

from __future__ import annotations

import argparse
import sys

from fastapi import Depends, FastAPI
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, insert
from sqlalchemy.schema import CreateTable

from tongban.access import PUBLIC
from tongban.app import create_app
from tongban.db import UTCDateTime, make_engine, utcnow
from tongban.deps import DbSession
from tongban.migrate import is_current
from tongban.settings import Settings, get_settings

BENCH_ROWS = Table(
    "bench_rows",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("note", String(40), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)


def ensure_table(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(CreateTable(BENCH_ROWS, if_not_exists=True))


def bench_app(settings: Settings, engine: Engine) -> FastAPI:
    """`create_app` as `tongban serve` calls it, with the bare insert route added."""
    app = create_app(settings, engine)
    ensure_table(engine)

    @app.post("/bench/insert", status_code=201, dependencies=[Depends(PUBLIC)])
    def insert_one(db: DbSession) -> dict[str, str]:
        db.execute(insert(BENCH_ROWS).values(note="bench", created_at=utcnow()))
        return {"status": "inserted"}

    return app


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    # As `tongban serve` without --db: the settings from the environment, the schema current.
    settings = get_settings()
    engine = make_engine(settings.database_url)
    if not is_current(engine):
        sys.exit("the database schema is not current: run `tongban db upgrade` first")
    uvicorn.run(bench_app(settings, engine), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
