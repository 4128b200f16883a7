"""Field encryption, blind indexes and key rotation, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, String, Text, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from tongban.crypto.models import DataKey
from tongban.crypto.primitives import Aead, DecryptionFailed, open_sealed, seal, sm3
from tongban.crypto.service import (
    EncryptedColumn,
    Kek,
    Keyring,
    KeyUnavailable,
    read_kek_file,
    rewrap_data_keys,
    rotate_all,
    write_kek_file,
)
from tongban.db import make_sessionmaker, transaction


def test_sm3_matches_the_standards_example() -> None:
    # GB/T 32905-2016, example 1: SM3("abc").
    assert sm3(b"abc").hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"


@pytest.mark.parametrize("alg", list(Aead))
def test_seal_and_open_and_tampering(alg: Aead) -> None:
    key = os.urandom(16 if alg is Aead.SM4_GCM else 32)
    sealed = seal(alg, key, b"310115198001010016", b"person.id_number")
    assert open_sealed(alg, key, sealed, b"person.id_number") == b"310115198001010016"
    flipped = sealed[:-1] + bytes([sealed[-1] ^ 1])
    for bad in (
        lambda: open_sealed(alg, key, flipped, b"person.id_number"),
        lambda: open_sealed(alg, key, sealed, b"person.phone"),  # moved to another column
        lambda: open_sealed(alg, os.urandom(len(key)), sealed, b"person.id_number"),
        lambda: open_sealed(alg, key, sealed[:10], b"person.id_number"),
    ):
        with pytest.raises(DecryptionFailed):
            bad()


@pytest.fixture
def kek() -> Kek:
    return Kek.from_bytes(os.urandom(32))


@pytest.mark.parametrize("alg", list(Aead))
def test_encrypt_decrypt_and_blind_index(empty_db: Session, kek: Kek, alg: Aead) -> None:
    ring = Keyring(kek, alg)
    ring.ensure_keys(empty_db)
    token = ring.encrypt(empty_db, "person.phone", "13800138000")
    assert token.startswith("tb1.") and "13800138000" not in token
    assert ring.encrypt(empty_db, "person.phone", "13800138000") != token  # fresh nonce
    # A second process with the same KEK reads it; the wrapped key is all the database holds.
    other = Keyring(kek, alg)
    assert other.decrypt(empty_db, "person.phone", token) == "13800138000"
    index = ring.blind_index(empty_db, "person.phone", "13800138000")
    assert index == other.blind_index(empty_db, "person.phone", "13800138000")
    assert index != ring.blind_index(empty_db, "person.id_number", "13800138000")
    assert len(index) == 64
    with pytest.raises(DecryptionFailed):
        ring.decrypt(empty_db, "person.id_number", token)
    with pytest.raises(DecryptionFailed):
        ring.decrypt(empty_db, "person.phone", "not a token")


def test_a_different_kek_cannot_read(empty_db: Session, kek: Kek) -> None:
    ring = Keyring(kek)
    ring.ensure_keys(empty_db)
    token = ring.encrypt(empty_db, "person.phone", "13800138000")
    with pytest.raises(KeyUnavailable):
        Keyring(Kek.from_bytes(os.urandom(32))).decrypt(empty_db, "person.phone", token)


def test_ensure_keys_is_idempotent(empty_db: Session, kek: Kek) -> None:
    ring = Keyring(kek)
    ring.ensure_keys(empty_db)
    ring.ensure_keys(empty_db)
    purposes = sorted(empty_db.scalars(select(DataKey.purpose)))
    assert purposes == ["field", "index"]


def test_kek_files(tmp_path: Path) -> None:
    kek = write_kek_file(tmp_path / "k" / "kek")
    assert (tmp_path / "k" / "kek").stat().st_mode & 0o777 == 0o600
    assert read_kek_file(tmp_path / "k" / "kek") == kek
    with pytest.raises(FileExistsError):
        write_kek_file(tmp_path / "k" / "kek")  # never overwrite a key that data depends on
    with pytest.raises(KeyUnavailable):
        Kek.from_base64(base64.b64encode(b"short").decode())
    with pytest.raises(KeyUnavailable):
        Kek.from_base64("not base64 at all!")


class _TestBase(DeclarativeBase):
    """Kept apart from the application's metadata, so migrations never see this table."""


class _Secret(_TestBase):
    """A table only this test module uses, holding ciphertexts to rotate."""

    __tablename__ = "test_secrets"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(20))
    phone: Mapped[str | None] = mapped_column(Text)


