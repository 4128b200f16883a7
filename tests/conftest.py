"""Fixtures: every database test runs on SQLite, and on PostgreSQL too when
TONGBAN_TEST_DATABASE_URL names a server (each run makes its own database and drops it)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, make_url
from sqlalchemy.orm import Session

from tongban.app import create_app
from tongban.catalog.service import load_catalog_dir
from tongban.db import make_engine, make_sessionmaker, transaction
from tongban.migrate import upgrade
from tongban.settings import Settings, sqlite_url

pytest_plugins = ["tests.fixtures_identity"]

PG_URL = os.environ.get("TONGBAN_TEST_DATABASE_URL")
BACKENDS = ["sqlite", *(["postgres"] if PG_URL else [])]
MINI_CATALOG = Path(__file__).parent / "catalog" / "fixtures" / "mini"


@contextmanager
def fresh_database(backend: str, folder: Path) -> Iterator[str]:
    """A new, empty database of the backend, dropped afterwards."""
    if backend == "sqlite":
        yield sqlite_url(folder / f"t-{uuid.uuid4().hex[:8]}.db")
        return
    assert PG_URL
    import psycopg

    name = f"tongban_test_{uuid.uuid4().hex[:12]}"
    server = make_url(PG_URL)
    admin = server.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def migrated_engine(backend: str, folder: Path) -> Iterator[Engine]:
    with fresh_database(backend, folder) as url:
        engine = make_engine(url)
        upgrade(engine)
        try:
            yield engine
        finally:
            engine.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def catalog_engine(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A database with the shipped catalog loaded; tests must not change it."""
    with migrated_engine(backend, tmp_path_factory.mktemp("catalog")) as engine:
        with transaction(make_sessionmaker(engine)) as session:
            load_catalog_dir(session)
        yield engine


@pytest.fixture
def empty_engine(backend: str, tmp_path: Path) -> Iterator[Engine]:
    """A migrated database with nothing in it, for tests that write."""
    with migrated_engine(backend, tmp_path) as engine:
        yield engine


@contextmanager
def rolled_back(engine: Engine) -> Iterator[Session]:
    """A session whose uncommitted changes are thrown away at the end."""
    session = make_sessionmaker(engine)()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


@pytest.fixture
def db(catalog_engine: Engine) -> Iterator[Session]:
    """A session on the catalog database whose changes are rolled back afterwards."""
    with rolled_back(catalog_engine) as session:
        yield session


@pytest.fixture
def empty_db(empty_engine: Engine) -> Iterator[Session]:
    with rolled_back(empty_engine) as session:
        yield session


@pytest.fixture(scope="session")
def client(catalog_engine: Engine) -> Iterator[TestClient]:
    settings = Settings(database_url=str(catalog_engine.url))
    with TestClient(create_app(settings, catalog_engine)) as c:
        yield c
