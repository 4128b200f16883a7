"""Uploaded materials: checked by their bytes, encrypted at rest, stored once per content.

The file store keeps sealed blobs under random names, written to a temporary file, flushed to
disk and renamed into place, so a crash leaves either the whole blob or none. The database row
that points at a blob is written in the request's transaction: a blob without a row (a crash
between the two, or a rolled-back request) is an orphan that `prune_orphans` removes later; a
row never points at a missing or half-written blob.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tongban.cases.models import CaseFile
from tongban.crypto.service import Keyring
from tongban.errors import DomainError, FieldError, validation_failed

# What a material may be, recognised by its first bytes (the client's content type is a claim).
SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "application/pdf": (b"%PDF-",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
}
MAX_FILES_PER_MATERIAL = 5
SIGNATURE_KEY = "_signature"  # the applicant's signature on the counter's pad
_REF = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class FileStore:
    """Blobs in a local folder (an S3-compatible store fits the same three calls)."""

    root: Path

    def _path(self, ref: str) -> Path:
        if not _REF.match(ref):
            raise ValueError("bad blob reference")
        return self.root / ref[:2] / ref

    def put(self, data: bytes) -> str:
        ref = secrets.token_hex(16)
        path = self._path(ref)
        try:
            if not path.parent.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                _fsync_dir(self.root)  # the new shard folder's entry survives a power loss
            tmp = path.with_suffix(".part")
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
            _fsync_dir(path.parent)
        except OSError as exc:
            _remove_quietly(path.with_suffix(".part"))
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise DomainError(
                    code="storage_full",
                    title="存储空间不足，材料未保存，请稍后再试",
                    title_en="Storage is full; the file was not saved, try again later",
                    status=507,
                ) from exc
            raise
        return ref

    def get(self, ref: str) -> bytes:
        return self._path(ref).read_bytes()

    def delete(self, ref: str) -> None:
        _remove_quietly(self._path(ref))

    def refs(self) -> list[tuple[str, float]]:
        """Every blob with its modification time (for the orphan sweep)."""
        if not self.root.exists():
            return []
        return [
            (p.name, p.stat().st_mtime)
            for p in self.root.glob("*/*")
            if p.is_file() and _REF.match(p.name)
        ]

    def remove_partial(self, older_than: float) -> int:
        """Remove half-written files a crash left behind (never renamed into place)."""
        removed = 0
        for p in self.root.glob("*/*.part") if self.root.exists() else []:
            if p.stat().st_mtime < older_than:
                _remove_quietly(p)
                removed += 1
        return removed


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def sniff(data: bytes) -> str | None:
    for content_type, magics in SIGNATURES.items():
        if any(data.startswith(m) for m in magics):
            return content_type
    return None


def clean_filename(name: str | None, content_type: str) -> str:
    """Keep a readable name for staff, without paths or control characters."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ch.isprintable() and ch not in '<>:"|?*').strip()
    if not base:
        base = "material." + content_type.rsplit("/", 1)[-1].replace("jpeg", "jpg")
    return base[:120]


def checked_upload(data: bytes, max_bytes: int, field: str = "file") -> str:
    """The content type of an acceptable upload, or a 422 that says what is wrong."""
    if not data:
        raise validation_failed([FieldError(field, "文件为空", "empty")])
    if len(data) > max_bytes:
        raise DomainError(
            code="file_too_large",
            title=f"文件超过{max_bytes // (1024 * 1024)}MB",
            title_en=f"The file is larger than {max_bytes // (1024 * 1024)} MB",
            status=413,
        )
    content_type = sniff(data)
    if content_type is None:
        raise validation_failed(
            [FieldError(field, "只能上传PDF、JPG或PNG文件", "unsupported_type")]
        )
    return content_type


def store_file(
    session: Session,
    store: FileStore,
    keyring: Keyring,
    *,
    case_id: int,
    material_key: str,
    data: bytes,
    filename: str,
    content_type: str,
    account_id: int,
) -> tuple[CaseFile, bool]:
    """The file's row, and whether it is new: the same content for the same material of the
    same case is the same file, so a retried upload stores nothing twice."""
    digest = hashlib.sha256(data).hexdigest()
    same = _existing(session, case_id, material_key, digest)
    if same is not None:
        return same, False
    count = session.scalar(
        select(func.count(CaseFile.id)).where(
            CaseFile.case_id == case_id, CaseFile.material_key == material_key
        )
    )
    if (count or 0) >= MAX_FILES_PER_MATERIAL:
        raise DomainError(
            code="too_many_files",
            title=f"每项材料最多上传{MAX_FILES_PER_MATERIAL}个文件",
            title_en=f"At most {MAX_FILES_PER_MATERIAL} files per material",
            status=409,
        )
    ref = store.put(keyring.encrypt_bytes(session, _purpose(case_id), data))
    row = CaseFile(
        case_id=case_id,
        material_key=material_key,
        sha256=digest,
        size=len(data),
        content_type=content_type,
        filename=filename,
        blob_ref=ref,
        uploaded_by=account_id,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        # A retry of the same upload got there first: keep its blob, drop ours.
        store.delete(ref)
        existing = _existing(session, case_id, material_key, digest)
        assert existing is not None
        return existing, False
    return row, True


def _existing(session: Session, case_id: int, material_key: str, digest: str) -> CaseFile | None:
    return session.scalars(
        select(CaseFile).where(
            CaseFile.case_id == case_id,
            CaseFile.material_key == material_key,
            CaseFile.sha256 == digest,
        )
    ).first()


def _purpose(case_id: int) -> str:
    # Bound to its case: a blob copied under another case's row does not open.
    return f"case.file|{case_id}"


def read_file(session: Session, store: FileStore, keyring: Keyring, row: CaseFile) -> bytes:
    return keyring.decrypt_bytes(session, _purpose(row.case_id), store.get(row.blob_ref))


def files_of(session: Session, case_id: int) -> list[CaseFile]:
    return list(
        session.scalars(select(CaseFile).where(CaseFile.case_id == case_id).order_by(CaseFile.id))
    )


def prune_orphans(session: Session, store: FileStore, older_than_seconds: float = 3600) -> int:
    """Remove blobs no row points at (a crash or a rolled-back upload left them); young ones
    are spared, their request may still be committing."""
    known = set(session.scalars(select(CaseFile.blob_ref)))
    cutoff = time.time() - older_than_seconds
    removed = store.remove_partial(cutoff)
    for ref, mtime in store.refs():
        if ref not in known and mtime < cutoff:
            store.delete(ref)
            removed += 1
    return removed
