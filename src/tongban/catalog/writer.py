"""Write a validated catalog into the database: upserts, matters, guide versions, search words.

A matter is written only when its catalog entry or its rendered guide changed, so reloading an
unchanged catalog writes nothing but the reference tables; a new guide version is published
only when the rendered guide changed (its content hash).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session, selectinload

from tongban.catalog import rules, search
from tongban.catalog.loader import CatalogSource, check_matter
from tongban.catalog.models import (
    Bundle,
    CatalogMeta,
    DataElement,
    Department,
    District,
    Hall,
    Industry,
    LicenseType,
    Matter,
    MatterDistrict,
    MatterField,
    MatterMaterial,
    MatterSearchDoc,
    MatterStep,
    MatterVersion,
    Street,
)
from tongban.catalog.schemas import (
    Audience,
    DataElementIn,
    DepartmentIn,
    DepartmentLevel,
    HallIn,
    HallKind,
    LicenseTypeIn,
    MatterIn,
)
from tongban.db import utcnow
from tongban.errors import FieldError, validation_failed


@dataclass
class ApplyReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        parts = [f"{k} {v}" for k, v in self.counts.items()]
        return (
            f"{', '.join(parts)}; matters new {len(self.created)}, "
            f"new guide versions {len(self.updated)}, unchanged {self.unchanged}"
        )


def apply_catalog(session: Session, src: CatalogSource) -> ApplyReport:
    """Upsert a validated catalog. Entries not in `src` stay as they are.

    When reference data changes (a department's name, a license type, an element's label),
    every matter's guide is rendered again, since guides show those too.
    """
    _set_meta(session, "divisions_source", src.source_note)
    _upsert_divisions(session, src)
    departments = _upsert_departments(session, src.departments.values())
    _upsert_halls(session, src.halls.values())
    _upsert_elements(session, src.elements.values())
    _upsert_license_types(session, src.license_types.values(), departments)
    session.flush()
    facts = catalog_facts(session)
    halls = [(h.key, h.kind, h.district_code) for h in session.scalars(select(Hall))]
    existing = {m.code: m for m in session.scalars(select(Matter).options(*_children()))}
    entries = dict(src.matters)
    if src.departments or src.halls or src.elements or src.license_types:
        for code, known in existing.items():
            entries.setdefault(code, MatterIn.model_validate(known.definition))
    published = _latest_hashes(session)
    ids = _Ids.read(session, departments)
    report = ApplyReport(
        counts={
            "departments": len(src.departments),
            "halls": len(src.halls),
            "data elements": len(src.elements),
            "license types": len(src.license_types),
            "matters": len(src.matters),
        }
    )
    written: list[tuple[Matter, MatterIn, dict[str, Any], str]] = []
    for code, entry in entries.items():
        guide = rules.render_guide(entry, facts)
        digest = rules.content_hash(guide)
        matter = existing.get(code)
        latest = published.get(matter.id) if matter is not None else None
        definition = entry.model_dump(mode="json", exclude_defaults=True)
        if (
            matter is not None
            and latest
            and latest[1] == digest
            and matter.definition == definition
        ):
            report.unchanged += 1
            continue
        if matter is None:
            matter = Matter(code=code, version=0)
            session.add(matter)
        _write_matter(matter, entry, definition, facts, ids)
        written.append((matter, entry, guide, digest))
    session.flush()
    for row, _entry, guide, digest in written:
        latest = published.get(row.id)
        if latest is None or latest[1] != digest:
            row.version = (latest[0] if latest else 0) + 1
            session.add(
                MatterVersion(
                    matter_id=row.id, version=row.version, content_hash=digest, guide=guide
                )
            )
            (report.updated if latest else report.created).append(row.code)
        else:  # only the search words changed: nothing a guide shows
            report.unchanged += 1
    _write_districts(session, [(m, e) for m, e, _, _ in written], facts, halls)
    _write_search_docs(session, [_search_doc(m, e, facts) for m, e, _, _ in written])
    report.counts["bundles"] = _upsert_bundles(session, src)
    report.counts["industries"] = _upsert_industries(session, src)
    return report


def _upsert_industries(session: Session, src: CatalogSource) -> int:
    existing = {i.code: i for i in session.scalars(select(Industry))}
    for code, entry in src.industries.items():
        definition = entry.model_dump(mode="json", exclude_defaults=True)
        row = existing.get(code)
        if row is None:
            session.add(Industry(code=code, name=entry.name, definition=definition, version=1))
        elif row.definition != definition:
            row.name, row.definition = entry.name, definition
            row.version += 1
            row.updated_at = utcnow()
    session.flush()
    return len(src.industries)


def _upsert_bundles(session: Session, src: CatalogSource) -> int:
    """Bundles as loaded; a changed definition is a new version (a running bundle case keeps
    the plan it was submitted with)."""
    existing = {b.code: b for b in session.scalars(select(Bundle))}
    for code, entry in src.bundles.items():
        definition = entry.model_dump(mode="json", exclude_defaults=True)
        row = existing.get(code)
        if row is None:
            session.add(
                Bundle(
                    code=code,
                    name=entry.name,
                    audience=entry.audience.value,
                    definition=definition,
                    version=1,
                )
            )
        elif row.definition != definition:
            row.name, row.audience, row.definition = entry.name, entry.audience.value, definition
            row.version += 1
            row.updated_at = utcnow()
    session.flush()
    return len(src.bundles)


def save_matter(session: Session, entry: MatterIn) -> None:
    """Create or edit one matter (an admin's guide edit), checked against the catalog first."""
    problems = check_matter(reference_view(session), entry)
    if problems:
        raise validation_failed(
            [
                FieldError(field=path or "matter", message=msg, code="unknown_reference")
                for path, msg in problems
            ],
            detail="the matter refers to things the catalog does not have",
        )
    apply_catalog(session, CatalogSource(matters={entry.code: entry}))


# ---------------------------------------------------------------------------------------------
# What the rules need, read from the database
# ---------------------------------------------------------------------------------------------


def catalog_facts(session: Session) -> rules.CatalogFacts:
    return rules.CatalogFacts(
        departments={
            d.key: rules.DepartmentFacts(
                d.key, d.name, d.name_en, d.level, d.district_code, d.region
            )
            for d in session.scalars(select(Department))
        },
        license_types={
            t.key: rules.LicenseTypeFacts(
                t.key, t.code, t.name, t.holder, tuple(t.fields), t.name_en
            )
            for t in session.scalars(select(LicenseType))
        },
        elements={e.key: element_facts(e) for e in session.scalars(select(DataElement))},
    )


def element_facts(e: DataElement) -> rules.ElementFacts:
    """A data element as the rules and validators need it."""
    return rules.ElementFacts(
        e.key, e.label, e.label_en, e.type, tuple(e.options or ()), e.base_registry, e.max_length
    )


def reference_view(session: Session) -> CatalogSource:
    """The database's reference data as a CatalogSource, for the loader's cross-checks."""
    deps = list(session.scalars(select(Department)))
    keys = {d.id: d.key for d in deps}
    return CatalogSource(
        departments={d.key: department_in(d) for d in deps},
        halls={h.key: hall_in(h) for h in session.scalars(select(Hall))},
        elements={e.key: element_in(e) for e in session.scalars(select(DataElement))},
        license_types={t.key: license_in(t, keys) for t in session.scalars(select(LicenseType))},
    )


def department_in(d: Department) -> DepartmentIn:
    return DepartmentIn(
        key=d.key,
        name=d.name,
        name_en=d.name_en,
        level=DepartmentLevel(d.level),
        district=d.district_code,
        uscc=d.uscc,
        phone=d.phone,
        website=d.website,
        region=d.region,
        assumptions=d.assumptions or {},
    )


def hall_in(h: Hall) -> HallIn:
    return HallIn(
        key=h.key,
        name=h.name,
        kind=HallKind(h.kind),
        district=h.district_code,
        street=h.street_code,
        address=h.address,
        phone=h.phone,
        hours=h.hours,
        assumptions=h.assumptions or {},
    )


def element_in(e: DataElement) -> DataElementIn:
    return DataElementIn.model_validate(
        {
            "key": e.key,
            "label": e.label,
            "label_en": e.label_en,
            "type": e.type,
            "options": e.options or [],
            "max_length": e.max_length,
            "registry": e.base_registry,
            "description": e.description,
        }
    )


def license_in(t: LicenseType, dep_keys: dict[int, str]) -> LicenseTypeIn:
    return LicenseTypeIn.model_validate(
        {
            "key": t.key,
            "code": t.code,
            "name": t.name,
            "name_en": t.name_en,
            "department": dep_keys[t.department_id],
            "holder": t.holder,
            "validity_years": t.validity_years,
            "fields": t.fields,
            "assumptions": t.assumptions or {},
        }
    )


# ---------------------------------------------------------------------------------------------
# Upserts of the reference tables
# ---------------------------------------------------------------------------------------------


def _set_meta(session: Session, key: str, value: str) -> None:
    if value:
        session.merge(CatalogMeta(key=key, value=value))


def get_meta(session: Session, key: str) -> str | None:
    row = session.get(CatalogMeta, key)
    return row.value if row else None


def _upsert_divisions(session: Session, src: CatalogSource) -> None:
    for d in src.districts.values():
        session.merge(District(code=d.code, name=d.name, name_en=d.name_en))
    session.flush()
    for s in src.streets.values():
        session.merge(Street(code=s.code, name=s.name, district_code=s.district))


def _upsert_by_key(
    session: Session, model: Any, items: Iterable[Any], values: Any
) -> dict[str, Any]:
    rows = {r.key: r for r in session.scalars(select(model))}
    for item in items:
        row = rows.get(item.key)
        if row is None:
            row = model(key=item.key)
            session.add(row)
            rows[item.key] = row
        for attr, value in values(item).items():
            setattr(row, attr, value)
    return rows


def _upsert_departments(session: Session, items: Iterable[DepartmentIn]) -> dict[str, Department]:
    rows = _upsert_by_key(
        session,
        Department,
        items,
        lambda d: {
            "name": d.name,
            "name_en": d.name_en,
            "level": d.level.value,
            "district_code": d.district,
            "uscc": d.uscc,
            "phone": d.phone,
            "website": d.website,
            "region": d.region,
            "assumptions": dict(d.assumptions),
        },
    )
    session.flush()
    return rows


def _upsert_halls(session: Session, items: Iterable[HallIn]) -> None:
    _upsert_by_key(
        session,
        Hall,
        items,
        lambda h: {
            "name": h.name,
            "kind": h.kind.value,
            "district_code": h.district,
            "street_code": h.street,
            "address": h.address,
            "phone": h.phone,
            "hours": h.hours,
            "assumptions": dict(h.assumptions),
        },
    )


def _upsert_elements(session: Session, items: Iterable[DataElementIn]) -> None:
    _upsert_by_key(
        session,
        DataElement,
        items,
        lambda e: {
            "label": e.label,
            "label_en": e.label_en,
            "type": e.type.value,
            "options": list(e.options),
            "max_length": e.max_length,
            "base_registry": e.registry.value if e.registry else None,
            "description": e.description,
        },
    )


def _upsert_license_types(
    session: Session, items: Iterable[LicenseTypeIn], departments: dict[str, Department]
) -> None:
    _upsert_by_key(
        session,
        LicenseType,
        items,
        lambda t: {
            "code": t.code,
            "name": t.name,
            "name_en": t.name_en,
            "department_id": departments[t.department].id,
            "holder": t.holder.value,
            "validity_years": t.validity_years,
            "fields": list(t.fields),
            "assumptions": dict(t.assumptions),
        },
    )


# ---------------------------------------------------------------------------------------------
# Matters
# ---------------------------------------------------------------------------------------------


def _children() -> list[Any]:
    return [selectinload(Matter.steps), selectinload(Matter.fields), selectinload(Matter.materials)]


def _write_matter(
    m: Matter,
    entry: MatterIn,
    definition: dict[str, Any],
    facts: rules.CatalogFacts,
    ids: _Ids,
) -> None:
    """The matter's row and its child rows, which the statistics and filters query."""
    assert entry.department is not None
    m.implementation_code = entry.implementation_code
    m.name = entry.name
    m.name_en = entry.name_en
    m.kind = entry.kind.value
    m.department = ids.departments[entry.department]
    m.for_person = Audience.PERSON in entry.audience
    m.for_enterprise = Audience.ENTERPRISE in entry.audience
    m.case_type = entry.case_type.value
    m.statutory_days = entry.statutory_limit.working_days if entry.statutory_limit else None
    m.promised_days = entry.promised_limit.working_days
    m.trips = entry.trips
    m.fully_online = rules.is_fully_online(entry)
    m.issues_license_id = ids.license_types.get(entry.issues_license or "")
    m.definition = definition
    m.updated_at = utcnow()
    m.steps = [
        MatterStep(position=i, name=s.name, actor=s.actor.value, description=s.description)
        for i, s in enumerate(entry.steps, 1)
    ]
    m.fields = [
        MatterField(
            position=i,
            element_id=ids.elements[f.element],
            required=f.required,
            label=f.label,
            prefillable=out.prefillable,
        )
        for i, (f, out) in enumerate(
            zip(entry.fields, rules.fields_out(entry, facts), strict=True), 1
        )
    ]
    materials = [rules.material_out(mat, facts) for mat in entry.materials]
    m.materials = [
        MatterMaterial(
            position=i,
            key=mat.key,
            name=mat.name,
            required=mat.required,
            source=mat.source.value,
            department_id=ids.departments[mat.department].id if mat.department else None,
            license_type_id=ids.license_types.get(mat.license_type or ""),
            form=mat.form.value,
            copies=mat.copies,
            note=mat.note,
            exempt=out.exempt,
        )
        for i, (mat, out) in enumerate(zip(entry.materials, materials, strict=True), 1)
    ]
    m.materials_count = len(materials)
    m.exempt_count = sum(1 for x in materials if x.exempt)


@dataclass(frozen=True)
class _Ids:
    """Rows a matter points at, looked up once per load."""

    departments: dict[str, Department]
    license_types: dict[str, int]
    elements: dict[str, int]

    @classmethod
    def read(cls, session: Session, departments: dict[str, Department]) -> _Ids:
        return cls(
            departments=departments,
            license_types=dict(session.execute(select(LicenseType.key, LicenseType.id)).all()),
            elements=dict(session.execute(select(DataElement.key, DataElement.id)).all()),
        )


def _write_districts(
    session: Session,
    written: Sequence[tuple[Matter, MatterIn]],
    facts: rules.CatalogFacts,
    halls: Sequence[tuple[str, str, str]],
) -> None:
    """Where each written matter can be handed in, for the search's district filter."""
    ids = [m.id for m, _ in written]
    for chunk in _chunks(ids, 500):
        session.execute(delete(MatterDistrict).where(MatterDistrict.matter_id.in_(chunk)))
    rows = []
    for m, entry in written:
        assert entry.department is not None
        scope = rules.HallScope.of(entry, facts.departments[entry.department])
        districts = sorted({d for key, kind, d in halls if scope.admits(key, kind, d)})
        rows += [{"matter_id": m.id, "district_code": d} for d in districts]
    if rows:
        session.execute(insert(MatterDistrict), rows)


def _search_doc(m: Matter, entry: MatterIn, facts: rules.CatalogFacts) -> search.SearchDoc:
    assert entry.department is not None
    # Material names stay out: someone typing 营业执照 wants the business licence, not every
    # matter that asks for one (and each extra match costs ranking time).
    body = [entry.description, entry.result, facts.departments[entry.department].name]
    return search.SearchDoc(
        matter_id=m.id,
        name_words=search.join_words([entry.name, entry.name_en]),
        alias_words=search.join_words(entry.aliases),
        keyword_words=search.join_words(entry.keywords),
        body_words=search.join_words(body),
        phrases=search.phrases_of(entry.name, entry.aliases, entry.keywords),
    )


def _write_search_docs(session: Session, docs: Sequence[search.SearchDoc]) -> None:
    ids = [d.matter_id for d in docs]
    for chunk in _chunks(ids, 500):
        session.execute(delete(MatterSearchDoc).where(MatterSearchDoc.matter_id.in_(chunk)))
    if docs:
        session.execute(
            insert(MatterSearchDoc),
            [
                {
                    "matter_id": d.matter_id,
                    "name_words": d.name_words,
                    "alias_words": d.alias_words,
                    "keyword_words": d.keyword_words,
                    "body_words": d.body_words,
                    "phrases": d.phrases,
                }
                for d in docs
            ],
        )
    search.reindex(session, docs)


def _latest_hashes(session: Session) -> dict[int, tuple[int, str]]:
    """matter id -> (latest version, its content hash), in one query for a whole load."""
    latest = (
        select(MatterVersion.matter_id, func.max(MatterVersion.version).label("v"))
        .group_by(MatterVersion.matter_id)
        .subquery()
    )
    rows = session.execute(
        select(MatterVersion.matter_id, MatterVersion.version, MatterVersion.content_hash).join(
            latest,
            (latest.c.matter_id == MatterVersion.matter_id) & (latest.c.v == MatterVersion.version),
        )
    )
    return {r.matter_id: (r.version, r.content_hash) for r in rows}


def _chunks(items: Sequence[int], n: int) -> Iterable[Sequence[int]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]
