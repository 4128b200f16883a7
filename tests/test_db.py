"""The database helpers: a savepoint never commits on its own."""

from __future__ import annotations

from sqlalchemy import Engine, text

from tests.conftest import rolled_back


def test_a_savepoint_first_in_a_transaction_rolls_back_with_it(empty_engine: Engine) -> None:
    with empty_engine.begin() as conn:
        conn.execute(text("CREATE TABLE savepoint_probe (x INTEGER PRIMARY KEY)"))
    with rolled_back(empty_engine) as session:
        session.execute(text("SELECT 1"))  # a read first, as a request does
        with session.begin_nested():
            session.execute(text("INSERT INTO savepoint_probe VALUES (1)"))
    with empty_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM savepoint_probe")).scalar() == 0
        conn.execute(text("DROP TABLE savepoint_probe"))
        conn.commit()
