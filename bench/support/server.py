"""A demo database served by a real `tongban serve` process, for benches over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def demo_server(folder: Path, name: str, **env_overrides: str) -> Iterator[str]:
    """Make a demo database in `folder`, serve it, yield its base URL, stop it afterwards."""
    db = folder / f"{name}.db"
    env = {**os.environ, "TONGBAN_LOGIN_RATE_PER_MINUTE": "10000", **env_overrides}
    env.pop("TONGBAN_DATABASE_URL", None)
    subprocess.run(
        [sys.executable, "-m", "tongban", "demo", "--db", str(db), "--no-serve"],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    port = free_port()
    env["TONGBAN_REQUIRE_STAFF_OTP"] = "false"  # serve finds the demo KEK beside the database
    proc = subprocess.Popen(
        [sys.executable, "-m", "tongban", "serve", "--db", str(db), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def login(base: str, username: str, password: str = "Demo@2026") -> dict[str, str]:
    r = httpx.post(base + "/api/v1/auth/token", json={"username": username, "password": password})
    r.raise_for_status()
    return {"authorization": "Bearer " + r.json()["access_token"]}
