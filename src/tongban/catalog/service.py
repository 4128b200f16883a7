"""The catalog's domain logic for readers: guides, search, departments and halls, statistics,
export; and the entry points that load a catalog (the writing itself is in `writer.py`, the
reform's computed promises in `rules.py`).

Services take a Session, never commit, and raise DomainError; they know nothing of HTTP.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy import Float, Integer, func, literal, select, text
from sqlalchemy.orm import Session

from tongban.audit.service import record
from tongban.catalog import rules, search, writer
from tongban.catalog.loader import read_catalog
from tongban.catalog.models import (
    Bundle,
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
from tongban.catalog.rules import DepartmentFacts, HallScope
from tongban.catalog.schemas import (
    MATTER_KIND_LABELS,
    Audience,
    BundleIn,
    CatalogStats,
    DepartmentLevel,
    DepartmentOut,
    DepartmentRef,
    DistrictIn,
    DivisionsFile,
    GuideOut,
    HallOut,
    HallRef,
    IndustryIn,
    MaterialSource,
    MatterIn,
    MatterPage,
    MatterSummary,
    StreetIn,
)
from tongban.catalog.writer import ApplyReport, apply_catalog
from tongban.common.regions import REGION_NAMES_EN
from tongban.errors import DomainError, FieldError, NotFound, validation_failed

__all__ = [
    "ApplyReport",
    "SearchParams",
    "apply_catalog",
    "catalog_stats",
    "export_catalog",
    "get_department",
    "get_guide",
    "get_hall",
    "guide_in_english",
    "list_departments",
    "list_districts",
    "list_halls",
    "load_catalog_dir",
    "save_matter",
    "search_matters",
]

# ---------------------------------------------------------------------------------------------
# Loading (the writing itself is in writer.py)
# ---------------------------------------------------------------------------------------------


def load_catalog_dir(session: Session, root: Path | None = None) -> ApplyReport:
    """Read, validate and apply a catalog folder (the shipped one by default)."""
    source = read_catalog(root) if root is not None else read_catalog()
    return apply_catalog(session, source)


def save_matter(session: Session, entry: MatterIn) -> GuideOut:
    """Create or edit one matter (an admin's guide edit); a changed guide gets a new version."""
    writer.save_matter(session, entry)
    return get_guide(session, entry.code)


# ---------------------------------------------------------------------------------------------
# Guides
# ---------------------------------------------------------------------------------------------


def _matter_or_404(session: Session, code: str) -> Matter:
    m = session.scalars(select(Matter).where(Matter.code == code)).first()
    if m is None:
        raise NotFound(
            "matter_not_found", "未找到该事项", "No such matter", detail=f"matter {code!r}"
        )
    return m


def get_guide(session: Session, code: str, version: int | None = None) -> GuideOut:
    """办事指南 of a matter: the current version, or an older one exactly as it was published."""
    m = _matter_or_404(session, code)
    rows = session.execute(
        select(MatterVersion.version, MatterVersion.published_at)
        .where(MatterVersion.matter_id == m.id)
        .order_by(MatterVersion.version)
    ).all()
    versions = [r.version for r in rows]
    wanted = version if version is not None else m.version
    if wanted not in versions:
        raise NotFound(
            "matter_version_not_found",
            "该事项没有这个版本的办事指南",
            "This version of the guide does not exist",
            detail=f"matter {code!r} has versions {versions}",
        )
    snap = session.scalars(
        select(MatterVersion).where(
            MatterVersion.matter_id == m.id, MatterVersion.version == wanted
        )
    ).one()
    halls = _hall_refs(session, m)
    return GuideOut(
        **snap.guide,
        version=wanted,
        versions=versions,
        published_at=snap.published_at.isoformat(),
        halls=halls,
    )


def _hall_refs(session: Session, m: Matter) -> list[HallRef]:
    """The halls that accept a matter now (两个集中), as plain rows: a guide lists hundreds."""
    entry = MatterIn.model_validate(m.definition)
    dep = m.department
    scope = HallScope.of(
        entry,
        DepartmentFacts(dep.key, dep.name, dep.name_en, dep.level, dep.district_code, dep.region),
    )
    stmt = (
        select(Hall.key, Hall.name, Hall.kind, Hall.district_code, District.name, Street.name)
        .join(District, District.code == Hall.district_code)
        .outerjoin(Street, Street.code == Hall.street_code)
        .order_by(Hall.district_code, Hall.kind, Hall.key)
    )
    if scope.explicit:
        stmt = stmt.where(Hall.key.in_(scope.explicit))
    else:
        stmt = stmt.where(Hall.kind.in_(scope.kinds))
        if scope.district:
            stmt = stmt.where(Hall.district_code == scope.district)
    # Rows straight from our own tables: constructed without re-validation (hundreds per guide).
    return [
        HallRef.model_construct(
            code=k, name=n, kind=kind, district=d, district_name=dn, street_name=sn
        )
        for k, n, kind, d, dn, sn in session.execute(stmt)
    ]


@dataclass(frozen=True)
class GuideEnglish:
    """What a guide page shows in English that the published guide holds in Chinese only: the
    sentences the rules wrote, worded again from the English catalog with the English names
    of the bodies and licenses they name (the guide itself, and the API, stay as published)."""

    hall_rule: str
    exempt_reasons: dict[str, str | None]  # by material key
    prefill_sources: dict[str, str | None]  # by data element
    license_names: dict[str, str]  # license type key -> English name
    region_name: str | None  # the peer region of a cross-province matter


def guide_in_english(session: Session, guide: GuideOut) -> GuideEnglish:
    m = _matter_or_404(session, guide.code)
    entry = MatterIn.model_validate(m.definition)
    facts = writer.catalog_facts(session)
    dep = facts.departments[m.department.key]
    reasons = {}
    for mat in guide.materials:
        issuer = facts.departments.get(mat.department["code"]) if mat.department else None
        lt = facts.license_types.get(mat.license_type["key"]) if mat.license_type else None
        reasons[mat.key] = rules.material_exemption(mat.source, issuer, lt, english=True)[1]
    prefill = {
        f.element: rules.field_prefill(facts.elements[f.element], entry, facts, english=True)
        for f in guide.fields
        if f.prefillable and f.element in facts.elements
    }
    region = (guide.cross_region or {}).get("region")
    return GuideEnglish(
        hall_rule=rules.hall_rule(entry, dep, HallScope.of(entry, dep), english=True),
        exempt_reasons=reasons,
        prefill_sources=prefill,
        license_names={k: t.name_en for k, t in facts.license_types.items() if t.name_en},
        region_name=REGION_NAMES_EN.get(region, region) if region else None,
    )


# ---------------------------------------------------------------------------------------------
# Search
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchParams:
    q: str | None = None
    audience: Audience | None = None
    department: str | None = None
    district: str | None = None
    online: bool | None = None
    kind: str | None = None
    page: int = 1
    size: int = 20


def _known_district(session: Session, code: str | None) -> None:
    """A district filter names a district of this region's catalog (any province's code has
    the right form, but a node answers for its own region only)."""
    if code and session.get(District, code) is None:
        raise validation_failed(
            [FieldError("district", f"本地区没有代码为 {code} 的区县", "unknown_district")]
        )


def search_matters(session: Session, p: SearchParams) -> MatterPage:
    """Matters matching what someone typed, best first, with filters; the whole catalog if no q."""
    _known_district(session, p.district)
    query = (p.q or "").strip()
    if not query:
        stmt = _filtered(select(Matter.id, literal(None).label("score")), p)
        return _page(session, stmt, [Matter.department_id, Matter.code], p)
    plan = search.plan_query(query)
    if not plan.groups:
        return MatterPage(items=[], total=0, page=p.page, size=p.size, query=p.q)
    page = _search_page(session, plan, p)
    relaxed = plan.relaxed()
    if page.total == 0 and relaxed is not None:
        page = _search_page(session, relaxed, p)
        page.partial = True
    return page


RERANK_WINDOW = 50


def _search_page(session: Session, plan: search.QueryPlan, p: SearchParams) -> MatterPage:
    sql, params = search.match_sql(session, plan)
    hits = text(sql).bindparams(**params).columns(matter_id=Integer, score=Float).subquery("hits")
    stmt = select(hits.c.matter_id, hits.c.score)
    if _has_filters(p):  # the join to matters costs a lookup per match: only when filtering
        stmt = _filtered(stmt.join(Matter, Matter.id == hits.c.matter_id), p)
    order = [hits.c.score.desc(), hits.c.matter_id]
    start, end = (p.page - 1) * p.size, p.page * p.size
    if start >= RERANK_WINDOW:  # wholly past the re-ranked head: the database's order
        return _page(session, stmt, order, p)
    # The head of the list is re-ranked; what follows it keeps the database's order, so a page
    # that straddles the boundary takes the rest of the head and then the next rows. The head's
    # phrases are joined after the LIMIT, so only the head pays for them.
    counted = stmt.add_columns(func.count().over().label("total"))
    top = counted.order_by(*order).limit(max(end, RERANK_WINDOW)).subquery("top")
    rows = session.execute(
        select(top.c.score, top.c.total, MatterSearchDoc.phrases, *_SUMMARY_COLUMNS)
        .join(MatterSearchDoc, MatterSearchDoc.matter_id == top.c.matter_id)
        .join(Matter, Matter.id == top.c.matter_id)
        .join(Department, Department.id == Matter.department_id)
    ).all()
    if not rows:
        return MatterPage(items=[], total=0, page=p.page, size=p.size, query=p.q)
    ordered = sorted(rows, key=lambda r: (-r.score, r.id))
    by_id = {r.id: r for r in rows}
    head = _rerank(ordered[:RERANK_WINDOW], p.q or "", plan)
    tail = [(r.id, float(r.score)) for r in ordered[RERANK_WINDOW:]]
    return MatterPage(
        items=[_summary(by_id[mid], score) for mid, score in (head + tail)[start:end]],
        total=int(rows[0].total),
        page=p.page,
        size=p.size,
        query=p.q,
    )


def _rerank(rows: Sequence[Any], query: str, plan: search.QueryPlan) -> list[tuple[int, float]]:
    """Full-text score scaled to 0..1 plus the phrase boost; ties keep the database's order."""
    top = max(r.score for r in rows) or 1.0
    phrase = search.cleaned_query(query)
    concepts = [g[0][0] for g in plan.groups]
    scored = [
        (r.id, r.score / top + search.phrase_boost(phrase, concepts, r.phrases), i)
        for i, r in enumerate(rows)
    ]
    scored.sort(key=lambda t: (-t[1], t[2]))
    return [(mid, score) for mid, score, _ in scored]


def _page(session: Session, stmt: Any, order: list[Any], p: SearchParams) -> MatterPage:
    # One pass over the matches gives the page and, by a window count, the total.
    counted = stmt.add_columns(func.count().over().label("total"))
    rows = session.execute(
        counted.order_by(*order).limit(p.size).offset((p.page - 1) * p.size)
    ).all()
    if rows:
        total = int(rows[0].total)
    else:  # past the last page: the window saw no rows, so count separately
        total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    items = _summaries(session, [(r[0], r[1]) for r in rows])
    return MatterPage(items=items, total=total, page=p.page, size=p.size, query=p.q)


def _summaries(session: Session, rows: Sequence[tuple[int, float | None]]) -> list[MatterSummary]:
    found = {
        row.id: row
        for row in session.execute(
            select(*_SUMMARY_COLUMNS)
            .join(Department, Department.id == Matter.department_id)
            .where(Matter.id.in_([r[0] for r in rows]))
        )
    }
    return [_summary(found[mid], score) for mid, score in rows]


def _has_filters(p: SearchParams) -> bool:
    return any(
        v is not None and v != "" for v in (p.audience, p.department, p.district, p.online, p.kind)
    )


def _filtered(stmt: Any, p: SearchParams) -> Any:
    if p.audience is Audience.PERSON:
        stmt = stmt.where(Matter.for_person.is_(True))
    elif p.audience is Audience.ENTERPRISE:
        stmt = stmt.where(Matter.for_enterprise.is_(True))
    if p.department:
        stmt = stmt.join(Department, Department.id == Matter.department_id).where(
            Department.key == p.department
        )
    if p.district:
        stmt = stmt.where(
            Matter.id.in_(
                select(MatterDistrict.matter_id).where(MatterDistrict.district_code == p.district)
            )
        )
    if p.online is not None:
        stmt = stmt.where(Matter.fully_online.is_(p.online))
    if p.kind:
        stmt = stmt.where(Matter.kind == p.kind)
    return stmt


_SUMMARY_COLUMNS = (
    Matter.id,
    Matter.code,
    Matter.name,
    Matter.name_en,
    Matter.kind,
    Matter.for_person,
    Matter.for_enterprise,
    Matter.fully_online,
    Matter.trips,
    Matter.promised_days,
    Matter.exempt_count,
    Matter.materials_count,
    Matter.version,
    Department.key.label("dep_key"),
    Department.name.label("dep_name"),
    Department.name_en.label("dep_name_en"),
)


def _summary(m: Any, score: float | None) -> MatterSummary:
    """A search result from a plain row of _SUMMARY_COLUMNS (no ORM objects on the hot path)."""
    audience = [a for a, on in (("person", m.for_person), ("enterprise", m.for_enterprise)) if on]
    return MatterSummary(
        code=m.code,
        name=m.name,
        name_en=m.name_en,
        kind=m.kind,
        kind_name=MATTER_KIND_LABELS[m.kind][0],
        department=DepartmentRef(code=m.dep_key, name=m.dep_name, name_en=m.dep_name_en),
        audience=audience,
        fully_online=m.fully_online,
        trips=m.trips,
        promised_days=m.promised_days,
        exempt_materials=m.exempt_count,
        materials=m.materials_count,
        version=m.version,
        score=round(score, 4) if score is not None else None,
    )


# ---------------------------------------------------------------------------------------------
# Departments and halls
# ---------------------------------------------------------------------------------------------


def _district_names(session: Session) -> dict[str, str]:
    return {d.code: d.name for d in session.scalars(select(District))}


def list_districts(session: Session) -> list[dict[str, str]]:
    return [
        {"code": d.code, "name": d.name, "name_en": d.name_en}
        for d in session.scalars(select(District).order_by(District.code))
    ]


def _street_names(session: Session) -> dict[str, str]:
    return {s.code: s.name for s in session.scalars(select(Street))}


def hall_names(session: Session, keys: list[str]) -> dict[str, dict[str, str | None]]:
    """Name, address and phone of the named halls, for pages and receipts."""
    if not keys:
        return {}
    return {
        h.key: {"name": h.name, "address": h.address, "phone": h.phone}
        for h in session.scalars(select(Hall).where(Hall.key.in_(keys)))
    }


def department_names(session: Session, keys: list[str]) -> dict[str, str]:
    """Department names by key, for statistics and published results."""
    if not keys:
        return {}
    rows = session.execute(select(Department.key, Department.name).where(Department.key.in_(keys)))
    return {str(row[0]): str(row[1]) for row in rows}


def hall_out(h: Hall, districts: dict[str, str], streets: dict[str, str]) -> HallOut:
    return HallOut(
        code=h.key,
        name=h.name,
        kind=h.kind,
        district=h.district_code,
        district_name=districts.get(h.district_code, h.district_code),
        street=h.street_code,
        street_name=streets.get(h.street_code) if h.street_code else None,
        address=h.address,
        phone=h.phone,
        hours=h.hours,
        assumptions=dict(h.assumptions or {}),
    )


def list_departments(session: Session) -> list[DepartmentOut]:
    names = _district_names(session)
    counts = dict(
        session.execute(
            select(Matter.department_id, func.count()).group_by(Matter.department_id)
        ).all()
    )
    deps = session.scalars(select(Department).order_by(Department.level, Department.key))
    return [_department_out(d, names, counts.get(d.id, 0)) for d in deps]


def _department_out(d: Department, names: dict[str, str], matters: int) -> DepartmentOut:
    return DepartmentOut(
        code=d.key,
        name=d.name,
        name_en=d.name_en,
        level=d.level,
        district=d.district_code,
        district_name=names.get(d.district_code or ""),
        uscc=d.uscc,
        phone=d.phone,
        website=d.website,
        matters=matters,
        assumptions=dict(d.assumptions or {}),
    )


def get_department(session: Session, key: str) -> DepartmentOut:
    d = session.scalars(select(Department).where(Department.key == key)).first()
    if d is None:
        raise NotFound("department_not_found", "未找到该部门", "No such department")
    count = session.scalar(select(func.count()).where(Matter.department_id == d.id)) or 0
    return _department_out(d, _district_names(session), count)


def list_halls(
    session: Session, district: str | None = None, kind: str | None = None
) -> list[HallOut]:
    _known_district(session, district)
    names, streets = _district_names(session), _street_names(session)
    stmt = select(Hall).order_by(Hall.district_code, Hall.kind, Hall.key)
    if district:
        stmt = stmt.where(Hall.district_code == district)
    if kind:
        stmt = stmt.where(Hall.kind == kind)
    return [hall_out(h, names, streets) for h in session.scalars(stmt)]


def get_hall(session: Session, key: str) -> HallOut:
    h = session.scalars(select(Hall).where(Hall.key == key)).first()
    if h is None:
        raise NotFound("hall_not_found", "未找到该服务大厅", "No such service hall")
    return hall_out(h, _district_names(session), _street_names(session))


# ---------------------------------------------------------------------------------------------
# Statistics
# ---------------------------------------------------------------------------------------------


def catalog_stats(session: Session) -> CatalogStats:
    matters = session.scalar(select(func.count()).select_from(Matter)) or 0
    by_source = dict(
        session.execute(
            select(MatterMaterial.source, func.count()).group_by(MatterMaterial.source)
        ).all()
    )
    exempt_by_source = dict(
        session.execute(
            select(MatterMaterial.source, func.count())
            .where(MatterMaterial.exempt.is_(True))
            .group_by(MatterMaterial.source)
        ).all()
    )
    # "Department-issued" = issued by a public body, whether shared as data or as an e-license.
    issued = by_source.get("department", 0) + by_source.get("license", 0)
    issued_exempt = exempt_by_source.get("department", 0) + exempt_by_source.get("license", 0)
    materials = sum(by_source.values())
    exempt = sum(exempt_by_source.values())
    online = session.scalar(select(func.count()).where(Matter.fully_online.is_(True))) or 0
    zero_trips = session.scalar(select(func.count()).where(Matter.trips == 0)) or 0
    avg_trips = session.scalar(select(func.avg(Matter.trips))) or 0
    fields = session.scalar(select(func.count()).select_from(MatterField)) or 0
    prefill = session.scalar(select(func.count()).where(MatterField.prefillable.is_(True))) or 0
    kinds = Counter(
        dict(session.execute(select(Matter.kind, func.count()).group_by(Matter.kind)).all())
    )
    person = session.scalar(select(func.count()).where(Matter.for_person.is_(True))) or 0
    enterprise = session.scalar(select(func.count()).where(Matter.for_enterprise.is_(True))) or 0
    deps = (
        session.scalar(
            select(func.count()).where(Department.level != DepartmentLevel.EXTERNAL.value)
        )
        or 0
    )
    return CatalogStats(
        matters=matters,
        departments=deps,
        halls=session.scalar(select(func.count()).select_from(Hall)) or 0,
        license_types=session.scalar(select(func.count()).select_from(LicenseType)) or 0,
        data_elements=session.scalar(select(func.count()).select_from(DataElement)) or 0,
        materials=materials,
        materials_by_source={s.value: by_source.get(s.value, 0) for s in MaterialSource},
        department_issued_materials=issued,
        department_issued_exempt=issued_exempt,
        exemption_rate=_rate(issued_exempt, issued),
        exempt_materials=exempt,
        overall_exemption_rate=_rate(exempt, materials),
        fields=fields,
        prefillable_fields=prefill,
        fully_online_matters=online,
        fully_online_rate=_rate(online, matters),
        average_trips=round(float(avg_trips), 3),
        zero_trip_matters=zero_trips,
        matters_by_kind={k: kinds[k] for k in sorted(kinds)},
        matters_by_audience={"person": person, "enterprise": enterprise},
    )


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


# ---------------------------------------------------------------------------------------------
# Export (the database back out as catalog YAML, so edits round-trip)
# ---------------------------------------------------------------------------------------------


def export_catalog(session: Session, root: Path) -> dict[str, int]:
    """Write the catalog as YAML files below `root`; reading them back gives the same catalog.

    The folder must hold no catalog files yet: a stale file left beside the export would be
    read back as part of it.
    """
    if root.exists() and any(p.suffix in (".yaml", ".yml") for p in root.rglob("*")):
        raise DomainError(
            code="export_target_not_empty",
            title="导出目录中已有事项库文件",
            title_en="The export folder already holds catalog files",
            status=409,
            detail=str(root),
        )
    root.mkdir(parents=True, exist_ok=True)
    (root / "matters").mkdir(exist_ok=True)
    written: dict[str, int] = {}
    districts = [
        DistrictIn(code=d.code, name=d.name, name_en=d.name_en)
        for d in session.scalars(select(District).order_by(District.code))
    ]
    streets = [
        StreetIn(code=s.code, name=s.name, district=s.district_code)
        for s in session.scalars(select(Street).order_by(Street.code))
    ]
    if districts:
        note = writer.get_meta(session, "divisions_source") or "exported from a Tongban database"
        div = DivisionsFile(source=note, districts=districts, streets=streets)
        _dump(root / "divisions.yaml", div.model_dump(mode="json", exclude_defaults=True))
        written["districts"] = len(districts)
    deps = list(session.scalars(select(Department).order_by(Department.id)))
    _dump(
        root / "departments.yaml",
        {
            "departments": [
                writer.department_in(d).model_dump(mode="json", exclude_defaults=True) for d in deps
            ]
        },
    )
    written["departments"] = len(deps)
    halls = list(session.scalars(select(Hall).order_by(Hall.id)))
    if halls:
        _dump(
            root / "halls.yaml",
            {
                "halls": [
                    writer.hall_in(h).model_dump(mode="json", exclude_defaults=True) for h in halls
                ]
            },
        )
    written["halls"] = len(halls)
    elements = list(session.scalars(select(DataElement).order_by(DataElement.id)))
    _dump(
        root / "data_elements.yaml",
        {
            "data_elements": [
                writer.element_in(e).model_dump(mode="json", exclude_defaults=True)
                for e in elements
            ]
        },
    )
    written["data_elements"] = len(elements)
    by_id = {d.id: d.key for d in deps}
    lts = list(session.scalars(select(LicenseType).order_by(LicenseType.id)))
    _dump(
        root / "license_types.yaml",
        {
            "license_types": [
                writer.license_in(t, by_id).model_dump(mode="json", exclude_defaults=True)
                for t in lts
            ]
        },
    )
    written["license_types"] = len(lts)
    grouped: dict[str, list[dict[str, Any]]] = {}
    for m in session.scalars(select(Matter).order_by(Matter.code)):
        definition = dict(m.definition)
        dep_key = definition.pop("department")
        grouped.setdefault(dep_key, []).append(definition)
    for dep_key, items in grouped.items():
        _dump(root / "matters" / f"{dep_key}.yaml", {"department": dep_key, "matters": items})
    written["matters"] = sum(len(v) for v in grouped.values())
    bundles = [b.definition for b in session.scalars(select(Bundle).order_by(Bundle.code))]
    if bundles:
        _dump(root / "bundles.yaml", {"bundles": bundles})
    written["bundles"] = len(bundles)
    industries = [i.definition for i in session.scalars(select(Industry).order_by(Industry.code))]
    if industries:
        _dump(root / "industries.yaml", {"industries": industries})
    written["industries"] = len(industries)
    return written


def _dump(path: Path, data: dict[str, Any]) -> None:
    path.write_text(
        yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100), encoding="utf-8"
    )


