"""The uploads' disk full: a real `tongban serve` keeps its uploads on a tiny tmpfs, which is
filled; an upload is answered 507 `storage_full`, leaves no row, no temporary or partial file
and the case as it was; once space is freed the same upload succeeds, once."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cases.helpers import _made_up
from tests.faults.helpers import Server, node_env, run

SCHOOL = "20P010000001"  # 小学入学: materials to upload
PDF = b"%PDF-1.4\n% a scanned material\n" + os.urandom(8 * 1024)
SIZE_KB = 512


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "uploads"
    folder.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SIZE_KB}k", "tmpfs", str(folder)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def _fill(folder: Path) -> Path:
    filler = folder / "filler"
    failure = 0
    with filler.open("wb", buffering=0) as f:
        while not failure:
            try:
                f.write(b"\0" * 4096)
            except OSError as exc:
                failure = exc.errno or -1
    assert failure == errno.ENOSPC, failure
    return filler


def _files_on(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def _case(http: httpx.Client, case_id: int) -> dict[str, Any]:
    r = http.get(f"/api/v1/cases/{case_id}")
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_a_full_uploads_disk_is_a_507_and_nothing_is_half_written(
    tmp_path: Path, tiny_disk: Path
) -> None:
    env = node_env(f"sqlite:///{tmp_path / 'node.db'}", tiny_disk)
    run(env, "demo", "--no-serve")
    server = Server(env, tmp_path / "serve.log").start()
    try:
        headers = server.token("citizen1")
        with httpx.Client(base_url=server.base, headers=headers, timeout=30) as http:
            form = http.get(f"/api/v1/matters/{SCHOOL}/form").json()
            values = {
                f["key"]: f["value"] if f["value"] is not None else _made_up(f)
                for f in form["fields"]
                if f["value"] is not None or f["required"]
            }
            material = next(m["key"] for m in form["materials"] if m["resolution"] == "upload")
            r = http.post("/api/v1/cases", json={"matter": SCHOOL, "form": values, "submit": False})
            assert r.status_code == 201, r.text
            case_id = int(r.json()["id"])
            before = _case(http, case_id)
            url = f"/api/v1/cases/{case_id}/materials/{material}"
            upload = {"file": ("scan.pdf", PDF, "application/pdf")}

            filler = _fill(tiny_disk)
            present = _files_on(tiny_disk)
            refused = http.post(url, files=upload)
            assert refused.status_code == 507, refused.text
            assert refused.headers["content-type"].startswith("application/problem+json")
            problem = refused.json()
            assert problem["code"] == "storage_full"
            assert problem["title"] and problem["title_en"]
            assert _files_on(tiny_disk) == present, "a partial or temporary file was left"
            assert _case(http, case_id) == before  # no file row, nothing else changed

            filler.unlink()
            stored = http.post(url, files=upload)
            assert stored.status_code == 201, stored.text
            again = http.post(url, files=upload)
            assert again.status_code == 200 and again.json()["id"] == stored.json()["id"]
            new = set(_files_on(tiny_disk)) - set(present)
            assert len(new) == 1 and not any(p.endswith(".part") for p in new), new
            after = _case(http, case_id)
            uploaded = next(m["files"] for m in after["materials"] if m["key"] == material)
            assert len(uploaded) == 1, uploaded
    finally:
        server.stop()
