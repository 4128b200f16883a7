"""Field encryption and blind indexes under a key hierarchy.

- The key-encryption key (KEK) comes from the deployment (`TONGBAN_KEK`, base64 of 32 bytes, or
  `TONGBAN_KEK_FILE`); it never enters the database. `tongban demo` generates one beside the
  demo database, so no secret lives in the repository.
- Data keys live in `data_keys`, each wrapped by a key derived from the KEK (HKDF-SM3). The
  active "field" key encrypts new values; retired ones still decrypt, until `tongban keys
  rotate` has re-encrypted every value under the new key, batch by batch.
- A field value is stored as `tb1.<key id>.<base64url(nonce | ciphertext | tag)>`, sealed with
  SM4-GCM (or AES-256-GCM) and the field's name as associated data, so a value copied into
  another column does not decrypt.
- Look-ups use a blind index: HMAC-SM3 of the field name and the normalised value under the
  "index" key, which is never rotated (every index would have to be recomputed).
- The KEK itself is changed by wrapping every data key again under the new one
  (`rewrap_data_keys`, `tongban keys rewrap`): one transaction, no value re-encrypted.
"""

from __future__ import annotations

import base64
import binascii
import os
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tongban.crypto.models import DataKey
from tongban.crypto.primitives import (
    KEY_BYTES,
    Aead,
    DecryptionFailed,
    hmac_sm3,
    new_key,
    open_sealed,
    seal,
    sm3,
)
from tongban.db import utcnow

TOKEN_PREFIX = "tb1"
FIELD = "field"
INDEX = "index"


class KeyUnavailable(Exception):
    """No usable key: no KEK is configured, or it is not the one the keys were wrapped with."""


@dataclass(frozen=True)
class Kek:
    key: bytes
    id: str

    @classmethod
    def from_bytes(cls, key: bytes) -> Kek:
        if len(key) != 32:
            raise KeyUnavailable(
                "the key-encryption key must be 32 bytes (base64 of 32 random bytes)"
            )
        return cls(key, sm3(key).hex()[:16])

    @classmethod
    def from_base64(cls, text: str) -> Kek:
        try:
            return cls.from_bytes(base64.b64decode(text.strip(), validate=True))
        except ValueError as exc:  # binascii.Error, or text that is not ASCII at all
            raise KeyUnavailable("the key-encryption key is not valid base64") from exc

    def wrapping_key(self, alg: Aead) -> bytes:
        hkdf = HKDF(
            algorithm=hashes.SM3(),
            length=KEY_BYTES[alg],
            salt=None,
            info=b"tongban data-key wrap " + alg.value.encode(),
        )
        return hkdf.derive(self.key)


