"""Tables of principals and accounts. Personal fields are stored encrypted (crypto.service),
with a blind index where the platform must look a person up by them."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tongban.crypto.service import register_encrypted
from tongban.db import Base, UTCDateTime, utcnow


class Person(Base):
    __tablename__ = "persons"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    id_number_enc: Mapped[str] = mapped_column(Text)
    id_number_index: Mapped[str] = mapped_column(String(64), unique=True)
    phone_enc: Mapped[str | None] = mapped_column(Text)
    phone_index: Mapped[str | None] = mapped_column(String(64), index=True)
    address_enc: Mapped[str | None] = mapped_column(Text)
    district_code: Mapped[str | None] = mapped_column(ForeignKey("districts.code"), index=True)
    street_code: Mapped[str | None] = mapped_column(ForeignKey("streets.code"))
    birth_date: Mapped[date] = mapped_column(Date)
    gender: Mapped[str] = mapped_column(String(2))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    photo_ref: Mapped[str | None] = mapped_column(String(200))  # a Photo's ref
    # 医保电子凭证号, from the medical-insurance bureau; shown to hospitals that scan the code.
    medical_voucher_enc: Mapped[str | None] = mapped_column(Text)
    real_name_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    real_name_provider: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Enterprise(Base):
    __tablename__ = "enterprises"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uscc: Mapped[str] = mapped_column(String(18), unique=True)  # public registry data
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(100))
    legal_rep_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    address: Mapped[str] = mapped_column(String(500))  # the registered address is public
    district_code: Mapped[str] = mapped_column(ForeignKey("districts.code"), index=True)
    # 登记状态 from the market regulator: 存续 (in business), 吊销, 注销, 迁出.
    registration_status: Mapped[str] = mapped_column(String(10), default="存续")
    # 公共信用等级 from the public credit platform (A best .. D), None until it has rated.
    credit_class: Mapped[str | None] = mapped_column(String(2))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    legal_rep: Mapped[Person] = relationship(lazy="joined")


class Photo(Base):
    """A person's identity photo (from real-name authentication), shown beside their code."""

    __tablename__ = "photos"

    ref: Mapped[str] = mapped_column(String(40), primary_key=True)  # random, unguessable
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    content_type: Mapped[str] = mapped_column(String(40))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EnterpriseAgent(Base):
    """经办人: a person authorized to act for an enterprise, within a scope, until a date."""

    __tablename__ = "enterprise_agents"
    __table_args__ = (UniqueConstraint("enterprise_id", "person_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    # Matter kinds ("01", "07", ...) the agent may apply for; ["*"] is every kind.
    scope: Mapped[list[str]] = mapped_column(JSON, default=list)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(60), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"), index=True)
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), index=True)
    display_name: Mapped[str] = mapped_column(String(100))
    totp_secret_enc: Mapped[str | None] = mapped_column(Text)
    # The last time step whose code was accepted: a code works once (no replay in its window).
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Made by `tongban demo` with a published password: usable only in a demo database.
    demo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    roles: Mapped[list[RoleGrant]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="RoleGrant.id"
    )


class RoleGrant(Base):
    """One role of an account, bound where the role needs it (a hall, a department, ...)."""

    __tablename__ = "role_grants"
    __table_args__ = (UniqueConstraint("account_id", "role", "binding"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(30))
    # hall key for window_staff, department key for reviewer/issuer, organization for verifier,
    # region code for region_peer, enterprise id for enterprise_agent; "" where none is needed.
    binding: Mapped[str] = mapped_column(String(100), default="")


class AuthToken(Base):
    """A bearer token, stored only as its SM3 hash; refresh tokens rotate within a family."""

    __tablename__ = "auth_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(10))  # access | refresh
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    family: Mapped[str] = mapped_column(String(32), index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SystemFlag(Base):
    """Facts about this database itself, e.g. that `tongban demo` made it."""

    __tablename__ = "system_flags"

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))


register_encrypted(Person, "id_number_enc", "person.id_number")
register_encrypted(Person, "phone_enc", "person.phone")
register_encrypted(Person, "address_enc", "person.address")
register_encrypted(Person, "medical_voucher_enc", "person.medical_voucher")
register_encrypted(Account, "totp_secret_enc", "account.totp_secret")