def test_rotation_reencrypts_in_batches_and_old_values_stay_readable(
    empty_engine: Engine, kek: Kek
) -> None:
    _Secret.__table__.create(empty_engine)  # type: ignore[attr-defined]
    factory = make_sessionmaker(empty_engine)

    @contextmanager
    def sessions() -> Iterator[Session]:
        with transaction(factory) as s:
            yield s

    ring = Keyring(kek)
    with sessions() as s:
        ring.ensure_keys(s)
        for i in range(23):
            s.add(_Secret(name=f"p{i}", phone=ring.encrypt(s, "t.phone", f"1380013{i:04d}")))
        s.add(_Secret(name="none", phone=None))
    column = EncryptedColumn(_Secret, "phone", "t.phone")
    from tongban.crypto import service

    service.ENCRYPTED_COLUMNS.append(column)
    try:
        # Interrupt after one batch: old and new keys both read.
        with sessions() as s:
            new_id = ring.rotate(s)
        with sessions() as s:
            assert ring.reencrypt_batch(s, [column], batch=10) == 10
        with sessions() as s:
            keys = {row.phone.split(".")[1] for row in s.scalars(select(_Secret)) if row.phone}
            assert keys == {"1", str(new_id)}
            assert all(
                ring.decrypt(s, "t.phone", r.phone).startswith("1380013")
                for r in s.scalars(select(_Secret))
                if r.phone
            )
        # Run the whole rotation again: it finishes the job (and rotates once more).
        fresh = Keyring(kek)
        final_id, count = rotate_all(sessions, fresh, batch=7)
        assert count == 23
        with sessions() as s:
            rows = list(s.scalars(select(_Secret).order_by(_Secret.id)))
            assert {r.phone.split(".")[1] for r in rows if r.phone} == {str(final_id)}
            assert [fresh.decrypt(s, "t.phone", r.phone) for r in rows if r.phone] == [
                f"1380013{i:04d}" for i in range(23)
            ]
            active = list(
                s.scalars(select(DataKey).where(DataKey.purpose == "field", DataKey.active))
            )
            assert [k.id for k in active] == [final_id]
    finally:
        service.ENCRYPTED_COLUMNS.remove(column)
        _Secret.__table__.drop(empty_engine)  # type: ignore[attr-defined]


# -- a new key-encryption key ------------------------------------------------------------------


def _keyed(session: Session, kek: Kek) -> tuple[Keyring, str, str]:
    """A database with field and index keys under `kek`, a value and its blind index."""
    ring = Keyring(kek)
    ring.ensure_keys(session)
    token = ring.encrypt(session, "person.phone", "13800138000")
    return ring, token, ring.blind_index(session, "person.phone", "13800138000")


def test_rewrap_moves_every_data_key_to_the_new_kek_and_touches_no_value(
    empty_db: Session, kek: Kek
) -> None:
    _, token, index = _keyed(empty_db, kek)
    rotated = Keyring(kek)
    rotated.rotate(empty_db)  # a retired field key must move too: old values need it
    new = Kek.from_bytes(os.urandom(32))
    done = rewrap_data_keys(empty_db, kek, new)
    assert (done.rewrapped, done.already) == (3, 0)
    assert set(empty_db.scalars(select(DataKey.kek_id))) == {new.id}
    after = Keyring(new)
    assert after.open_all(empty_db) == 3
    assert after.decrypt(empty_db, "person.phone", token) == "13800138000"
    assert after.blind_index(empty_db, "person.phone", "13800138000") == index
    with pytest.raises(KeyUnavailable, match="not by the configured one"):
        Keyring(kek).decrypt(empty_db, "person.phone", token)
    # Again (a run that committed, started once more): nothing changes.
    wrapped = list(empty_db.scalars(select(DataKey.wrapped).order_by(DataKey.id)))
    again = rewrap_data_keys(empty_db, kek, new)
    assert (again.rewrapped, again.already) == (0, 3)
    assert list(empty_db.scalars(select(DataKey.wrapped).order_by(DataKey.id))) == wrapped


def _wrapped(engine: Engine) -> list[tuple[str, bytes]]:
    with transaction(make_sessionmaker(engine)) as s:
        return [(k.kek_id, k.wrapped) for k in s.scalars(select(DataKey).order_by(DataKey.id))]


def test_rewrap_with_a_kek_that_opens_nothing_changes_nothing(
    empty_engine: Engine, kek: Kek
) -> None:
    factory = make_sessionmaker(empty_engine)
    with transaction(factory) as s:
        _keyed(s, kek)
    before = _wrapped(empty_engine)
    stranger, new = Kek.from_bytes(os.urandom(32)), Kek.from_bytes(os.urandom(32))
    with pytest.raises(KeyUnavailable), transaction(factory) as s:
        rewrap_data_keys(s, stranger, new)  # the configured KEK is not the node's
    assert _wrapped(empty_engine) == before


def _killed_during(engine: Engine, kek: Kek, new: Kek) -> None:
    with transaction(make_sessionmaker(engine)) as s:
        rewrap_data_keys(s, kek, new)
        raise RuntimeError("the process was killed before the commit")


def test_an_interrupted_rewrap_leaves_the_old_kek_working(empty_engine: Engine, kek: Kek) -> None:
    factory = make_sessionmaker(empty_engine)
    with transaction(factory) as s:
        _, token, _ = _keyed(s, kek)
    new = Kek.from_bytes(os.urandom(32))
    with pytest.raises(RuntimeError):
        _killed_during(empty_engine, kek, new)
    with transaction(factory) as s:
        assert set(s.scalars(select(DataKey.kek_id))) == {kek.id}
        assert Keyring(kek).decrypt(s, "person.phone", token) == "13800138000"
        with pytest.raises(KeyUnavailable):
            Keyring(new).open_all(s)


def test_no_data_key_is_made_under_a_kek_the_others_are_not_under(
    empty_db: Session, kek: Kek
) -> None:
    """A process still configured with the KEK from before a rewrap cannot rotate the field
    key into a key the new KEK does not open."""
    _keyed(empty_db, kek)
    new = Kek.from_bytes(os.urandom(32))
    rewrap_data_keys(empty_db, kek, new)
    with pytest.raises(KeyUnavailable, match="no new key is made"):
        Keyring(kek).rotate(empty_db)
    assert Keyring(new).rotate(empty_db) > 0