def write_kek_file(path: Path) -> Kek:
    """A new random KEK in a file only its owner can read (what `tongban demo` does)."""
    key = os.urandom(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(base64.b64encode(key).decode() + "\n")
    return Kek.from_bytes(key)


def read_kek_file(path: Path) -> Kek:
    return Kek.from_base64(path.read_text(encoding="ascii"))


@dataclass
class Keyring:
    """The unwrapped data keys of one database, cached for the life of the process."""

    kek: Kek
    algorithm: Aead = Aead.SM4_GCM
    _keys: dict[int, tuple[Aead, bytes]] = field(default_factory=dict)
    _active: int | None = None
    _active_checked: float = 0.0
    _index_key: bytes | None = None
    # How long a process trusts its idea of the active key: after `tongban keys rotate`,
    # running servers switch to the new key within this time.
    active_ttl_seconds: float = 60.0

    # -- keys ----------------------------------------------------------------------------------

    def ensure_keys(self, session: Session) -> None:
        """Create the field and index keys of a new database (idempotent)."""
        for purpose in (FIELD, INDEX):
            exists = session.scalars(
                select(DataKey.id).where(DataKey.purpose == purpose, DataKey.active.is_(True))
            ).first()
            if exists is None:
                self._create(session, purpose)
        session.flush()

    def _create(self, session: Session, purpose: str) -> DataKey:
        self._refuse_a_second_kek(session)
        raw = new_key(self.algorithm)
        row = DataKey(
            purpose=purpose,
            algorithm=self.algorithm.value,
            wrapped=_wrap_data_key(self.kek, purpose, self.algorithm, raw),
            kek_id=self.kek.id,
            active=True,
        )
        session.add(row)
        session.flush()
        self._keys[row.id] = (self.algorithm, raw)
        if purpose == FIELD:
            self._active = row.id
        return row

    def _refuse_a_second_kek(self, session: Session) -> None:
        """A new data key goes under the KEK the others are under: a process still configured
        with the KEK before a rewrap must not add a key the new KEK cannot open."""
        others = set(session.scalars(select(DataKey.kek_id).distinct())) - {self.kek.id}
        if others:
            raise KeyUnavailable(
                f"the data keys are wrapped by key-encryption key {', '.join(sorted(others))}, "
                f"not by the configured one ({self.kek.id}): no new key is made under it"
            )

    def _unwrap(self, row: DataKey) -> tuple[Aead, bytes]:
        if row.id not in self._keys:
            self._keys[row.id] = (Aead(row.algorithm), unwrap_data_key(self.kek, row))
        return self._keys[row.id]

    def open_all(self, session: Session) -> int:
        """Unwrap every stored data key (what a deployment check or a restore proves); the
        number of keys. Raises KeyUnavailable for the first that does not open."""
        rows = list(session.scalars(select(DataKey).order_by(DataKey.id)))
        if not rows:
            raise KeyUnavailable("no data keys in the database: run `tongban keys init`")
        for row in rows:
            self._unwrap(row)
        return len(rows)

    def _key(self, session: Session, key_id: int) -> tuple[Aead, bytes]:
        if key_id in self._keys:
            return self._keys[key_id]
        row = session.get(DataKey, key_id)
        if row is None or row.purpose != FIELD:
            raise KeyUnavailable(f"no field key {key_id}")
        return self._unwrap(row)

    def active_key_id(self, session: Session) -> int:
        if (
            self._active is not None
            and time.monotonic() - self._active_checked > self.active_ttl_seconds
        ):
            self._active = None
        if self._active is None:
            row = session.scalars(
                select(DataKey)
                .where(DataKey.purpose == FIELD, DataKey.active.is_(True))
                .order_by(DataKey.id.desc())
            ).first()
            if row is None:
                raise KeyUnavailable("no field key: run `tongban keys init` (or `tongban demo`)")
            self._unwrap(row)
            self._active = row.id
            self._active_checked = time.monotonic()
        return self._active

    def index_key(self, session: Session) -> bytes:
        if self._index_key is None:
            row = session.scalars(
                select(DataKey).where(DataKey.purpose == INDEX).order_by(DataKey.id)
            ).first()
            if row is None:
                raise KeyUnavailable("no index key: run `tongban keys init` (or `tongban demo`)")
            self._index_key = self._unwrap(row)[1]
        return self._index_key

    # -- values --------------------------------------------------------------------------------

    def encrypt(self, session: Session, field_name: str, value: str) -> str:
        key_id = self.active_key_id(session)
        alg, key = self._keys[key_id]
        sealed = seal(alg, key, value.encode(), field_name.encode())
        return f"{TOKEN_PREFIX}.{key_id}.{base64.urlsafe_b64encode(sealed).decode().rstrip('=')}"

    def decrypt(self, session: Session, field_name: str, token: str) -> str:
        key_id, sealed = _parse(token)
        alg, key = self._key(session, key_id)
        return open_sealed(alg, key, sealed, field_name.encode()).decode()

    def encrypt_bytes(self, session: Session, purpose: str, data: bytes) -> bytes:
        """A file's bytes sealed with the active field key: 4 bytes of key id, then the seal."""
        key_id = self.active_key_id(session)
        alg, key = self._keys[key_id]
        return key_id.to_bytes(4, "big") + seal(alg, key, data, purpose.encode())

    def decrypt_bytes(self, session: Session, purpose: str, blob: bytes) -> bytes:
        if len(blob) < 5:
            raise DecryptionFailed("not a sealed file")
        alg, key = self._key(session, int.from_bytes(blob[:4], "big"))
        return open_sealed(alg, key, blob[4:], purpose.encode())

    def blind_index(self, session: Session, field_name: str, normalized: str) -> str:
        return hmac_sm3(self.index_key(session), f"{field_name}\x1f{normalized}".encode()).hex()

    # -- rotation ------------------------------------------------------------------------------

    def rotate(self, session: Session) -> int:
        """Make a new active field key; the old ones stay to decrypt until re-encryption ends."""
        for row in session.scalars(
            select(DataKey).where(DataKey.purpose == FIELD, DataKey.active.is_(True))
        ):
            row.active = False
            row.retired_at = utcnow()
        self._active = None
        return self._create(session, FIELD).id

    def reencrypt_batch(
        self, session: Session, columns: list[EncryptedColumn], batch: int = 500
    ) -> int:
        """Re-encrypt up to `batch` values not under the active key; returns how many."""
        active = self.active_key_id(session)
        prefix = f"{TOKEN_PREFIX}.{active}."
        done = 0
        for col in columns:
            attr = getattr(col.model, col.attr)
            rows = session.scalars(
                select(col.model)
                .where(attr.is_not(None), ~attr.startswith(prefix))
                .limit(batch - done)
            ).all()
            for row in rows:
                plain = self.decrypt(session, col.field, getattr(row, col.attr))
                setattr(row, col.attr, self.encrypt(session, col.field, plain))
            done += len(rows)
            if done >= batch:
                break
        session.flush()
        return done


def _wrap_aad(purpose: str, alg: Aead) -> bytes:
    return f"tongban data key|{purpose}|{alg.value}".encode()


class WrappedKey(Protocol):
    """A stored data key as the database row (or a backup's manifest) holds it."""

    @property
    def id(self) -> int: ...
    @property
    def purpose(self) -> str: ...
    @property
    def algorithm(self) -> str: ...
    @property
    def wrapped(self) -> bytes: ...
    @property
    def kek_id(self) -> str: ...


def unwrap_data_key(kek: Kek, key: WrappedKey) -> bytes:
    """The raw data key, or KeyUnavailable saying which KEK it needs."""
    if key.kek_id != kek.id:
        raise KeyUnavailable(
            f"data key {key.id} was wrapped by key-encryption key {key.kek_id}, "
            f"not by the configured one ({kek.id})"
        )
    alg = Aead(key.algorithm)
    try:
        return open_sealed(alg, kek.wrapping_key(alg), key.wrapped, _wrap_aad(key.purpose, alg))
    except DecryptionFailed as exc:
        raise KeyUnavailable(f"data key {key.id} does not unwrap with this KEK") from exc


def _wrap_data_key(kek: Kek, purpose: str, alg: Aead, raw: bytes) -> bytes:
    return seal(alg, kek.wrapping_key(alg), raw, _wrap_aad(purpose, alg))


@dataclass(frozen=True)
class Rewrap:
    """What `rewrap_data_keys` did: keys wrapped again, and keys already under the new KEK."""

    old_kek: str
    new_kek: str
    rewrapped: int
    already: int


def rewrap_data_keys(session: Session, current: Kek, new: Kek) -> Rewrap:
    """Wrap every data key again under `new`, in the caller's transaction; nothing a data key
    sealed is touched. Idempotent: keys already under `new` (a run that committed, then was
    started again) are only checked to open. Any key that opens under neither KEK stops the
    whole change, so a node never holds keys under two KEKs."""
    # On PostgreSQL the rows are locked, so a rotation running now waits for this to end.
    rows = list(session.scalars(select(DataKey).order_by(DataKey.id).with_for_update()))
    if not rows:
        raise KeyUnavailable("no data keys in the database: run `tongban keys init`")
    rewrapped = already = 0
    for row in rows:
        if row.kek_id == new.id:
            unwrap_data_key(new, row)
            already += 1
            continue
        raw = unwrap_data_key(current, row)
        row.wrapped = _wrap_data_key(new, row.purpose, Aead(row.algorithm), raw)
        row.kek_id = new.id
        unwrap_data_key(new, row)  # the new wrapping opens before anything is committed
        rewrapped += 1
    session.flush()
    left = session.scalar(select(func.count()).select_from(DataKey).where(DataKey.kek_id != new.id))
    if left:
        raise KeyUnavailable(
            f"{left} data keys were made under the old KEK meanwhile; nothing was changed: "
            "run it again"
        )
    return Rewrap(current.id, new.id, rewrapped, already)


def _parse(token: str) -> tuple[int, bytes]:
    try:
        prefix, key_id, body = token.split(".", 2)
        if prefix != TOKEN_PREFIX:
            raise ValueError(prefix)
        return int(key_id), base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (ValueError, binascii.Error) as exc:
        raise DecryptionFailed("not a field ciphertext") from exc


@dataclass(frozen=True)
class EncryptedColumn:
    """A column holding field ciphertexts, for rotation to find (registered by its module)."""

    model: Any
    attr: str
    field: str


ENCRYPTED_COLUMNS: list[EncryptedColumn] = []


def register_encrypted(model: Any, attr: str, field_name: str) -> None:
    ENCRYPTED_COLUMNS.append(EncryptedColumn(model, attr, field_name))


def rotate_all(
    sessions: Callable[[], AbstractContextManager[Session]], keyring: Keyring, batch: int = 500
) -> tuple[int, int]:
    """New key, then re-encrypt every registered column in committed batches.

    A crash part-way leaves a mix of old- and new-key values, all readable; running it again
    finishes the job. Returns (new key id, values re-encrypted).
    """
    with sessions() as session:
        keyring.ensure_keys(session)
        new_id = keyring.rotate(session)
    total = 0
    while True:
        with sessions() as session:
            n = keyring.reencrypt_batch(session, list(ENCRYPTED_COLUMNS), batch)
        total += n
        if n == 0:
            return new_id, total
