"""好差评 runs in the case tests' world (the whole shipped catalog, a reviewer per department),
with a supervisor (监督) besides."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.cases.conftest import a_known_day, full  # noqa: F401  (fixtures, by name)
from tests.idcode.conftest import World
from tongban.identity.models import Account
from tongban.identity.schemas import Role
from tongban.identity.service import create_account


@pytest.fixture(scope="module")
def rated(full: World) -> World:  # noqa: F811  (the fixture above, by name)
    """The case world with a supervisor account (supervisor2: created here, not the demo's)."""
    with full.session() as session:
        if session.scalar(select(Account.id).where(Account.username == "supervisor2")) is None:
            shared = session.scalars(select(Account.password_hash)).first()
            create_account(
                session,
                "supervisor2",
                None,
                [(Role.SUPERVISOR, "")],
                password_hash=shared,
                display_name="监督员",
            )
            session.commit()
    return full
