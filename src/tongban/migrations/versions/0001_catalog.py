"""The catalog: divisions, departments, halls, data elements, license types, matters.

Revision ID: 0001
Revises:
Create Date: 2026-11-27 23:51:19.768555
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlalchemy.dialects.postgresql
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "catalog_meta",
        sa.Column("key", sa.String(length=60), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_catalog_meta")),
    )
    op.create_table(
        "data_elements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("label", sa.String(length=500), nullable=False),
        sa.Column("label_en", sa.String(length=500), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("max_length", sa.Integer(), nullable=True),
        sa.Column("base_registry", sa.String(length=20), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_elements")),
        sa.UniqueConstraint("key", name=op.f("uq_data_elements_key")),
    )
    op.create_table(
        "districts",
        sa.Column("code", sa.String(length=6), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("name_en", sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_districts")),
    )
    op.create_table(
        "departments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=60), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("name_en", sa.String(length=500), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("district_code", sa.String(length=6), nullable=True),
        sa.Column("uscc", sa.String(length=18), nullable=True),
        sa.Column("phone", sa.String(length=50), nullable=True),
        sa.Column("website", sa.String(length=500), nullable=True),
        sa.Column("assumptions", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["district_code"],
            ["districts.code"],
            name=op.f("fk_departments_district_code_districts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_departments")),
        sa.UniqueConstraint("key", name=op.f("uq_departments_key")),
    )
    op.create_table(
        "halls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=60), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("district_code", sa.String(length=6), nullable=False),
        sa.Column("street_code", sa.String(length=9), nullable=True),
        sa.Column("address", sa.String(length=500), nullable=True),
        sa.Column("phone", sa.String(length=50), nullable=True),
        sa.Column("hours", sa.String(length=500), nullable=True),
        sa.Column("assumptions", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["district_code"], ["districts.code"], name=op.f("fk_halls_district_code_districts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_halls")),
        sa.UniqueConstraint("key", name=op.f("uq_halls_key")),
    )
    with op.batch_alter_table("halls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_halls_district_code"), ["district_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_halls_kind"), ["kind"], unique=False)

    op.create_table(
        "streets",
        sa.Column("code", sa.String(length=9), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("district_code", sa.String(length=6), nullable=False),
        sa.ForeignKeyConstraint(
            ["district_code"], ["districts.code"], name=op.f("fk_streets_district_code_districts")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_streets")),
    )
    with op.batch_alter_table("streets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_streets_district_code"), ["district_code"], unique=False
        )

    op.create_table(
        "license_types",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("code", sa.String(length=21), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("name_en", sa.String(length=500), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("holder", sa.String(length=20), nullable=False),
        sa.Column("validity_years", sa.Integer(), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("assumptions", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_license_types_department_id_departments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_license_types")),
        sa.UniqueConstraint("code", name=op.f("uq_license_types_code")),
        sa.UniqueConstraint("key", name=op.f("uq_license_types_key")),
    )
    with op.batch_alter_table("license_types", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_license_types_department_id"), ["department_id"], unique=False
        )

    op.create_table(
        "matters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("implementation_code", sa.String(length=36), nullable=True),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("name_en", sa.String(length=500), nullable=False),
        sa.Column("kind", sa.String(length=2), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("for_person", sa.Boolean(), nullable=False),
        sa.Column("for_enterprise", sa.Boolean(), nullable=False),
        sa.Column("case_type", sa.String(length=1), nullable=False),
        sa.Column("statutory_days", sa.Integer(), nullable=True),
        sa.Column("promised_days", sa.Integer(), nullable=False),
        sa.Column("trips", sa.Integer(), nullable=False),
        sa.Column("fully_online", sa.Boolean(), nullable=False),
        sa.Column("materials_count", sa.Integer(), nullable=False),
        sa.Column("exempt_count", sa.Integer(), nullable=False),
        sa.Column("issues_license_id", sa.Integer(), nullable=True),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"], ["departments.id"], name=op.f("fk_matters_department_id_departments")
        ),
        sa.ForeignKeyConstraint(
            ["issues_license_id"],
            ["license_types.id"],
            name=op.f("fk_matters_issues_license_id_license_types"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_matters")),
        sa.UniqueConstraint("code", name=op.f("uq_matters_code")),
    )
    with op.batch_alter_table("matters", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_matters_department_id"), ["department_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_matters_for_enterprise"), ["for_enterprise"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_matters_for_person"), ["for_person"], unique=False)
        batch_op.create_index(batch_op.f("ix_matters_fully_online"), ["fully_online"], unique=False)
        batch_op.create_index(batch_op.f("ix_matters_kind"), ["kind"], unique=False)

    op.create_table(
        "matter_districts",
        sa.Column("matter_id", sa.Integer(), nullable=False),
        sa.Column("district_code", sa.String(length=6), nullable=False),
        sa.ForeignKeyConstraint(
            ["district_code"],
            ["districts.code"],
            name=op.f("fk_matter_districts_district_code_districts"),
        ),
        sa.ForeignKeyConstraint(
            ["matter_id"],
            ["matters.id"],
            name=op.f("fk_matter_districts_matter_id_matters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("matter_id", "district_code", name=op.f("pk_matter_districts")),
    )
    op.create_table(
        "matter_fields",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("matter_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("element_id", sa.Integer(), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("label", sa.String(length=500), nullable=True),
        sa.Column("prefillable", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["element_id"],
            ["data_elements.id"],
            name=op.f("fk_matter_fields_element_id_data_elements"),
        ),
        sa.ForeignKeyConstraint(
            ["matter_id"],
            ["matters.id"],
            name=op.f("fk_matter_fields_matter_id_matters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_matter_fields")),
    )
    with op.batch_alter_table("matter_fields", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_matter_fields_element_id"), ["element_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_matter_fields_matter_id"), ["matter_id"], unique=False)

    op.create_table(
        "matter_materials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("matter_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("license_type_id", sa.Integer(), nullable=True),
        sa.Column("form", sa.String(length=20), nullable=False),
        sa.Column("copies", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("exempt", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_matter_materials_department_id_departments"),
        ),
        sa.ForeignKeyConstraint(
            ["license_type_id"],
            ["license_types.id"],
            name=op.f("fk_matter_materials_license_type_id_license_types"),
        ),
        sa.ForeignKeyConstraint(
            ["matter_id"],
            ["matters.id"],
            name=op.f("fk_matter_materials_matter_id_matters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_matter_materials")),
    )
    with op.batch_alter_table("matter_materials", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_matter_materials_exempt"), ["exempt"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_matter_materials_matter_id"), ["matter_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_matter_materials_source"), ["source"], unique=False)

    op.create_table(
        "matter_search_docs",
        sa.Column("matter_id", sa.Integer(), nullable=False),
        sa.Column("name_words", sa.Text(), nullable=False),
        sa.Column("alias_words", sa.Text(), nullable=False),
        sa.Column("keyword_words", sa.Text(), nullable=False),
        sa.Column("body_words", sa.Text(), nullable=False),
        sa.Column("phrases", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["matter_id"],
            ["matters.id"],
            name=op.f("fk_matter_search_docs_matter_id_matters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("matter_id", name=op.f("pk_matter_search_docs")),
    )
    op.create_table(
        "matter_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("matter_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("actor", sa.String(length=20), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["matter_id"],
            ["matters.id"],
            name=op.f("fk_matter_steps_matter_id_matters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_matter_steps")),
    )
    with op.batch_alter_table("matter_steps", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_matter_steps_matter_id"), ["matter_id"], unique=False)

    op.create_table(
        "matter_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("matter_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("guide", sa.JSON(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["matter_id"],
            ["matters.id"],
            name=op.f("fk_matter_versions_matter_id_matters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_matter_versions")),
        sa.UniqueConstraint("matter_id", "version", name=op.f("uq_matter_versions_matter_id")),
    )
    with op.batch_alter_table("matter_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_matter_versions_matter_id"), ["matter_id"], unique=False
        )

    _create_full_text_index()


def downgrade() -> None:
    _drop_full_text_index()
    with op.batch_alter_table("matter_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_matter_versions_matter_id"))

    op.drop_table("matter_versions")
    with op.batch_alter_table("matter_steps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_matter_steps_matter_id"))

    op.drop_table("matter_steps")
    op.drop_table("matter_search_docs")
    with op.batch_alter_table("matter_materials", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_matter_materials_source"))
        batch_op.drop_index(batch_op.f("ix_matter_materials_matter_id"))
        batch_op.drop_index(batch_op.f("ix_matter_materials_exempt"))

    op.drop_table("matter_materials")
    with op.batch_alter_table("matter_fields", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_matter_fields_matter_id"))
        batch_op.drop_index(batch_op.f("ix_matter_fields_element_id"))

    op.drop_table("matter_fields")
    op.drop_table("matter_districts")
    with op.batch_alter_table("matters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_matters_kind"))
        batch_op.drop_index(batch_op.f("ix_matters_fully_online"))
        batch_op.drop_index(batch_op.f("ix_matters_for_person"))
        batch_op.drop_index(batch_op.f("ix_matters_for_enterprise"))
        batch_op.drop_index(batch_op.f("ix_matters_department_id"))

    op.drop_table("matters")
    with op.batch_alter_table("license_types", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_license_types_department_id"))

    op.drop_table("license_types")
    with op.batch_alter_table("streets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_streets_district_code"))

    op.drop_table("streets")
    with op.batch_alter_table("halls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_halls_kind"))
        batch_op.drop_index(batch_op.f("ix_halls_district_code"))

    op.drop_table("halls")
    op.drop_table("departments")
    op.drop_table("districts")
    op.drop_table("data_elements")
    op.drop_table("catalog_meta")


def _create_full_text_index() -> None:
    """SQLite: an FTS5 table over the segmented words. PostgreSQL: a weighted tsvector + GIN."""
    if op.get_bind().dialect.name == "postgresql":
        op.add_column(
            "matter_search_docs", sa.Column("document", sa.dialects.postgresql.TSVECTOR())
        )
        op.create_index(
            "ix_matter_search_docs_document",
            "matter_search_docs",
            ["document"],
            postgresql_using="gin",
        )
        return
    op.execute(
        "CREATE VIRTUAL TABLE matter_fts USING fts5("
        "name_words, alias_words, keyword_words, body_words,"
        " tokenize = 'unicode61 remove_diacritics 0')"
    )


def _drop_full_text_index() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_matter_search_docs_document", table_name="matter_search_docs")
        op.drop_column("matter_search_docs", "document")
        return
    op.execute("DROP TABLE IF EXISTS matter_fts")
