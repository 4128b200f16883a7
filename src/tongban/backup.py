"""A node's backup: the database, then the uploads folder, then a manifest (`tongban backup`).

The order is what makes a backup whole: a row in the database copy always finds its blob in
the folder copied after it, while a blob newer than the database copy is an orphan the sweep
removes. The manifest comes last, so a folder without one is a backup that did not finish.

The key-encryption key is never part of a backup: it lives in the secret store and is backed
up there. The manifest names it (its id) and holds the wrapped data keys, so `tongban backup
check` can prove, before a restore is needed, that the KEK held in the secret store opens
this backup.

SQLite is copied with its online backup API (consistent while the node serves); PostgreSQL
with `pg_dump --format=custom` (one snapshot), restored with `pg_restore` (docs/operations.md).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, make_url, select

from tongban import __version__
from tongban.crypto.service import Kek, KeyUnavailable, unwrap_data_key

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_COPY = "database.sqlite3"
POSTGRES_DUMP = "database.pgdump"
FILES = "files"
# Written by the running node and not part of its state: half-written uploads, doctor's probe.
_NOT_COPIED = ("*.part", ".tongban-doctor-*")


class BackupFailed(Exception):
    """The backup could not be made or checked; the message says why."""


@dataclass(frozen=True)
class StoredKey:
    """A data key as the manifest keeps it: wrapped, so only the KEK opens it."""

    id: int
    purpose: str
    algorithm: str
    kek_id: str
    active: bool
    wrapped_b64: str

    @property
    def wrapped(self) -> bytes:
        return base64.b64decode(self.wrapped_b64)


@dataclass(frozen=True)
class Manifest:
    created_at: str
    tongban_version: str
    backend: str  # sqlite | postgresql
    database_file: str
    database_sha256: str
    database_bytes: int
    revision: str | None
    region_code: str | None
    files: int
    files_bytes: int
    data_keys: list[StoredKey] = field(default_factory=list)
    format: int = FORMAT

    @property
    def kek_ids(self) -> list[str]:
        return sorted({k.kek_id for k in self.data_keys})

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        raw: dict[str, Any] = json.loads(text)
        if raw.get("format") != FORMAT:
            raise BackupFailed(f"manifest format {raw.get('format')!r} is not {FORMAT}")
        keys = [StoredKey(**k) for k in raw.pop("data_keys")]
        return cls(**raw, data_keys=keys)


@dataclass(frozen=True)
class NodeState:
    """What must not change while the database is copied: its schema, region and keys."""

    revision: str | None
    region_code: str | None
    data_keys: list[StoredKey]


def node_state(engine: Engine) -> NodeState:
    from tongban.crypto.models import DataKey
    from tongban.db import make_sessionmaker
    from tongban.identity.service import database_region
    from tongban.migrate import current_revision

    session = make_sessionmaker(engine)()
    try:
        keys = [
            StoredKey(
                row.id,
                row.purpose,
                row.algorithm,
                row.kek_id,
                row.active,
                base64.b64encode(row.wrapped).decode(),
            )
            for row in session.scalars(select(DataKey).order_by(DataKey.id))
        ]
    finally:
        session.rollback()
        session.close()
    return NodeState(current_revision(engine), database_region(engine), keys)


# -- making a backup ---------------------------------------------------------------------------


def create_backup(
    database_url: str, engine: Engine, files_dir: Path, dest: Path, *, pg_dump: str = "pg_dump"
) -> Manifest:
    """Database first, then the uploads, then the manifest, into `dest` (new or empty)."""
    _require_empty(dest)
    before = node_state(engine)
    if before.revision is None:
        raise BackupFailed("the database has no schema: nothing to back up")
    backend = make_url(database_url).get_backend_name()
    if backend == "sqlite":
        copy = _copy_sqlite(_sqlite_path(database_url), dest / SQLITE_COPY)
    elif backend == "postgresql":
        copy = _dump_postgres(database_url, dest / POSTGRES_DUMP, pg_dump)
    else:
        raise BackupFailed(f"cannot back up a {backend} database")
    if node_state(engine) != before:
        raise BackupFailed(
            "the schema or the data keys changed while the database was copied (a migration "
            "or a key rotation ran): take the backup again"
        )
    count, size = _copy_uploads(files_dir, dest / FILES)
    manifest = Manifest(
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        tongban_version=__version__,
        backend=backend,
        database_file=copy.name,
        database_sha256=_sha256(copy),
        database_bytes=copy.stat().st_size,
        revision=before.revision,
        region_code=before.region_code,
        files=count,
        files_bytes=size,
        data_keys=before.data_keys,
    )
    _write_whole(dest / MANIFEST, manifest.to_json())
    return manifest


def _require_empty(dest: Path) -> None:
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupFailed(f"{dest} is not an empty folder: a backup never overwrites another")
    dest.mkdir(parents=True, exist_ok=True)


def _sqlite_path(database_url: str) -> Path:
    name = make_url(database_url).database
    if not name or name == ":memory:":
        raise BackupFailed("an in-memory database cannot be backed up")
    return Path(name)


def _copy_sqlite(source: Path, target: Path) -> Path:
    """SQLite's online backup: a consistent copy while writers go on (WAL included)."""
    if not source.exists():
        raise BackupFailed(f"no database file at {source}")
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
        # One self-contained file: the copy needs no -wal beside it.
        dst.execute("PRAGMA journal_mode=DELETE")
        verdict = dst.execute("PRAGMA quick_check").fetchone()[0]
    finally:
        dst.close()
        src.close()
    if verdict != "ok":
        raise BackupFailed(f"the copy of {source} does not check: {verdict}")
    return target


