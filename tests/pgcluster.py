"""A private PostgreSQL server for the tests that must stop, restart or replicate one.

The machine's shared server (TONGBAN_TEST_DATABASE_URL) cannot be restarted under other
people's tests, so these tests make a cluster of their own with the same binaries: `initdb`
in a temporary folder, a free port, trust authentication on 127.0.0.1 only. PostgreSQL
refuses to run as root, so as root every command runs as the `postgres` user.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

_ROOTS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
BIN = next((root for root in _ROOTS if (root / "initdb").exists()), None)


def available() -> bool:
    return BIN is not None


def require() -> None:
    """Skip the calling test when this machine has no PostgreSQL binaries."""
    if BIN is None:
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl) on this machine")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_owner(argv: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


class PgCluster:
    """One cluster: `start()`, `stop()`, `restart()`, `url(database)`, `standby()`."""

    def __init__(self, folder: Path, port: int | None = None) -> None:
        assert BIN is not None
        self.folder = folder
        self.data = folder / "data"
        self.port = port or free_port()
        self.log = folder / "server.log"

    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        assert BIN is not None
        return subprocess.run(
            _as_owner([str(BIN / argv[0]), *argv[1:]]),
            check=check,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def _own_folder(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")

    def init(self) -> PgCluster:
        self._own_folder()
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8")
        self._configure()
        return self

    def _configure(self) -> None:
        settings = (
            f"port = {self.port}\n"
            "listen_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = '{self.folder}'\n"
            "fsync = off\n"  # a test cluster: durability is the shared server's concern
            "wal_level = replica\nmax_wal_senders = 4\nhot_standby = on\n"
            "shared_buffers = 64MB\nmax_connections = 100\n"
        )
        with (self.data / "postgresql.auto.conf").open("a") as conf:
            conf.write(settings)
        with (self.data / "pg_hba.conf").open("a") as hba:
            hba.write("host replication all 127.0.0.1/32 trust\n")

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def restart(self, mode: str = "fast") -> None:
        # -l: without a log file the new server would hold our output pipe open
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-m", mode, "-w", "-t", "60",
            "restart",
        )  # fmt: skip

    def is_ready(self) -> bool:
        done = self._run("pg_isready", "-h", "127.0.0.1", "-p", str(self.port), check=False)
        return done.returncode == 0

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        done = self._run(
            "psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database,
            "-v", "ON_ERROR_STOP=1", "-tAc", sql,
        )  # fmt: skip
        return done.stdout.strip()

    def create_database(self, name: str) -> str:
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def standby(self, folder: Path) -> PgCluster:
        """A streaming replica of this (running) cluster, started and caught up."""
        replica = PgCluster(folder)
        replica._own_folder()
        replica._run(
            "pg_basebackup", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
            "-D", str(replica.data), "-R", "-X", "stream", "-c", "fast",
        )  # fmt: skip
        with (replica.data / "postgresql.auto.conf").open("a") as conf:
            conf.write(f"port = {replica.port}\nunix_socket_directories = '{replica.folder}'\n")
        replica.start()
        return replica

    def wait_ready(self, seconds: float = 30.0) -> None:
        deadline = time.monotonic() + seconds
        while not self.is_ready():
            if time.monotonic() > deadline:
                raise TimeoutError(f"PostgreSQL on {self.port} did not come up")
            time.sleep(0.2)

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)