@dataclass(frozen=True)
class LicenseTypeFacts:
    """A license type as the registry needs it: who defines and issues it, and its fields."""

    id: int
    key: str
    code: str
    name: str
    name_en: str
    holder: str
    validity_years: int | None
    department_id: int
    department_key: str
    department_name: str
    department_uscc: str | None
    fields: dict[str, rules.ElementFacts]


def license_types(session: Session) -> list[dict[str, str]]:
    """The license catalog (证照目录) as published: what a peer region agrees to recognize."""
    return [
        {
            "key": t.key,
            "code": t.code,
            "name": t.name,
            "name_en": t.name_en,
            "holder": t.holder,
            "department": t.department.name,
        }
        for t in session.scalars(select(LicenseType).order_by(LicenseType.key))
    ]


def license_type_codes(session: Session) -> dict[str, str]:
    """Our license types' codes by key."""
    return {str(k): str(c) for k, c in session.execute(select(LicenseType.key, LicenseType.code))}


def license_type_facts(session: Session, key: str) -> LicenseTypeFacts:
    t = session.scalars(select(LicenseType).where(LicenseType.key == key)).first()
    if t is None:
        raise NotFound("license_type_not_found", "证照类型不存在", "No such license type", key)
    elements = {
        e.key: e for e in session.scalars(select(DataElement).where(DataElement.key.in_(t.fields)))
    }
    return LicenseTypeFacts(
        id=t.id,
        key=t.key,
        code=t.code,
        name=t.name,
        name_en=t.name_en,
        holder=t.holder,
        validity_years=t.validity_years,
        department_id=t.department_id,
        department_key=t.department.key,
        department_name=t.department.name,
        department_uscc=t.department.uscc,
        fields={
            k: rules.ElementFacts(
                key=k,
                label=elements[k].label,
                label_en=elements[k].label_en,
                type=elements[k].type,
                options=tuple(elements[k].options),
                registry=elements[k].base_registry,
                max_length=elements[k].max_length,
            )
            for k in t.fields
            if k in elements
        },
    )


