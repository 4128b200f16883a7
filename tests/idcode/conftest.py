"""One demo database per test module (both backends) with a scanner account for every scene."""

from __future__ import annotations

import base64
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from tests.conftest import migrated_engine
from tests.fixtures_identity import login
from tongban.app import create_app
from tongban.catalog.loader import CatalogSource
from tongban.catalog.models import Hall
from tongban.catalog.service import apply_catalog
from tongban.crypto.keys import keyring_for
from tongban.crypto.models import SigningKey
from tongban.crypto.signing import SigningKeys
from tongban.db import make_sessionmaker, transaction, utcnow
from tongban.idcode.keys import CodeKeys
from tongban.idcode.scenes import load_scenes
from tongban.identity.demo import DEMO_PASSWORD, load_demo_principals
from tongban.identity.models import Account
from tongban.identity.schemas import Role
from tongban.identity.service import create_account, hash_password
from tongban.licenses.demo import load_demo_licenses
from tongban.licenses.service import Registry
from tongban.settings import Settings

SCENES = load_scenes()


@dataclass
class World:
    settings: Settings
    engine: Engine
    client: TestClient
    tokens: dict[str, str]
    hall_key: str

    def session(self) -> Session:
        return make_sessionmaker(self.engine)()

    def auth(self, user: str) -> dict[str, str]:
        if user not in self.tokens:
            self.tokens[user] = login(self.client, user, DEMO_PASSWORD)["access_token"]
        return {"authorization": f"Bearer {self.tokens[user]}"}

    def code(self, user: str = "citizen1", **body: Any) -> dict[str, Any]:
        r = self.client.post("/api/v1/me/code", json=body or None, headers=self.auth(user))
        assert r.status_code == 200, r.text
        return dict(r.json())

    def scan(
        self,
        scene: str,
        token: str,
        user: str | None = None,
        headers: dict[str, str] | None = None,
        **body: Any,
    ) -> Any:
        return self.client.post(
            f"/api/v1/scenes/{scene}/scan",
            json={"token": token, **body},
            headers={**self.auth(user or f"scan_{scene}"), **(headers or {})},
        )


def make_settings(engine: Engine, **overrides: Any) -> Settings:
    # Uploads go to a folder of the test's own, whatever the database (PostgreSQL has no file
    # to put them beside).
    overrides.setdefault("files_dir", Path(tempfile.mkdtemp(prefix="tongban-files-")))
    return Settings(
        database_url=engine.url.render_as_string(hide_password=False),
        kek=SecretStr(base64.b64encode(os.urandom(32)).decode()),
        login_rate_per_minute=10_000,
        code_rate_per_minute=10_000,
        require_staff_otp=False,
        **overrides,
    )


def build_world(engine: Engine, reference: CatalogSource, **overrides: Any) -> Iterator[World]:
    settings = make_settings(engine, **overrides)
    ring = keyring_for(settings)
    with transaction(make_sessionmaker(engine)) as session:
        apply_catalog(session, reference)
        ring.ensure_keys(session)
        CodeKeys(SigningKeys(settings, ring)).ensure(session)
        # An established region: its keys have been active for a day, so tests may make codes
        # that were issued, and have expired, before the test began.
        session.execute(update(SigningKey).values(activated_at=utcnow() - timedelta(days=1)))
        load_demo_principals(session, ring)
        load_demo_licenses(session, Registry(settings, ring, SigningKeys(settings, ring)))
        hall_key = session.scalars(
            select(Hall.key).where(Hall.kind == "district_center").order_by(Hall.key)
        ).first()
        assert hall_key
        shared = session.scalars(select(Account.password_hash)).first()
        assert shared
        for key in SCENES:
            binding = f"{key}@{hall_key}" if key == "hall" else key
            create_account(
                session,
                f"scan_{key}",
                None,
                [(Role.VERIFIER, binding)],
                password_hash=shared or hash_password(DEMO_PASSWORD),
                display_name=f"测试扫码点-{key}",
                demo=True,
            )
    with TestClient(create_app(settings, engine)) as client:
        yield World(settings, engine, client, {}, hall_key)


@pytest.fixture(scope="module")
def world(
    backend: str, tmp_path_factory: pytest.TempPathFactory, reference_catalog: CatalogSource
) -> Iterator[World]:
    with migrated_engine(backend, Path(tmp_path_factory.mktemp("code"))) as engine:
        yield from build_world(engine, reference_catalog)


@pytest.fixture
def own_world(backend: str, tmp_path: Path, reference_catalog: CatalogSource) -> Iterator[World]:
    """A world of the test's own, for tests that rotate or revoke keys."""
    with migrated_engine(backend, tmp_path) as engine:
        yield from build_world(engine, reference_catalog)
