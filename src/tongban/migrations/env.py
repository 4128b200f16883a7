"""Alembic environment: the URL comes from the caller (tongban db upgrade) or the settings."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from tongban.db import Base, make_engine
from tongban.models_registry import import_all_models
from tongban.settings import get_settings

import_all_models()
target_metadata = Base.metadata
config = context.config


def _include_name(name: str | None, type_: str, parent_names: object) -> bool:
    # SQLite's FTS5 table and its shadow tables are made by hand in a migration, not by models.
    return not (type_ == "table" and name is not None and name.startswith("matter_fts"))


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_name=_include_name,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or get_settings().database_url
    engine = make_engine(url)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


run_migrations_online()