def data_element_facts(session: Session, keys: list[str]) -> dict[str, rules.ElementFacts]:
    """The data elements of these keys (those the catalog knows), as validators need them."""
    return {
        e.key: writer.element_facts(e)
        for e in session.scalars(select(DataElement).where(DataElement.key.in_(keys)))
    }


@dataclass(frozen=True)
class MaterialFacts:
    key: str
    name: str
    required: bool
    source: str  # applicant | department | license
    exempt: bool
    department_name: str | None
    license_type_key: str | None
    license_type_name: str | None
    license_holder: str | None  # person | enterprise


@dataclass(frozen=True)
class MatterMaterialsFacts:
    code: str
    name: str
    for_person: bool
    for_enterprise: bool
    materials: list[MaterialFacts]


def matter_materials_facts(session: Session, code: str) -> MatterMaterialsFacts:
    """A matter's materials as the 免提交 resolver needs them."""
    matter = _matter_or_404(session, code)
    rows = session.scalars(
        select(MatterMaterial)
        .where(MatterMaterial.matter_id == matter.id)
        .order_by(MatterMaterial.position)
    ).all()
    return MatterMaterialsFacts(
        code=matter.code,
        name=matter.name,
        for_person=matter.for_person,
        for_enterprise=matter.for_enterprise,
        materials=[
            MaterialFacts(
                key=m.key,
                name=m.name,
                required=m.required,
                source=m.source,
                exempt=m.exempt,
                department_name=m.department.name if m.department else None,
                license_type_key=m.license_type.key if m.license_type else None,
                license_type_name=m.license_type.name if m.license_type else None,
                license_holder=m.license_type.holder if m.license_type else None,
            )
            for m in rows
        ],
    )


