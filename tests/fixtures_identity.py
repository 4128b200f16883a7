"""An app with a key-encryption key and the demo principals, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from tongban.app import create_app
from tongban.catalog.loader import CatalogSource, read_catalog
from tongban.catalog.service import apply_catalog
from tongban.crypto.keys import keyring_for
from tongban.crypto.service import Keyring
from tongban.db import make_sessionmaker, transaction
from tongban.identity.demo import load_demo_principals
from tongban.settings import Settings


@pytest.fixture
def settings(empty_engine: Engine) -> Settings:
    return Settings(
        database_url=str(empty_engine.url.render_as_string(hide_password=False)),
        kek=SecretStr(base64.b64encode(os.urandom(32)).decode()),
        login_rate_per_minute=1000,
        require_staff_otp=False,
    )


@pytest.fixture
def keyring(settings: Settings) -> Keyring:
    return keyring_for(settings)


@pytest.fixture(scope="session")
def reference_catalog() -> CatalogSource:
    """The shipped catalog without its matters: the divisions and halls people live by."""
    src = read_catalog()
    src.matters = {}
    return src


@pytest.fixture
def demo_engine(empty_engine: Engine, keyring: Keyring, reference_catalog: CatalogSource) -> Engine:
    with transaction(make_sessionmaker(empty_engine)) as session:
        apply_catalog(session, reference_catalog)
        keyring.ensure_keys(session)
        load_demo_principals(session, keyring)
    return empty_engine


@pytest.fixture
def demo_db(demo_engine: Engine) -> Iterator[Session]:
    from tests.conftest import rolled_back

    with rolled_back(demo_engine) as session:
        yield session


@pytest.fixture
def app_client(demo_engine: Engine, settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, demo_engine)) as c:
        yield c


def login(
    client: TestClient, username: str, password: str = "Demo@2026", otp: str | None = None
) -> dict[str, str]:
    body = {"username": username, "password": password}
    if otp:
        body["otp"] = otp
    r = client.post("/api/v1/auth/token", json=body)
    assert r.status_code == 200, r.text
    return dict(r.json())
