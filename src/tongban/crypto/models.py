"""Data keys, each wrapped (encrypted) by the key-encryption key that never enters the database;
and the SM2 signing keys of the region and its departments."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from tongban.db import Base, UTCDateTime, utcnow


class DataKey(Base):
    __tablename__ = "data_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # "field": encrypts personal fields (rotated); "index": keys the blind indexes (stable,
    # since rotating it would need every index recomputed and every look-up would miss).
    purpose: Mapped[str] = mapped_column(String(10), index=True)
    algorithm: Mapped[str] = mapped_column(String(20))
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    kek_id: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SigningKey(Base):
    """An SM2 key. `purpose` says what it signs: `root` the trust list, `code` 随申码, `license`
    e-licenses; `owner` whose it is (`region:310000`, `dept:sh-scjgj`).

    The private half is stored encrypted under the data-key hierarchy (crypto.service), so a
    database copy without the KEK cannot sign.
    """

    __tablename__ = "signing_keys"
    # One active key per purpose and owner, even when two processes make keys at once.
    __table_args__ = (
        Index(
            "uq_signing_keys_active",
            "purpose",
            "owner",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
    )

    kid: Mapped[str] = mapped_column(String(8), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(10), index=True)
    owner: Mapped[str] = mapped_column(String(80))
    alg: Mapped[str] = mapped_column(String(10), default="SM2-SM3")  # or ES256 (SD-JWT)
    region_code: Mapped[str] = mapped_column(String(6))
    public_key: Mapped[str] = mapped_column(String(130))  # hex, 04 | x | y
    private_key_enc: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10))  # active | retired | revoked
    activated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