@dataclass(frozen=True)
class FormFieldFacts:
    key: str
    label: str
    type: str
    options: tuple[str, ...]
    required: bool
    registry: str | None
    prefillable: bool


def matter_form_facts(session: Session, code: str) -> list[FormFieldFacts]:
    """A matter's form fields, in order, with their data elements."""
    matter = _matter_or_404(session, code)
    rows = session.scalars(
        select(MatterField).where(MatterField.matter_id == matter.id).order_by(MatterField.position)
    ).all()
    return [
        FormFieldFacts(
            key=f.element.key,
            label=f.label or f.element.label,
            type=f.element.type,
            options=tuple(f.element.options),
            required=f.required,
            registry=f.element.base_registry,
            prefillable=f.prefillable,
        )
        for f in rows
    ]


@dataclass(frozen=True)
class MatterCaseFacts:
    """What handling a case of a matter needs from the catalog."""

    code: str
    name: str
    for_person: bool
    for_enterprise: bool
    promised_days: int
    department_key: str
    department_name: str
    department_district: str | None
    department_level: str
    halls: tuple[str, ...]  # specialized halls the matter names, if any
    issues_license: str | None  # the license type key an approval issues
    kind: str = ""  # the matter's kind ("01" 行政许可, ...), which an agent's scope names
    # 跨省通办: the peer region that handles the matter (its cases are forwarded there) and
    # the matter's code in that region; or, for a matter of ours, whether peers may accept it.
    region: str | None = None
    peer_code: str | None = None
    cross_region: bool = False


