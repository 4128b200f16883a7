"""How the app answers for the database's state rather than its own mistakes: a write kept
waiting by another writer's lock on SQLite is a 503 `database_busy` with Retry-After (reads go
on); a database that does not answer is `database_unavailable`; a wrong statement stays a 500."""

from __future__ import annotations

import base64
import os
import sqlite3
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from tests.conftest import migrated_engine
from tests.faults.helpers import free_port
from tongban.app import create_app, database_problem
from tongban.crypto.keys import keyring_for
from tongban.db import make_engine, make_sessionmaker, transaction
from tongban.settings import Settings


def test_a_write_kept_waiting_by_a_lock_is_a_503_database_busy_and_reads_go_on(
    tmp_path: Path,
) -> None:
    with migrated_engine("sqlite", tmp_path) as engine:
        settings = Settings(
            database_url=str(engine.url), kek=base64.b64encode(os.urandom(32)).decode()
        )
        with transaction(make_sessionmaker(engine)) as session:
            keyring_for(settings).ensure_keys(session)  # a node that is ready but for the lock
        other = sqlite3.connect(engine.url.database or "", isolation_level=None)
        login = {"username": "nobody", "password": "wrong-password"}
        with TestClient(create_app(settings, engine)) as client:
            try:
                other.execute("BEGIN IMMEDIATE")  # another writer holds the write lock
                started = time.monotonic()
                # A failed login writes its audit entry: it waits out the busy timeout (5 s).
                r = client.post("/api/v1/auth/token", json=login)
                took = time.monotonic() - started
                assert r.status_code == 503, r.text
                assert r.headers["content-type"].startswith("application/problem+json")
                assert r.json()["code"] == "database_busy"
                assert r.json()["title"] and r.json()["title_en"]
                assert r.headers["retry-after"] == "2"
                assert took < 15, took
                assert client.get("/readyz").status_code == 200  # WAL: readers are not blocked
            finally:
                other.execute("ROLLBACK")
                other.close()
            # The lock gone, the same request is answered for what it is.
            assert client.post("/api/v1/auth/token", json=login).status_code == 401


def test_a_database_that_does_not_answer_is_unavailable() -> None:
    pytest.importorskip("psycopg")
    engine = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none")
    try:
        with pytest.raises(sa_exc.OperationalError) as refused, engine.connect():
            pass
    finally:
        engine.dispose()
    problem = database_problem(refused.value)
    assert problem is not None and problem.code == "database_unavailable"
    assert problem.status == 503


def test_a_wrong_statement_is_not_blamed_on_the_database(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with pytest.raises(sa_exc.OperationalError) as wrong, engine.connect() as conn:
            conn.execute(text("SELECT * FROM no_such_table"))
    finally:
        engine.dispose()
    assert database_problem(wrong.value) is None
    assert database_problem(sa_exc.TimeoutError()) is not None
