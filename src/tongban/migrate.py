"""Run Alembic migrations programmatically (the CLI, the demo and the tests use this)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    run(engine, command.upgrade, revision)


def downgrade(engine: Engine, revision: str) -> None:
    run(engine, command.downgrade, revision)


def run(engine: Engine, step: Callable[[Config, str], None], revision: str) -> None:
    """One migration run, all or nothing, on either database."""
    cfg = alembic_config()
    if engine.dialect.name != "sqlite":
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            step(cfg, revision)
        return
    with engine.connect() as conn, _sqlite_migration_transaction(conn):
        cfg.attributes["connection"] = conn
        step(cfg, revision)


@contextmanager
def _sqlite_migration_transaction(conn: Connection) -> Iterator[None]:
    """SQLite alters a table by rebuilding it: make the new one, copy, drop the old, rename.
    With foreign keys on, the old table cannot be dropped while rows point at it; and Python's
    driver runs DDL outside any transaction, so a failure halfway would leave half a schema.
    So: foreign keys off (only possible outside a transaction), an explicit BEGIN in which
    every statement of the run takes part, the keys checked before COMMIT, and on again."""
    dbapi = conn.connection.driver_connection
    assert dbapi is not None
    legacy_mode = dbapi.isolation_level
    dbapi.isolation_level = None  # the driver opens and commits nothing by itself
    try:
        dbapi.execute("PRAGMA foreign_keys=OFF")
        # SQLAlchemy's transaction, so Alembic joins it rather than committing its own; the
        # driver's BEGIN under it, because pysqlite's begin emits nothing. The commit or
        # rollback of the former ends the latter.
        with conn.begin():
            dbapi.execute("BEGIN")
            yield
            broken = dbapi.execute("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"the migration left rows without their parents: {broken[:5]}")
    finally:
        dbapi.execute("PRAGMA foreign_keys=ON")
        dbapi.isolation_level = legacy_mode


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def is_current(engine: Engine) -> bool:
    return current_revision(engine) == head_revision()