def matter_case_facts(session: Session, code: str) -> MatterCaseFacts:
    m = _matter_or_404(session, code)
    department = session.get(Department, m.department_id)
    assert department is not None
    license_key = (
        session.scalar(select(LicenseType.key).where(LicenseType.id == m.issues_license_id))
        if m.issues_license_id
        else None
    )
    return MatterCaseFacts(
        code=m.code,
        name=m.name,
        for_person=m.for_person,
        for_enterprise=m.for_enterprise,
        promised_days=m.promised_days,
        department_key=department.key,
        department_name=department.name,
        department_district=department.district_code,
        department_level=department.level,
        halls=tuple(m.definition.get("halls") or ()),
        issues_license=license_key,
        kind=m.kind,
        region=department.region,
        peer_code=(m.definition.get("peer_code") or m.code) if department.region else None,
        cross_region=bool(m.definition.get("cross_region")),
    )


def hall_for(
    session: Session,
    facts: MatterCaseFacts,
    *,
    street: str | None,
    district: str | None,
    enterprise: bool,
) -> Hall | None:
    """两个集中: where a case is accepted. A named specialized hall; else, for an enterprise,
    its district's administrative service centre; for a person, the community affairs centre
    of their street (or their district's first), within the department's district if local."""
    if facts.halls:
        return session.scalars(select(Hall).where(Hall.key == facts.halls[0])).first()
    if facts.region is not None:
        # 跨省通办: online, a peer region's matter is forwarded from the applicant's district
        # centre, whose cross-province window hands the result out.
        enterprise = True
    local = facts.department_level in ("district", "street")
    where = facts.department_district if local else district
    if enterprise:
        return session.scalars(
            select(Hall)
            .where(Hall.kind == "district_center", Hall.district_code == where)
            .order_by(Hall.key)
        ).first()
    query = select(Hall).where(Hall.kind == "street_center")
    if street and (not local or (district == where)):
        found = session.scalars(query.where(Hall.street_code == street).order_by(Hall.key)).first()
        if found is not None:
            return found
    return session.scalars(query.where(Hall.district_code == where).order_by(Hall.key)).first()


