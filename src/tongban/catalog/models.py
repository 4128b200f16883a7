"""Tables of the catalog. Only `catalog/service.py` reads or writes them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tongban.db import Base, UTCDateTime, utcnow

# Human text (names, labels, addresses) fits the catalog schema's limit for non-empty text.
TEXT_MAX = 500


class District(Base):
    __tablename__ = "districts"

    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(String(TEXT_MAX))
    name_en: Mapped[str] = mapped_column(String(TEXT_MAX))


class Street(Base):
    __tablename__ = "streets"

    code: Mapped[str] = mapped_column(String(9), primary_key=True)
    name: Mapped[str] = mapped_column(String(TEXT_MAX))
    district_code: Mapped[str] = mapped_column(ForeignKey("districts.code"), index=True)


class Department(Base):
    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(TEXT_MAX))
    name_en: Mapped[str] = mapped_column(String(TEXT_MAX))
    level: Mapped[str] = mapped_column(String(20))
    district_code: Mapped[str | None] = mapped_column(ForeignKey("districts.code"))
    uscc: Mapped[str | None] = mapped_column(String(18))
    phone: Mapped[str | None] = mapped_column(String(50))
    website: Mapped[str | None] = mapped_column(String(TEXT_MAX))
    # 跨省通办: the peer region a department belongs to (its matters are forwarded there).
    region: Mapped[str | None] = mapped_column(String(6))
    assumptions: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)


class Hall(Base):
    __tablename__ = "halls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(TEXT_MAX))
    kind: Mapped[str] = mapped_column(String(20), index=True)
    district_code: Mapped[str] = mapped_column(ForeignKey("districts.code"), index=True)
    street_code: Mapped[str | None] = mapped_column(String(9))
    address: Mapped[str | None] = mapped_column(String(TEXT_MAX))
    phone: Mapped[str | None] = mapped_column(String(50))
    hours: Mapped[str | None] = mapped_column(String(TEXT_MAX))
    assumptions: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)


class DataElement(Base):
    __tablename__ = "data_elements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(80), unique=True)
    label: Mapped[str] = mapped_column(String(TEXT_MAX))
    label_en: Mapped[str] = mapped_column(String(TEXT_MAX))
    type: Mapped[str] = mapped_column(String(20))
    options: Mapped[list[str]] = mapped_column(JSON, default=list)
    max_length: Mapped[int | None] = mapped_column(Integer)
    base_registry: Mapped[str | None] = mapped_column(String(20))
    description: Mapped[str | None] = mapped_column(Text)


class LicenseType(Base):
    __tablename__ = "license_types"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(80), unique=True)
    code: Mapped[str] = mapped_column(String(21), unique=True)
    name: Mapped[str] = mapped_column(String(TEXT_MAX))
    name_en: Mapped[str] = mapped_column(String(TEXT_MAX))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    holder: Mapped[str] = mapped_column(String(20))
    validity_years: Mapped[int | None] = mapped_column(Integer)
    fields: Mapped[list[str]] = mapped_column(JSON, default=list)
    assumptions: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)

    department: Mapped[Department] = relationship(lazy="joined")


class Matter(Base):
    """The current version of one matter; `definition` is its catalog entry as loaded."""

    __tablename__ = "matters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    implementation_code: Mapped[str | None] = mapped_column(String(36))
    name: Mapped[str] = mapped_column(String(TEXT_MAX))
    name_en: Mapped[str] = mapped_column(String(TEXT_MAX))
    kind: Mapped[str] = mapped_column(String(2), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    for_person: Mapped[bool] = mapped_column(Boolean, index=True)
    for_enterprise: Mapped[bool] = mapped_column(Boolean, index=True)
    case_type: Mapped[str] = mapped_column(String(1))
    statutory_days: Mapped[int | None] = mapped_column(Integer)
    promised_days: Mapped[int] = mapped_column(Integer)
    trips: Mapped[int] = mapped_column(Integer)
    # Computed on load from handling forms and trips, kept as a column so search can filter.
    fully_online: Mapped[bool] = mapped_column(Boolean, index=True)
    materials_count: Mapped[int] = mapped_column(Integer, default=0)
    exempt_count: Mapped[int] = mapped_column(Integer, default=0)
    issues_license_id: Mapped[int | None] = mapped_column(ForeignKey("license_types.id"))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    department: Mapped[Department] = relationship(lazy="joined")
    steps: Mapped[list[MatterStep]] = relationship(
        cascade="all, delete-orphan", order_by="MatterStep.position"
    )
    fields: Mapped[list[MatterField]] = relationship(
        cascade="all, delete-orphan", order_by="MatterField.position"
    )
    materials: Mapped[list[MatterMaterial]] = relationship(
        cascade="all, delete-orphan", order_by="MatterMaterial.position"
    )


class MatterStep(Base):
    __tablename__ = "matter_steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    matter_id: Mapped[int] = mapped_column(ForeignKey("matters.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(TEXT_MAX))
    actor: Mapped[str] = mapped_column(String(20))
    description: Mapped[str | None] = mapped_column(Text)


class MatterField(Base):
    __tablename__ = "matter_fields"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    matter_id: Mapped[int] = mapped_column(ForeignKey("matters.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    element_id: Mapped[int] = mapped_column(ForeignKey("data_elements.id"), index=True)
    required: Mapped[bool] = mapped_column(Boolean)
    label: Mapped[str | None] = mapped_column(String(TEXT_MAX))
    prefillable: Mapped[bool] = mapped_column(Boolean)

    element: Mapped[DataElement] = relationship(lazy="joined")


class MatterMaterial(Base):
    __tablename__ = "matter_materials"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    matter_id: Mapped[int] = mapped_column(ForeignKey("matters.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(80))
    name: Mapped[str] = mapped_column(String(TEXT_MAX))
    required: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(20), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    license_type_id: Mapped[int | None] = mapped_column(ForeignKey("license_types.id"))
    form: Mapped[str] = mapped_column(String(20))
    copies: Mapped[int] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
    # Computed on load from the source (两个免于提交), never read from the catalog file.
    exempt: Mapped[bool] = mapped_column(Boolean, index=True)

    department: Mapped[Department | None] = relationship(lazy="joined")
    license_type: Mapped[LicenseType | None] = relationship(lazy="joined")


class MatterDistrict(Base):
    """Districts in which a matter can be handed in at a hall (for the district filter)."""

    __tablename__ = "matter_districts"

    matter_id: Mapped[int] = mapped_column(
        ForeignKey("matters.id", ondelete="CASCADE"), primary_key=True
    )
    district_code: Mapped[str] = mapped_column(ForeignKey("districts.code"), primary_key=True)


class MatterVersion(Base):
    """A published guide, frozen: a change to what a guide says makes a new version."""

    __tablename__ = "matter_versions"
    __table_args__ = (UniqueConstraint("matter_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    matter_id: Mapped[int] = mapped_column(ForeignKey("matters.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    guide: Mapped[dict[str, Any]] = mapped_column(JSON)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MatterSearchDoc(Base):
    """Segmented words of a matter, one column per weight; the full-text index is built on it.

    On SQLite an FTS5 table (`matter_fts`) mirrors these columns; on PostgreSQL the `document`
    tsvector column (added by the migration) holds them with weights A..D.
    """

    __tablename__ = "matter_search_docs"

    matter_id: Mapped[int] = mapped_column(
        ForeignKey("matters.id", ondelete="CASCADE"), primary_key=True
    )
    name_words: Mapped[str] = mapped_column(Text)
    alias_words: Mapped[str] = mapped_column(Text)
    keyword_words: Mapped[str] = mapped_column(Text)
    body_words: Mapped[str] = mapped_column(Text)
    # Name, aliases and keywords as typed (lowercased, one a line), for re-ranking by phrase.
    phrases: Mapped[str] = mapped_column(Text)


class CatalogMeta(Base):
    """Facts about the loaded catalog itself (e.g. where its division data came from)."""

    __tablename__ = "catalog_meta"

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Bundle(Base):
    """一件事: a bundle of matters as loaded; `definition` is its catalog entry. Everything a
    bundle promises (its plan, its reductions) is computed from its matters when asked."""

    __tablename__ = "bundles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(TEXT_MAX))
    audience: Mapped[str] = mapped_column(String(20))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Industry(Base):
    """一业一证: an industry as loaded; its checklist and reductions are computed when asked."""

    __tablename__ = "industries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(TEXT_MAX))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
