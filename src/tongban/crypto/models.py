"""Data keys, each wrapped (encrypted) by the key-encryption key that never enters the database."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Integer, LargeBinary, String
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