# ---------------------------------------------------------------------------------------------
# 一件事 bundles: their definitions and the facts of their matters, for the planner
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BundleRow:
    entry: BundleIn
    version: int


def list_bundles(session: Session) -> list[BundleRow]:
    return [
        BundleRow(BundleIn.model_validate(b.definition), b.version)
        for b in session.scalars(select(Bundle).order_by(Bundle.id))
    ]


def get_bundle(session: Session, code: str) -> BundleRow:
    row = session.scalars(select(Bundle).where(Bundle.code == code)).first()
    if row is None:
        raise NotFound("bundle_not_found", "一件事不存在", "No such bundle", code)
    return BundleRow(BundleIn.model_validate(row.definition), row.version)


@dataclass(frozen=True)
class IndustryRow:
    entry: IndustryIn
    version: int


def list_industries(session: Session) -> list[IndustryRow]:
    return [
        IndustryRow(IndustryIn.model_validate(i.definition), i.version)
        for i in session.scalars(select(Industry).order_by(Industry.id))
    ]


def get_industry(session: Session, code: str) -> IndustryRow:
    row = session.scalars(select(Industry).where(Industry.code == code)).first()
    if row is None:
        raise NotFound("industry_not_found", "未找到该行业", "No such industry", code)
    return IndustryRow(IndustryIn.model_validate(row.definition), row.version)


