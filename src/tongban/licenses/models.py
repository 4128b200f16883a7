"""Tables of the license registry: licenses (one row per version), their history, serials."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from tongban.crypto.service import register_encrypted
from tongban.db import Base, UTCDateTime, utcnow

NOT_VALID = "status <> '01'"


class License(Base):
    """One version of one license. The signed document is kept whole, encrypted (it holds the
    holder's ID number and the content); the columns beside it are what queries need."""

    __tablename__ = "licenses"
    __table_args__ = (
        Index("ix_licenses_person_current", "person_id", "current"),
        Index("ix_licenses_enterprise_current", "enterprise_id", "current"),
        Index("ix_licenses_type_issuer_serial", "type_id", "issuer_id", "serial"),
        Index("ix_licenses_status_until", "status", "valid_until"),
        # The status list names only these: a few in a hundred of a city's licenses.
        Index(
            "ix_licenses_not_valid",
            "identifier",
            postgresql_where=text(NOT_VALID),
            sqlite_where=text(NOT_VALID),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    identifier: Mapped[str] = mapped_column(String(120), unique=True)
    serial: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer)
    type_id: Mapped[int] = mapped_column(ForeignKey("license_types.id"))
    issuer_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    holder_kind: Mapped[str] = mapped_column(String(10))  # person | enterprise
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"))
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"))
    license_number: Mapped[str] = mapped_column(String(60))
    paper_number: Mapped[str] = mapped_column(String(60))
    issued_on: Mapped[date] = mapped_column(Date)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    matter_code: Mapped[str | None] = mapped_column(String(12))
    # GB/T 36903: 01 有效 02 暂扣 03 撤销 04 注销 05 失效 06 转出 07 吊销; 99 其他 (superseded)
    status: Mapped[str] = mapped_column(String(2), default="01")
    current: Mapped[bool] = mapped_column(Boolean, default=True)  # the newest version
    superseded_by: Mapped[int | None] = mapped_column(ForeignKey("licenses.id"))
    kid: Mapped[str] = mapped_column(String(8))
    document_enc: Mapped[str] = mapped_column(Text)
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LicenseEvent(Base):
    """The history of a license: issued, new version, suspended, restored, revoked, ..."""

    __tablename__ = "license_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    license_id: Mapped[int] = mapped_column(ForeignKey("licenses.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    action: Mapped[str] = mapped_column(String(20))
    from_status: Mapped[str | None] = mapped_column(String(2))
    to_status: Mapped[str] = mapped_column(String(2))
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(Text)


class LicenseSerial(Base):
    """The last serial an issuer gave for a license type (one row each, bumped atomically)."""

    __tablename__ = "license_serials"

    type_id: Mapped[int] = mapped_column(ForeignKey("license_types.id"), primary_key=True)
    issuer_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


register_encrypted(License, "document_enc", "license.document")


class LicenseGrant(Base):
    """用证授权: a holder lets a named party use chosen licenses (or some of their fields) for a
    stated purpose, until a date or a number of uses, and may withdraw it."""

    __tablename__ = "license_grants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    holder_person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"), index=True)
    holder_enterprise_id: Mapped[int | None] = mapped_column(
        ForeignKey("enterprises.id"), index=True
    )
    granted_by: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    grantee_kind: Mapped[str] = mapped_column(String(12))  # account | department | region
    grantee: Mapped[str] = mapped_column(String(80), index=True)
    grantee_name: Mapped[str] = mapped_column(String(200))
    license_ids: Mapped[list[int]] = mapped_column(JSON)  # the versions granted (newer follow)
    fields: Mapped[list[str] | None] = mapped_column(JSON)  # None: the whole license
    purpose: Mapped[str] = mapped_column(String(500))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    max_uses: Mapped[int | None] = mapped_column(Integer)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LicenseUse(Base):
    """One use of a grant: who used which license, when, for what. Shown to the holder."""

    __tablename__ = "license_uses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    grant_id: Mapped[int] = mapped_column(ForeignKey("license_grants.id"), index=True)
    license_id: Mapped[int] = mapped_column(ForeignKey("licenses.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    actor_name: Mapped[str] = mapped_column(String(100))
    purpose: Mapped[str] = mapped_column(String(500))
    fields: Mapped[list[str] | None] = mapped_column(JSON)


class PeerLicense(Base):
    """互认证照: a license another region issued to one of our people or enterprises, checked
    against that region's trust list when it came (fetched with the holder's consent, handed
    back as the result of a case handled there, or presented by the holder). Its status follows
    the issuing region's signed status list; it counts as a license of our type `local_type_key`
    while the two regions' agreed list pairs the types."""

    __tablename__ = "peer_licenses"
    __table_args__ = (
        Index("ix_peer_licenses_person_type", "person_id", "local_type_key"),
        Index("ix_peer_licenses_enterprise_type", "enterprise_id", "local_type_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    identifier: Mapped[str] = mapped_column(String(120), unique=True)
    region_code: Mapped[str] = mapped_column(String(6), index=True)
    type_code: Mapped[str] = mapped_column(String(21))
    type_name: Mapped[str] = mapped_column(String(200))
    local_type_key: Mapped[str | None] = mapped_column(String(80))
    holder_kind: Mapped[str] = mapped_column(String(10))  # person | enterprise
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"))
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"))
    issuer_name: Mapped[str] = mapped_column(String(200))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(2), default="01")
    # When the status was last known from the issuing region (its answer or its status list).
    status_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    source: Mapped[str] = mapped_column(String(12))  # shared | result | presented
    document_enc: Mapped[str] = mapped_column(Text)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


register_encrypted(PeerLicense, "document_enc", "license.peer_document")
