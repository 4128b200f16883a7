"""Liveness and readiness, and what the app does when it cannot do its work."""

from __future__ import annotations

import base64
import os
from pathlib import Path

from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine

from tongban.app import create_app
from tongban.db import make_engine
from tongban.settings import Settings, sqlite_url


def test_healthz_and_readyz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200
    # This node has no KEK: it serves the catalog only, and is ready for that.
    assert r.json() == {
        "status": "ok",
        "checks": {"database": "ok", "migrations": "ok", "keys": "none"},
    }


def test_readyz_keeps_a_process_with_the_wrong_kek_out_of_rotation(
    app_client: TestClient, demo_engine: Engine, settings: Settings
) -> None:
    ready = app_client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["keys"] == "ok"
    other_kek = SecretStr(base64.b64encode(os.urandom(32)).decode())
    wrong = settings.model_copy(update={"kek": other_kek})
    with TestClient(create_app(wrong, demo_engine)) as client:
        refused = client.get("/readyz")
        assert refused.status_code == 503
        assert refused.json()["checks"]["keys"].startswith("unavailable")
        assert client.get("/healthz").status_code == 200  # alive, only not to be sent traffic


def test_readyz_says_when_migrations_are_pending(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "new.db")
    with TestClient(create_app(Settings(database_url=url), make_engine(url))) as c:
        r = c.get("/readyz")
        assert r.status_code == 503
        assert r.json()["checks"]["migrations"] == "pending"
        assert c.get("/healthz").status_code == 200


def test_readyz_says_when_the_database_is_unreachable() -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    with TestClient(
        create_app(Settings(database_url=url), make_engine(url, pool_pre_ping=False))
    ) as c:
        r = c.get("/readyz")
        assert r.status_code == 503
        assert r.json()["checks"]["database"].startswith("unavailable")


def test_a_crash_is_a_500_problem_without_internals(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "empty.db")  # not migrated: every catalog query fails
    app = create_app(Settings(database_url=url), make_engine(url))
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/api/v1/catalog/stats")
        assert r.status_code == 500
        assert r.headers["content-type"] == "application/problem+json"
        body = r.json()
        assert body["code"] == "internal_error" and "sqlite" not in r.text.lower()


def test_times_on_pages_are_beijing_time() -> None:
    from datetime import UTC, datetime

    from tongban.portal.rendering import local_time

    assert local_time(datetime(2026, 11, 27, 20, 30, tzinfo=UTC)) == "2026-11-28 04:30"
    assert local_time("2026-11-27T20:30:00+00:00", "%H:%M") == "04:30"
    assert local_time(None) == "—"


def _multipart(boundary: str, text: bytes, file: bytes) -> bytes:
    return b"".join(
        [
            f"--{boundary}\r\n".encode(),
            b'Content-Disposition: form-data; name="note"\r\n\r\n' + text + b"\r\n",
            f"--{boundary}\r\n".encode(),
            b'Content-Disposition: form-data; name="photo"; filename="code.png"\r\n'
            b"Content-Type: image/png\r\n\r\n" + file + b"\r\n",
            f"--{boundary}--\r\n".encode(),
        ]
    )


def test_a_browsers_upload_with_a_mixed_case_boundary_passes_the_nul_check(
    client: TestClient,
) -> None:
    # Chromium's boundaries are mixed case; a lowered boundary splits nothing and the file's
    # NUL bytes were taken for a text field's.
    boundary = "----WebKitFormBoundaryKZZJ7qAZ0QHrpucs"
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00"
    headers = {"content-type": f"multipart/form-data; boundary={boundary}"}
    passed = client.post(
        "/api/v1/no-such-upload", content=_multipart(boundary, b"ok", png), headers=headers
    )
    assert passed.status_code == 404  # through the check, to the router
    refused = client.post(
        "/api/v1/no-such-upload", content=_multipart(boundary, b"a\x00b", png), headers=headers
    )
    assert refused.status_code == 400 and refused.json()["code"] == "bad_request"
