"""What the fault tests share: a private PostgreSQL cluster they may stop, a demo node's
database on it, and real `tongban` processes on free ports."""

from __future__ import annotations

import base64
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests import pgcluster
from tongban.identity.demo import DEMO_PASSWORD

TONGBAN = [sys.executable, "-m", "tongban"]


def free_port() -> int:
    """A free port below the ephemeral range: while a server is down, a client's connection
    to its port could otherwise be given that same port as its own and connect to itself."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    below = range(10000, low)
    for port in random.sample(below, min(200, len(below))):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def node_env(database_url: str, files: Path, **extra: str) -> dict[str, str]:
    """The environment of a node's commands: its database, a KEK of its own, its uploads."""
    env = {
        **os.environ,
        "TONGBAN_DATABASE_URL": database_url,
        "TONGBAN_KEK": base64.b64encode(os.urandom(32)).decode(),
        "TONGBAN_FILES_DIR": str(files),
        "TONGBAN_LOGIN_RATE_PER_MINUTE": "10000",
        "TONGBAN_REQUIRE_STAFF_OTP": "false",
        "TONGBAN_LOG_LEVEL": "WARNING",
    }
    env.pop("TONGBAN_REGION_CODE", None)
    env.pop("TONGBAN_KEK_FILE", None)
    return env | extra


def run(env: dict[str, str], *args: str, timeout: float = 180) -> str:
    done = subprocess.run(
        [*TONGBAN, *args], env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"tongban {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@contextmanager
def private_cluster() -> Iterator[pgcluster.PgCluster]:
    """A PostgreSQL server of our own, to stop and start under a running node."""
    pgcluster.require()
    folder = Path(tempfile.mkdtemp(prefix="tongban-faults-"))
    os.chmod(folder, 0o755)  # the server runs as the postgres user
    cluster = pgcluster.PgCluster(folder / "pg")
    cluster.init()
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.destroy()
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


class Process:
    """One `tongban` command running in the background, its output in a log file."""

    def __init__(self, argv: Sequence[str], env: dict[str, str], log: Path) -> None:
        self.argv, self.env, self.log = list(argv), env, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [*TONGBAN, *self.argv], env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown handler, no last commit, no rollback sent."""
        if self.alive():
            assert self.proc is not None
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def wait(self, seconds: float) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout=seconds)

    def tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


class Server(Process):
    """`tongban serve` on a free port."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        super().__init__(["serve", "--port", str(self.port)], env, log)

    def start(self, seconds: float = 60) -> Server:
        super().start()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if not self.alive():
                raise AssertionError(f"serve exited:\n{self.tail()}")
            try:
                if httpx.get(self.base + "/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"serve not ready within {seconds} s:\n{self.tail()}")

    def token(self, user: str) -> dict[str, str]:
        r = httpx.post(
            self.base + "/api/v1/auth/token",
            json={"username": user, "password": DEMO_PASSWORD},
            timeout=10,
        )
        assert r.status_code == 200, r.text
        return {"authorization": "Bearer " + r.json()["access_token"]}


def until(check: Callable[[], Any], seconds: float, what: str, every: float = 0.05) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(every)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")
