"""Migrations build exactly the schema the models describe, and undo cleanly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from tongban.db import Base
from tongban.migrate import current_revision, head_revision, upgrade
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
    from alembic import command

    from tongban.migrate import alembic_config

    cfg = alembic_config()
    with empty_engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    tables = set(inspect(empty_engine).get_table_names()) - {"alembic_version"}
    assert tables == set()
    upgrade(empty_engine)
    assert current_revision(empty_engine) == upgrade_to
