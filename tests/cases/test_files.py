"""The file store: whole blobs or none, a clear refusal when the disk is full, orphans swept."""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

import pytest

from tongban.cases import files
from tongban.errors import DomainError


def test_a_blob_is_written_whole_and_read_back(tmp_path: Path) -> None:
    store = files.FileStore(tmp_path)
    ref = store.put(b"%PDF-1.7 hello")
    assert store.get(ref) == b"%PDF-1.7 hello"
    assert not list(tmp_path.glob("*/*.part"))
    with pytest.raises(ValueError, match="bad blob reference"):
        store.get("../../etc/passwd")


def test_a_full_disk_is_a_507_and_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = files.FileStore(tmp_path)

    def no_space(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(DomainError) as refused:
        store.put(b"%PDF-1.7 too much")
    assert refused.value.status == 507
    assert refused.value.code == "storage_full"
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"%PDF-1.4\n", "application/pdf"),
        (b"\xff\xd8\xff\xe0JFIF", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n....", "image/png"),
        (b"GIF89a", None),
        (b"<html>", None),
        (b"PK\x03\x04", None),
    ],
)
def test_the_type_comes_from_the_bytes(data: bytes, expected: str | None) -> None:
    assert files.sniff(data) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\身份证.jpg", "身份证.jpg"),
        ('a<b>:"|?*.pdf', "ab.pdf"),
        ("", "material.pdf"),
        (None, "material.pdf"),
        ("\x00\x07", "material.pdf"),
    ],
)
def test_file_names_lose_their_paths_and_odd_characters(name: str | None, expected: str) -> None:
    assert files.clean_filename(name, "application/pdf") == expected


def test_only_old_orphans_are_swept(tmp_path: Path) -> None:
    store = files.FileStore(tmp_path)
    kept, old_orphan, young_orphan = (store.put(b"%PDF " + bytes([i])) for i in range(3))
    past = time.time() - 7200
    for ref in (kept, old_orphan):
        os.utime(tmp_path / ref[:2] / ref, (past, past))

    class Rows:
        def scalars(self, _query: object) -> list[str]:
            return [kept]

    removed = files.prune_orphans(Rows(), store, older_than_seconds=3600)  # type: ignore[arg-type]
    assert removed == 1
    assert store.get(kept)
    assert store.get(young_orphan)
    with pytest.raises(FileNotFoundError):
        store.get(old_orphan)
