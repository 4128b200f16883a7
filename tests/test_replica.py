"""The read replica on real streaming replication: a private primary and a `pg_basebackup`
standby. The catalog's reads come from the replica while it keeps up, from the primary while
it is paused past the allowed lag or stopped, and from the replica again once it is back; the
person's own reads never go there."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from tests import pgcluster
from tests.conftest import MINI_CATALOG
from tests.routes import api_routes, depends_on
from tongban import replica as replica_module
from tongban.app import create_app
from tongban.catalog.service import load_catalog_dir
from tongban.db import make_engine, make_sessionmaker, transaction
from tongban.deps import get_read_session
from tongban.doctor import check_read_replica
from tongban.migrate import upgrade
from tongban.replica import replica_state
from tongban.settings import Settings

pytestmark = pytest.mark.skipif(not pgcluster.available(), reason="no PostgreSQL binaries")


class Pair:
    def __init__(self, folder: Path) -> None:
        self.primary = pgcluster.PgCluster(folder / "primary").init()
        self.primary.start()
        self.primary_url = self.primary.create_database("tongban")
        engine = make_engine(self.primary_url)
        upgrade(engine)
        with transaction(make_sessionmaker(engine)) as session:
            load_catalog_dir(session, MINI_CATALOG)
        self.engine = engine
        self.standby = self.primary.standby(folder / "replica")
        self.replica_url = self.standby.url("tongban")

    def department(self) -> tuple[str, str]:
        with self.engine.connect() as conn:
            code, name = conn.execute(
                text("SELECT key, name FROM departments ORDER BY key LIMIT 1")
            ).one()
        return str(code), str(name)

    def rename(self, code: str, name: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                text("UPDATE departments SET name = :n WHERE key = :c"), {"n": name, "c": code}
            )

    def replica_sees(self, code: str) -> str:
        return self.standby.psql(f"SELECT name FROM departments WHERE key = '{code}'", "tongban")

    def close(self) -> None:
        self.engine.dispose()
        self.standby.destroy()
        self.primary.destroy()


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    folder = Path(tempfile.mkdtemp(prefix="tongban-replica-"))
    os.chmod(folder, 0o755)  # the server runs as the postgres user and must reach its folder
    made = Pair(folder)
    try:
        yield made
    finally:
        made.close()


@pytest.fixture(autouse=True)
def quick_rechecks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(replica_module, "RECHECK_SECONDS", 0.0)


def _client(pair: Pair, max_lag: float) -> TestClient:
    settings = Settings(
        database_url=pair.primary_url,
        read_database_url=pair.replica_url,
        read_max_lag_seconds=max_lag,
    )
    return TestClient(create_app(settings))


def _wait_until(check: Any, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _name_read(client: TestClient, code: str) -> str:
    answer = client.get(f"/api/v1/departments/{code}")
    assert answer.status_code == 200, answer.text
    return str(answer.json()["name"])


def test_a_caught_up_replica_reports_no_lag(pair: Pair) -> None:
    replica_engine = make_engine(pair.replica_url)
    try:
        state = replica_state(replica_engine, max_lag_seconds=1.0)
    finally:
        replica_engine.dispose()
    assert state.usable and state.lag_seconds == 0 and state.reason == "ok"


def test_catalog_reads_come_from_the_replica_while_it_keeps_up(pair: Pair) -> None:
    code, name = pair.department()
    with _client(pair, max_lag=3600) as client:
        pair.standby.psql("SELECT pg_wal_replay_pause()")
        try:
            pair.rename(code, name + "（新）")
            # Paused: the replica still holds the old name, and within the allowed lag the API
            # answers from it, which is how we know where the read went.
            assert pair.replica_sees(code) == name
            assert _name_read(client, code) == name
            assert client.app.state.read_replica.state.reason == "ok"  # type: ignore[attr-defined]
        finally:
            pair.standby.psql("SELECT pg_wal_replay_resume()")
            _wait_until(lambda: pair.replica_sees(code) == name + "（新）")
        assert _name_read(client, code) == name + "（新）"
    pair.rename(code, name)


def test_a_replica_behind_the_allowed_lag_is_passed_over(pair: Pair) -> None:
    code, name = pair.department()
    with _client(pair, max_lag=0.5) as client:
        pair.standby.psql("SELECT pg_wal_replay_pause()")
        try:
            pair.rename(code, name + "（改）")
            time.sleep(1.0)  # the paused replica is now past the half second allowed
            assert pair.replica_sees(code) == name
            assert _name_read(client, code) == name + "（改）"  # from the primary
            state = client.app.state.read_replica.state  # type: ignore[attr-defined]
            assert state.reason == "behind" and state.lag_seconds is not None
            assert state.lag_seconds > 0.5
        finally:
            pair.standby.psql("SELECT pg_wal_replay_resume()")
        _wait_until(lambda: pair.replica_sees(code) == name + "（改）")
        assert _name_read(client, code) == name + "（改）"
        assert client.app.state.read_replica.state.reason == "ok"  # type: ignore[attr-defined]
    pair.rename(code, name)


def test_a_stopped_replica_costs_no_answer_and_is_used_again_when_back(pair: Pair) -> None:
    code, name = pair.department()
    with _client(pair, max_lag=3600) as client:
        assert _name_read(client, code) == name
        pair.standby.stop("immediate")
        try:
            started = time.monotonic()
            for _ in range(5):
                assert _name_read(client, code) == name
                assert client.get("/api/v1/matters", params={"q": "护照"}).status_code == 200
            # A refused connection is told at once: the reads go on at the primary's pace.
            assert time.monotonic() - started < 2 * replica_module.CONNECT_TIMEOUT_SECONDS + 3
            state = client.app.state.read_replica.state  # type: ignore[attr-defined]
            assert state.reason == "unreachable"
        finally:
            pair.standby.start()

        def replica_in_use_again() -> bool:
            assert _name_read(client, code) == name
            return bool(client.app.state.read_replica.state.usable)  # type: ignore[attr-defined]

        _wait_until(replica_in_use_again)
        assert client.get("/readyz").status_code == 200


def _doctor_says(pair: Pair, read_url: str, max_lag: float = 30) -> tuple[str, str]:
    settings = Settings(
        database_url=pair.primary_url, read_database_url=read_url, read_max_lag_seconds=max_lag
    )
    check = check_read_replica(settings)
    return check.status, check.message


def test_doctor_reports_the_replica_its_lag_and_what_is_wrong(pair: Pair) -> None:
    status, message = _doctor_says(pair, pair.replica_url)
    # Ok, with its lag: a moment after the tests before, it may still be replaying.
    assert status == "ok" and message.endswith(" s behind"), message
    status, message = _doctor_says(pair, pair.primary_url)
    assert status == "warn" and "not a standby" in message, message
    pair.standby.psql("SELECT pg_wal_replay_pause()")
    try:
        pair.rename(*pair.department())  # something to replay
        time.sleep(0.6)
        status, message = _doctor_says(pair, pair.replica_url, max_lag=0.5)
        assert status == "warn" and "reads use the primary" in message, message
    finally:
        pair.standby.psql("SELECT pg_wal_replay_resume()")
    other = pair.primary.create_database("other")  # answers, but holds no Tongban schema
    status, message = _doctor_says(pair, other)
    assert status == "error" and "not a replica of this database" in message, message
    pair.standby.stop("immediate")
    try:
        status, message = _doctor_says(pair, pair.replica_url)
        assert status == "warn" and "does not answer" in message, message
    finally:
        pair.standby.start()


def test_a_persons_own_reads_stay_on_the_primary() -> None:
    """Only the catalog's reads take the replica session: what a person has just written
    (an application, a login) is what they read, whatever the replica's state."""
    app = create_app(Settings(database_url="sqlite://"))
    on_replica = sorted(
        f"{sorted(route.methods or [])} {route.path}"
        for route in api_routes(app)
        if depends_on(route, lambda call: call is get_read_session)
    )
    assert on_replica == [
        "['GET'] /",
        "['GET'] /api/v1/catalog/stats",
        "['GET'] /api/v1/departments",
        "['GET'] /api/v1/departments/{code}",
        "['GET'] /api/v1/districts",
        "['GET'] /api/v1/halls",
        "['GET'] /api/v1/halls/{code}",
        "['GET'] /api/v1/license-types",
        "['GET'] /api/v1/matters",
        "['GET'] /api/v1/matters/{code}",
        "['GET'] /matters",
    ]