@dataclass(frozen=True)
class PlanField:
    key: str
    label: str
    label_en: str
    type: str
    options: tuple[str, ...]
    required: bool
    registry: str | None
    prefillable: bool


@dataclass(frozen=True)
class PlanMaterial:
    key: str
    name: str
    required: bool
    source: str  # applicant | department | license
    exempt: bool
    department_key: str | None
    department_name: str | None
    license_type: str | None
    license_type_name: str | None


@dataclass(frozen=True)
class PlanMatter:
    """One matter as the bundle planner sees it: all it needs, in one read."""

    code: str
    name: str
    department_key: str
    department_name: str
    promised_days: int
    trips: int
    steps: tuple[tuple[str, str], ...]  # (name, actor)
    fields: tuple[PlanField, ...]
    materials: tuple[PlanMaterial, ...]
    issues_license: str | None
    specialized_halls: tuple[str, ...]


def plan_matters(session: Session, codes: Sequence[str]) -> dict[str, PlanMatter]:
    """The planner's facts of these matters, read in a handful of queries whatever their
    number; a code that is not in the catalog is missing from the answer."""
    rows = session.scalars(select(Matter).where(Matter.code.in_(list(codes)))).all()
    if not rows:
        return {}
    ids = [m.id for m in rows]
    steps: dict[int, list[tuple[str, str]]] = {}
    for s in session.scalars(
        select(MatterStep).where(MatterStep.matter_id.in_(ids)).order_by(MatterStep.position)
    ):
        steps.setdefault(s.matter_id, []).append((s.name, s.actor))
    fields: dict[int, list[PlanField]] = {}
    for f in session.scalars(
        select(MatterField).where(MatterField.matter_id.in_(ids)).order_by(MatterField.position)
    ):
        el = f.element
        fields.setdefault(f.matter_id, []).append(
            PlanField(
                key=el.key,
                label=f.label or el.label,
                label_en=el.label_en,
                type=el.type,
                options=tuple(el.options),
                required=f.required,
                registry=el.base_registry,
                prefillable=f.prefillable,
            )
        )
    materials: dict[int, list[PlanMaterial]] = {}
    for x in session.scalars(
        select(MatterMaterial)
        .where(MatterMaterial.matter_id.in_(ids))
        .order_by(MatterMaterial.position)
    ):
        materials.setdefault(x.matter_id, []).append(
            PlanMaterial(
                key=x.key,
                name=x.name,
                required=x.required,
                source=x.source,
                exempt=x.exempt,
                department_key=x.department.key if x.department else None,
                department_name=x.department.name if x.department else None,
                license_type=x.license_type.key if x.license_type else None,
                license_type_name=x.license_type.name if x.license_type else None,
            )
        )
    licenses = {row.id: row.key for row in session.execute(select(LicenseType.id, LicenseType.key))}
    return {
        m.code: PlanMatter(
            code=m.code,
            name=m.name,
            department_key=m.department.key,
            department_name=m.department.name,
            promised_days=m.promised_days,
            trips=m.trips,
            steps=tuple(steps.get(m.id, ())),
            fields=tuple(fields.get(m.id, ())),
            materials=tuple(materials.get(m.id, ())),
            issues_license=licenses.get(m.issues_license_id) if m.issues_license_id else None,
            specialized_halls=tuple(m.definition.get("halls") or ()),
        )
        for m in rows
    }


