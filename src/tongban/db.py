"""Engine, sessions and the declarative base; the same code runs on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event, update
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

# Stable constraint names so Alembic migrations are the same on both databases.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, also on SQLite (which keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; store timezone-aware UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "savepoint", _sqlite_savepoint)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets readers go on while one writer writes; foreign keys are off by default in SQLite.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    # FULL: a transaction we have answered for survives a power cut, not only a killed process
    # (NORMAL would lose the last ones). It costs case submissions about 8% (bench/cases.py).
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


def _sqlite_savepoint(conn: Any, _name: str) -> None:
    """Python's sqlite3 module opens a transaction lazily, before the first INSERT, UPDATE or
    DELETE, but not before a SAVEPOINT: a savepoint issued first would open a transaction of
    its own whose RELEASE commits at once, surviving a later rollback of the request. So the
    transaction is opened here first. (Reads before the first write stay outside it, as the
    driver intends, so concurrent readers never block a writer's lock upgrade.)"""
    dbapi = conn.connection.driver_connection
    if not dbapi.in_transaction:
        dbapi.execute("BEGIN")


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back everything on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def locked(session: Session, model: Any, row_id: int) -> Any:
    """A row read afresh under its write lock, so two requests on it run one after the other.
    On PostgreSQL FOR UPDATE locks the row; SQLite has no row locks and reads outside the write
    transaction, so a no-op UPDATE first takes the database's write lock, and the read after it
    sees the last committed state."""
    session.execute(
        update(model)
        .where(model.id == row_id)
        .values(id=model.id)
        .execution_options(synchronize_session=False)
    )
    return session.get(model, row_id, with_for_update=True, populate_existing=True)
