"""Migrations build exactly the schema the models describe, undo cleanly, and carry a
database of the previous release, with its data, to head."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from tongban.db import Base, make_engine
from tongban.migrate import current_revision, downgrade, head_revision, upgrade
from tongban.models_registry import import_all_models


def test_models_and_migrations_agree(empty_engine: Engine) -> None:
    import_all_models()
    with empty_engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    # The full-text objects are dialect-specific and live outside the models on purpose.
    diff = [d for d in diff if "matter_fts" not in str(d) and "document" not in str(d)]
    assert diff == []


def test_downgrade_to_nothing_and_back(empty_engine: Engine) -> None:
    assert current_revision(empty_engine) == head_revision()
    upgrade_to = head_revision()
    downgrade(empty_engine, "base")
    tables = set(inspect(empty_engine).get_table_names()) - {"alembic_version"}
    assert tables == set()
    upgrade(empty_engine)
    assert current_revision(empty_engine) == upgrade_to


# -- upgrading a database that holds data ------------------------------------------------------

COUNTED = ("persons", "accounts", "cases", "case_events", "case_files", "licenses", "departments")


def _previous_release() -> str:
    """The revision before head: what the release before this one left a database at."""
    from alembic.script import ScriptDirectory

    from tongban.migrate import alembic_config

    newest = head_revision()
    assert newest is not None
    head = ScriptDirectory.from_config(alembic_config()).get_revision(newest)
    assert head is not None and isinstance(head.down_revision, str)
    return head.down_revision


def _counts(engine: Engine) -> dict[str, int]:
    from sqlalchemy import text

    with engine.connect() as conn:
        return {
            t: int(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()) for t in COUNTED
        }


def _case_figures(engine: Engine) -> list[tuple[object, ...]]:
    from sqlalchemy import text

    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT id, decided_on, materials_license, materials_department, "
                "materials_upload FROM cases ORDER BY id"
            )
        ).all()
    assert any(r[1] is not None for r in rows), "the demo has decided cases"
    assert any(r[2] or r[3] for r in rows), "and materials met without an upload"
    return [tuple(r) for r in rows]


@pytest.fixture
def populated(backend: str, tmp_path: Path) -> Iterator[tuple[Engine, dict[str, str | None]]]:
    """A demo node (people, licenses, applications with files) at head, and its settings."""
    import base64
    import os

    from tests.conftest import fresh_database

    with fresh_database(backend, tmp_path) as url:
        env: dict[str, str | None] = {
            "TONGBAN_DATABASE_URL": url,
            "TONGBAN_FILES_DIR": str(tmp_path / "files"),
            "TONGBAN_KEK": base64.b64encode(os.urandom(32)).decode(),
            "TONGBAN_KEK_FILE": None,
            "TONGBAN_REGION_CODE": None,
        }
        code, out = _tongban(["demo", "--no-serve"], env)
        assert code == 0, out
        engine = make_engine(url)
        try:
            yield engine, env
        finally:
            engine.dispose()


def _tongban(args: list[str], env: dict[str, str | None]) -> tuple[int, str]:
    from typer.testing import CliRunner

    from tongban.cli import app
    from tongban.settings import get_settings

    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, args, env=env)
    finally:
        get_settings.cache_clear()
    return result.exit_code, result.output + (repr(result.exception) if result.exception else "")


def test_a_database_of_the_previous_release_upgrades_with_its_data(
    populated: tuple[Engine, dict[str, str | None]],
) -> None:
    engine, env = populated
    held = _counts(engine)
    assert all(held.values()), held
    figures = _case_figures(engine)
    previous = _previous_release()
    downgrade(engine, previous)
    assert current_revision(engine) == previous
    assert _counts(engine) == held
    code, out = _tongban(["db", "upgrade"], env)  # what the operator runs
    assert code == 0, out
    assert current_revision(engine) == head_revision()
    assert _counts(engine) == held
    # 0015 fills the dashboard's columns from what the cases hold, as the service keeps them.
    assert _case_figures(engine) == figures
    # The new release reads what the old one wrote: people decrypt, cases and licenses show.
    code, out = _tongban(["doctor"], env)
    assert code == 0, out
    code, out = _tongban(["audit", "verify"], env)
    assert code == 0, out
    _reads_citizen1(engine, env)


def _reads_citizen1(engine: Engine, env: dict[str, str | None]) -> None:
    from fastapi.testclient import TestClient
    from pydantic import SecretStr

    from tests.fixtures_identity import login
    from tongban.app import create_app
    from tongban.settings import Settings

    settings = Settings(
        database_url=str(env["TONGBAN_DATABASE_URL"]),
        files_dir=Path(str(env["TONGBAN_FILES_DIR"])),
        kek=SecretStr(str(env["TONGBAN_KEK"])),
        require_staff_otp=False,
    )
    with TestClient(create_app(settings, engine)) as client:
        auth = {"authorization": f"Bearer {login(client, 'citizen1')['access_token']}"}
        me = client.get("/api/v1/me", headers=auth)
        assert me.status_code == 200 and me.json()["person"], me.text
        mine = client.get("/api/v1/me/cases", headers=auth)
        assert mine.status_code == 200 and mine.json(), mine.text
        wallet = client.get("/api/v1/me/licenses", headers=auth)
        assert wallet.status_code == 200 and wallet.json()["items"], wallet.text


def test_the_newest_migration_undoes_with_data(
    populated: tuple[Engine, dict[str, str | None]],
) -> None:
    """A rollback of the release's schema keeps the older tables' rows, and the release
    upgrades again."""
    engine, env = populated
    held = _counts(engine)
    downgrade(engine, _previous_release())
    assert _counts(engine) == held
    code, out = _tongban(["db", "upgrade"], env)
    assert code == 0, out
    _reads_citizen1(engine, env)


def test_a_migration_that_fails_halfway_leaves_the_database_as_it_was(
    empty_engine: Engine,
) -> None:
    """All or nothing on both databases: on SQLite, too, where the driver would otherwise run
    each DDL statement on its own and a failure would leave half the new schema behind."""
    from alembic import command
    from alembic.config import Config

    from tongban.migrate import run

    previous = _previous_release()
    downgrade(empty_engine, previous)
    tables_before = set(inspect(empty_engine).get_table_names())

    def upgrade_then_fail(cfg: Config, revision: str) -> None:
        command.upgrade(cfg, revision)
        raise RuntimeError("the machine went down here")

    with pytest.raises(RuntimeError, match="went down"):
        run(empty_engine, upgrade_then_fail, "head")
    assert current_revision(empty_engine) == previous
    assert set(inspect(empty_engine).get_table_names()) == tables_before
    upgrade(empty_engine)
    assert current_revision(empty_engine) == head_revision()