# ---------------------------------------------------------------------------------------------
# An administrator's edit of one guide
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GuideEdit:
    """What an administrator changes on the guide page; the rest of the entry stays."""

    name: str
    name_en: str
    promised_days: int
    acceptance_conditions: list[str]
    description: str | None
    result: str


def matter_entry(session: Session, code: str) -> MatterIn:
    """A matter's catalog entry as it was last loaded or edited (what `catalog export` writes)."""
    return MatterIn.model_validate(_matter_or_404(session, code).definition)


def edit_guide(session: Session, code: str, edit: GuideEdit, actor: str) -> tuple[GuideOut, bool]:
    """Apply an administrator's edit through the same path as a catalog load, so the guide is
    checked against the catalog and a changed guide is published as a new version. Returns the
    guide and whether a version was published."""
    before = matter_entry(session, code)
    was = _matter_or_404(session, code).version
    changed = before.model_dump(mode="json") | {
        "name": edit.name,
        "name_en": edit.name_en,
        "promised_limit": {"working_days": edit.promised_days},
        "acceptance_conditions": edit.acceptance_conditions,
        "description": edit.description or None,
        "result": edit.result,
    }
    try:
        entry = MatterIn.model_validate(changed)
    except ValidationError as exc:
        raise validation_failed(
            [
                FieldError(".".join(str(p) for p in e["loc"]) or "matter", e["msg"], e["type"])
                for e in exc.errors()
            ]
        ) from None
    guide = save_matter(session, entry)
    published = guide.version != was
    if published:
        record(
            session,
            actor=actor,
            actor_role="admin",
            action="catalog.guide_edited",
            subject_type="matter",
            subject_id=code,
            details={"version": guide.version},
        )
    return guide, published
