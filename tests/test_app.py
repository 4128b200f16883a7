"""Liveness and readiness, and what the app does when it cannot do its work."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from tongban.app import create_app
from tongban.db import make_engine
from tongban.settings import Settings, sqlite_url


def test_healthz_and_readyz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "checks": {"database": "ok", "migrations": "ok"}}


def test_readyz_says_when_migrations_are_pending(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "new.db")
    with TestClient(create_app(Settings(database_url=url), make_engine(url))) as c:
        r = c.get("/readyz")
        assert r.status_code == 503
        assert r.json()["checks"]["migrations"] == "pending"
        assert c.get("/healthz").status_code == 200


def test_readyz_says_when_the_database_is_unreachable() -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    with TestClient(
        create_app(Settings(database_url=url), make_engine(url, pool_pre_ping=False))
    ) as c:
        r = c.get("/readyz")
        assert r.status_code == 503
        assert r.json()["checks"]["database"].startswith("unavailable")


def test_a_crash_is_a_500_problem_without_internals(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "empty.db")  # not migrated: every catalog query fails
    app = create_app(Settings(database_url=url), make_engine(url))
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/api/v1/catalog/stats")
        assert r.status_code == 500
        assert r.headers["content-type"] == "application/problem+json"
        body = r.json()
        assert body["code"] == "internal_error" and "sqlite" not in r.text.lower()


def test_times_on_pages_are_beijing_time() -> None:
    from datetime import UTC, datetime

    from tongban.portal.rendering import local_time

    assert local_time(datetime(2026, 11, 27, 20, 30, tzinfo=UTC)) == "2026-11-28 04:30"
    assert local_time("2026-11-27T20:30:00+00:00", "%H:%M") == "04:30"
    assert local_time(None) == "—"
