"""Fixtures of the case tests: a world with the whole catalog, the calendar and a reviewer per
department; `a_known_day` (used by every case module) handles cases on a day the calendar knows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import migrated_engine
from tests.idcode.conftest import World, build_world
from tongban.catalog.loader import read_catalog
from tongban.catalog.models import Department
from tongban.identity.models import Account
from tongban.identity.schemas import Role
from tongban.identity.service import create_account
from tongban.workdays.service import known_years, seed_from_chinesecalendar


@pytest.fixture(scope="module")
def full(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with migrated_engine(backend, Path(tmp_path_factory.mktemp("cases"))) as engine:
        for world in build_world(engine, read_catalog()):
            with world.session() as session:
                seed_from_chinesecalendar(session)
                shared = session.scalars(select(Account.password_hash)).first()
                for key in session.scalars(select(Department.key)):
                    create_account(
                        session,
                        f"rev_{key}",
                        None,
                        [(Role.REVIEWER, key)],
                        password_hash=shared,
                        display_name=f"{key} 审核",
                    )
                session.commit()
            yield world


@pytest.fixture
def a_known_day(full: World, monkeypatch: pytest.MonkeyPatch) -> date:
    """Cases are handled on 1 June of the newest year the calendar knows: deadlines then never
    run into an unknown year, whatever day the tests run on."""
    with full.session() as session:
        day = date(max(known_years(session)), 6, 1)
    monkeypatch.setattr("tongban.licenses.service.today", lambda: day)
    return day
