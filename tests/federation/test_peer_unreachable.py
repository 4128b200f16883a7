"""A peer region that cannot be reached when it is first trusted: `tongban peers add` against a
closed port or a peer that accepts the connection and never answers says so clearly within the
configured timeout, exits 1, and trusts nothing."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

TONGBAN = [sys.executable, "-m", "tongban"]
TIMEOUT_S = 2.0  # TONGBAN_FEDERATION_TIMEOUT_SECONDS for these commands


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    db = tmp_path_factory.mktemp("unreachable") / "sh.db"
    env = {**os.environ, "TONGBAN_FEDERATION_TIMEOUT_SECONDS": str(TIMEOUT_S)}
    for name in ("TONGBAN_DATABASE_URL", "TONGBAN_REGION_CODE", "TONGBAN_KEK"):
        env.pop(name, None)
    subprocess.run(
        [*TONGBAN, "demo", "--db", str(db), "--no-serve"],
        env=env, check=True, stdout=subprocess.DEVNULL, timeout=180,
    )  # fmt: skip
    return db, env


@pytest.fixture
def silent_peer() -> Iterator[str]:
    """A port that accepts connections and never answers (a hung peer)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def _closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"  # closed when the socket is


def _peers_add(
    node: tuple[Path, dict[str, str]], url: str
) -> tuple[subprocess.CompletedProcess[str], float]:
    db, env = node
    started = time.monotonic()
    done = subprocess.run(
        [*TONGBAN, "peers", "add", "--url", url, "--agree-shared", "--db", str(db)],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return done, time.monotonic() - started


def _peers(node: tuple[Path, dict[str, str]]) -> str:
    db, env = node
    done = subprocess.run(
        [*TONGBAN, "peers", "list", "--db", str(db)],
        env=env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return done.stdout.strip()


@pytest.mark.parametrize("how", ["closed", "silent"])
def test_trusting_a_peer_that_cannot_be_reached_fails_clearly_and_changes_nothing(
    node: tuple[Path, dict[str, str]], silent_peer: str, how: str
) -> None:
    before = _peers(node)
    url = _closed_port() if how == "closed" else silent_peer
    done, took = _peers_add(node, url)
    assert done.returncode == 1, done.stdout + done.stderr
    message = done.stdout + done.stderr
    assert "cannot be reached now" in message and "Traceback" not in message, message
    # Within the timeout (and the command's start-up), not hanging on the peer.
    assert took < TIMEOUT_S + 15, took
    assert _peers(node) == before
