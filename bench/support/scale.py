"""What bench/scale_data.py and bench/scale_queries.py share: where the scale database lives
(a PostgreSQL server, a database of its own) and the key-encryption key its data keys are
wrapped by (a file under build/scale/, as a deployment keeps TONGBAN_KEK_FILE)."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import make_url

from tongban.settings import Settings

SERVER = os.environ.get("TONGBAN_SCALE_SERVER", "postgresql+psycopg://postgres@127.0.0.1:5432/")
DATABASE = "tongban_scale"
ROOT = Path(__file__).resolve().parents[2]


def database_url(server: str, name: str) -> str:
    return make_url(server).set(database=name).render_as_string(hide_password=False)


def admin_dsn(server: str) -> str:
    """The server's maintenance database, in psycopg's own form (CREATE / DROP DATABASE)."""
    url = make_url(server).set(drivername="postgresql", database="postgres")
    return url.render_as_string(hide_password=False)


def kek_path(name: str) -> Path:
    return ROOT / "build" / "scale" / f"{name}.kek"


def settings_for(server: str, name: str) -> Settings:
    return Settings(database_url=database_url(server, name), kek_file=kek_path(name))


def database_exists(server: str, name: str) -> bool | None:
    """True or False; None when no server answers."""
    import psycopg

    try:
        with psycopg.connect(admin_dsn(server), autocommit=True, connect_timeout=3) as conn:
            row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    except psycopg.OperationalError:
        return None
    return row is not None