def _libpq(database_url: str) -> tuple[str, dict[str, str]]:
    """The URL pg_dump takes, and the environment that carries its password (kept off the
    command line, where `ps` would show it)."""
    url = make_url(database_url)
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _dump_postgres(database_url: str, target: Path, pg_dump: str) -> Path:
    """pg_dump's custom format (one consistent snapshot), then read back by pg_restore --list."""
    url, env = _libpq(database_url)
    _run([pg_dump, "--format=custom", f"--file={target}", f"--dbname={url}"], env)
    pg_restore = str(Path(pg_dump).with_name("pg_restore")) if os.sep in pg_dump else "pg_restore"
    _run([pg_restore, "--list", str(target)], env)
    return target


def _run(command: list[str], env: dict[str, str]) -> None:
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise BackupFailed(
            f"{command[0]} is not installed (PostgreSQL's client tools, of the server's "
            "major version or newer)"
        ) from exc
    if done.returncode != 0:
        raise BackupFailed(f"{Path(command[0]).name} failed: {done.stderr.strip()}")


def _copy_uploads(source: Path, target: Path) -> tuple[int, int]:
    """The sealed blobs, times kept (the orphan sweep goes by age). Blobs are renamed into
    place whole, so the copy holds whole blobs only."""
    if not source.is_dir():
        target.mkdir()
        return 0, 0
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(*_NOT_COPIED))
    blobs = [p for p in target.rglob("*") if p.is_file()]
    return len(blobs), sum(p.stat().st_size for p in blobs)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _write_whole(path: Path, text: str) -> None:
    tmp = path.with_suffix(".part")
    with tmp.open("w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


# -- checking a backup -------------------------------------------------------------------------


@dataclass(frozen=True)
class BackupCheck:
    manifest: Manifest
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def read_manifest(folder: Path) -> Manifest:
    path = folder / MANIFEST
    if not path.exists():
        raise BackupFailed(f"{folder} has no {MANIFEST}: the backup did not finish")
    return Manifest.from_json(path.read_text(encoding="utf-8"))


def check_backup(folder: Path, kek: Kek | None) -> BackupCheck:
    """Is the backup whole (the database copy as written, every blob there), and does this KEK
    open every data key it holds? Reads the backup only."""
    manifest = read_manifest(folder)
    problems: list[str] = []
    copy = folder / manifest.database_file
    if not copy.exists():
        problems.append(f"the database copy {manifest.database_file} is missing")
    elif _sha256(copy) != manifest.database_sha256:
        problems.append(f"the database copy {manifest.database_file} changed since the backup")
    blobs = [p for p in (folder / FILES).rglob("*") if p.is_file()]
    if len(blobs) != manifest.files:
        problems.append(f"{len(blobs)} uploaded files, the backup had {manifest.files}")
    if kek is None:
        problems.append("no key-encryption key configured to check the data keys against")
    else:
        problems += _unopened(manifest, kek)
    return BackupCheck(manifest, problems)


def _unopened(manifest: Manifest, kek: Kek) -> list[str]:
    if not manifest.data_keys:
        return ["the backup holds no data keys"]
    problems = []
    for key in manifest.data_keys:
        try:
            unwrap_data_key(kek, key)
        except KeyUnavailable as exc:
            problems.append(str(exc))
    return problems
