"""The catalog's domain logic: load, guide, search, statistics, export.

Services take a Session, never commit, and raise DomainError; they know nothing of HTTP.
What the reform promises is computed here from the catalog's facts:
- a material is exempt (免提交) when a body of this city issued it (found through data sharing)
  or it exists as a type in the e-license registry;
- a form field is prefillable (免填报) when its data element sits in the applicant's base
  record (人口库/法人库) or in a license type the applicant can hold;
- the halls that accept a matter follow 两个集中: personal matters at the street/town community
  affairs centers, enterprise matters at the district administrative service centers.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Float, Integer, delete, func, insert, literal, select, text
from sqlalchemy.orm import Session, selectinload

from tongban.catalog import search
from tongban.catalog.loader import CatalogSource, read_catalog
from tongban.catalog.models import (
    DataElement,
    Department,
    District,
    Hall,
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
    AUDIENCE_LABELS,
    MATTER_KIND_LABELS,
    Audience,
    CatalogStats,
    DataElementIn,
    DepartmentIn,
    DepartmentLevel,
    DepartmentOut,
    DepartmentRef,
    DistrictIn,
    DivisionsFile,
    FieldOut,
    GuideOut,
    HallIn,
    HallKind,
    HallOut,
    HallRef,
    HandlingForm,
    LicenseTypeIn,
    MaterialOut,
    MaterialSource,
    MatterIn,
    MatterPage,
    MatterSummary,
    StepOut,
    StreetIn,
)
from tongban.db import utcnow
from tongban.errors import NotFound

CASE_TYPE_LABELS = {"1": "即办件", "2": "承诺件"}
REGISTRY_LABELS = {"population": "人口综合库", "legal_person": "法人库"}

# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------


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


def load_catalog_dir(session: Session, root: Path | None = None) -> ApplyReport:
    """Read, validate and apply a catalog folder (the shipped one by default)."""
    source = read_catalog(root) if root is not None else read_catalog()
    return apply_catalog(session, source)


def apply_catalog(session: Session, src: CatalogSource) -> ApplyReport:
    """Upsert a validated catalog. Entries not in `src` stay as they are."""
    report = ApplyReport()
    _set_meta(session, "divisions_source", src.source_note)
    _upsert_divisions(session, src.districts.values(), src.streets.values())
    departments = _upsert_departments(session, src.departments.values())
    _upsert_halls(session, src.halls.values())
    elements = _upsert_elements(session, src.elements.values())
    license_types = _upsert_license_types(session, src.license_types.values(), departments)
    session.flush()
    ctx = _Context.build(session)
    existing = {m.code: m for m in session.scalars(select(Matter).options(*_matter_loads()))}
    published = _latest_hashes(session)
    docs: list[search.SearchDoc] = []
    for matter_in in src.matters.values():
        matter = existing.get(matter_in.code)
        if matter is None:
            matter = Matter(code=matter_in.code, version=0)
            session.add(matter)
        _write_matter(session, matter, matter_in, ctx)
        docs.append(_search_doc(matter, matter_in))
        outcome = _publish_if_changed(session, matter, ctx, published.get(matter.id))
        if outcome == "created":
            report.created.append(matter.code)
        elif outcome == "updated":
            report.updated.append(matter.code)
        else:
            report.unchanged += 1
    session.flush()
    _write_search_docs(session, docs)
    report.counts = {
        "departments": len(departments),
        "halls": len(src.halls),
        "data elements": len(elements),
        "license types": len(license_types),
        "matters": len(src.matters),
    }
    return report


def save_matter(session: Session, matter_in: MatterIn) -> GuideOut:
    """Create or edit one matter (an admin's guide edit); a changed guide gets a new version."""
    from tongban.catalog.loader import CatalogSource as _Src

    src = _Src(matters={matter_in.code: matter_in})
    apply_catalog(session, src)
    return get_guide(session, matter_in.code)


def _set_meta(session: Session, key: str, value: str) -> None:
    if not value:
        return
    session.execute(text("DELETE FROM catalog_meta WHERE key = :k"), {"k": key})
    session.execute(
        text("INSERT INTO catalog_meta(key, value) VALUES (:k, :v)"), {"k": key, "v": value}
    )


def _get_meta(session: Session, key: str) -> str | None:
    return session.execute(
        text("SELECT value FROM catalog_meta WHERE key = :k"), {"k": key}
    ).scalar()


def _upsert_divisions(
    session: Session, districts: Iterable[DistrictIn], streets: Iterable[StreetIn]
) -> None:
    for d in districts:
        session.merge(District(code=d.code, name=d.name, name_en=d.name_en))
    session.flush()
    for s in streets:
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
            "assumptions": dict(d.assumptions),
        },
    )
    session.flush()
    return rows


def _upsert_halls(session: Session, items: Iterable[HallIn]) -> dict[str, Hall]:
    return _upsert_by_key(
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


def _upsert_elements(session: Session, items: Iterable[DataElementIn]) -> dict[str, DataElement]:
    return _upsert_by_key(
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
) -> dict[str, LicenseType]:
    return _upsert_by_key(
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


@dataclass
class _Context:
    """Everything a matter refers to, looked up once per load."""

    departments: dict[str, Department]
    elements: dict[str, DataElement]
    license_types: dict[str, LicenseType]
    halls: dict[str, Hall]
    # data element key -> names of license types holding it, per holder kind
    license_elements: dict[str, dict[str, list[str]]]

    @classmethod
    def build(cls, session: Session) -> _Context:
        license_types = {t.key: t for t in session.scalars(select(LicenseType))}
        by_element: dict[str, dict[str, list[str]]] = {}
        for lt in sorted(license_types.values(), key=lambda t: t.code):
            for el in lt.fields:
                by_element.setdefault(el, {}).setdefault(lt.holder, []).append(lt.name)
        return cls(
            departments={d.key: d for d in session.scalars(select(Department))},
            elements={e.key: e for e in session.scalars(select(DataElement))},
            license_types=license_types,
            halls={h.key: h for h in session.scalars(select(Hall))},
            license_elements=by_element,
        )


def _matter_loads() -> list[Any]:
    return [
        selectinload(Matter.steps),
        selectinload(Matter.fields),
        selectinload(Matter.materials),
    ]


def material_exemption(
    source: str, department: Department | None, license_type: LicenseType | None
) -> tuple[bool, str | None]:
    """两个免于提交: is this material exempt, and why (or where the applicant gets it)."""
    if source == MaterialSource.LICENSE.value and license_type is not None:
        return True, f"电子证照库可调取「{license_type.name}」，免于提交实体证照"
    if source == MaterialSource.DEPARTMENT.value and department is not None:
        if department.level != DepartmentLevel.EXTERNAL.value:
            return True, f"由{department.name}核发，通过数据共享获取，免于提交"
        return False, f"由{department.name}出具，需申请人提交"
    return False, None


def field_prefill(
    element: DataElement, audience: Sequence[str], license_elements: dict[str, dict[str, list[str]]]
) -> str | None:
    """免填报: where a form field's value can come from for this matter's applicants."""
    if element.base_registry == "population":
        # The acting person (applicant or agent) is always a known, real-name-verified person.
        return REGISTRY_LABELS["population"]
    if element.base_registry == "legal_person" and Audience.ENTERPRISE.value in audience:
        return REGISTRY_LABELS["legal_person"]
    holders = license_elements.get(element.key, {})
    names = [n for a in audience for n in holders.get(a, [])]
    if names:
        return "电子证照：" + "、".join(dict.fromkeys(names))
    return None


def _write_matter(session: Session, m: Matter, src: MatterIn, ctx: _Context) -> None:
    assert src.department is not None  # filled by the loader from the file's department
    audience = [a.value for a in src.audience]
    m.implementation_code = src.implementation_code
    m.name = src.name
    m.name_en = src.name_en
    m.kind = src.kind.value
    m.department = ctx.departments[src.department]
    m.for_person = Audience.PERSON in src.audience
    m.for_enterprise = Audience.ENTERPRISE in src.audience
    m.case_type = src.case_type.value
    m.statutory_days = src.statutory_limit.working_days if src.statutory_limit else None
    m.promised_days = src.promised_limit.working_days
    m.trips = src.trips
    m.fully_online = src.trips == 0 and HandlingForm.ONLINE in src.handling_forms
    m.issues_license_id = ctx.license_types[src.issues_license].id if src.issues_license else None
    m.definition = src.model_dump(mode="json", exclude_defaults=True)
    m.updated_at = utcnow()
    m.steps = [
        MatterStep(position=i, name=s.name, actor=s.actor.value, description=s.description)
        for i, s in enumerate(src.steps, 1)
    ]
    m.fields = [
        MatterField(
            position=i,
            element=ctx.elements[f.element],
            required=f.required,
            label=f.label,
            prefillable=field_prefill(ctx.elements[f.element], audience, ctx.license_elements)
            is not None,
        )
        for i, f in enumerate(src.fields, 1)
    ]
    materials = []
    for i, mat in enumerate(src.materials, 1):
        dep = ctx.departments.get(mat.department) if mat.department else None
        lt = ctx.license_types.get(mat.license_type) if mat.license_type else None
        exempt, _ = material_exemption(mat.source.value, dep, lt)
        materials.append(
            MatterMaterial(
                position=i,
                key=mat.key,
                name=mat.name,
                required=mat.required,
                source=mat.source.value,
                department=dep,
                license_type=lt,
                form=mat.form.value,
                copies=mat.copies,
                note=mat.note,
                exempt=exempt,
            )
        )
    m.materials = materials
    m.materials_count = len(materials)
    m.exempt_count = sum(1 for x in materials if x.exempt)
    session.flush()
    session.execute(delete(MatterDistrict).where(MatterDistrict.matter_id == m.id))
    districts = sorted({h.district_code for h in _halls_for(session, m, ctx.halls)})
    if districts:
        session.execute(
            insert(MatterDistrict),
            [{"matter_id": m.id, "district_code": d} for d in districts],
        )


def _halls_for(session: Session, m: Matter, halls: dict[str, Hall] | None = None) -> list[Hall]:
    """两个集中: the halls where this matter can be handed in."""
    explicit = m.definition.get("halls") or []
    if explicit:
        if halls is not None:
            return [halls[k] for k in explicit if k in halls]
        return list(session.scalars(select(Hall).where(Hall.key.in_(explicit)).order_by(Hall.key)))
    kinds = []
    if m.for_person:
        kinds.append(HallKind.STREET_CENTER.value)
    if m.for_enterprise:
        kinds.append(HallKind.DISTRICT_CENTER.value)
    scope = m.department.district_code if m.department.level in ("district", "street") else None
    if halls is not None:
        found = [h for h in halls.values() if h.kind in kinds]
        found = [h for h in found if scope is None or h.district_code == scope]
        return sorted(found, key=lambda h: (h.district_code, h.kind, h.key))
    stmt = select(Hall).where(Hall.kind.in_(kinds))
    if scope is not None:
        stmt = stmt.where(Hall.district_code == scope)
    return list(session.scalars(stmt.order_by(Hall.district_code, Hall.kind, Hall.key)))


def _hall_refs(session: Session, m: Matter) -> list[HallRef]:
    """The halls of a matter as plain rows: a guide lists hundreds, so no ORM objects here."""
    explicit = m.definition.get("halls") or []
    stmt = (
        select(Hall.key, Hall.name, Hall.kind, Hall.district_code, District.name, Street.name)
        .join(District, District.code == Hall.district_code)
        .outerjoin(Street, Street.code == Hall.street_code)
        .order_by(Hall.district_code, Hall.kind, Hall.key)
    )
    if explicit:
        stmt = stmt.where(Hall.key.in_(explicit))
    else:
        kinds = [
            k
            for k, on in (
                (HallKind.STREET_CENTER, m.for_person),
                (HallKind.DISTRICT_CENTER, m.for_enterprise),
            )
            if on
        ]
        stmt = stmt.where(Hall.kind.in_([k.value for k in kinds]))
        if m.department.level in ("district", "street"):
            stmt = stmt.where(Hall.district_code == m.department.district_code)
    return [
        HallRef(code=k, name=n, kind=kind, district=d, district_name=dn, street_name=sn)
        for k, n, kind, d, dn, sn in session.execute(stmt)
    ]


def _hall_rule(m: Matter) -> str:
    if m.definition.get("halls"):
        return "本事项在指定的专门服务大厅办理。"
    where = f"{m.department.name}所在区" if m.department.level in ("district", "street") else "全市"
    rules = []
    if m.for_person:
        rules.append(f"个人事项可到{where}任一街镇社区事务受理服务中心办理（就近办理，两个集中）")
    if m.for_enterprise:
        rules.append(f"企业事项到{where}各区行政服务中心办理，一般为企业注册地所在区")
    if m.trips == 0:
        rules.append("也可通过“一网通办”网站或“随申办”移动端全程网办，无需到现场")
    return "；".join(rules) + "。"


def _search_doc(m: Matter, src: MatterIn) -> search.SearchDoc:
    body = [src.description, src.result, m.department.name, *src.acceptance_conditions]
    body += [x.name for x in src.materials]
    return search.SearchDoc(
        matter_id=m.id,
        name_words=search.join_words([src.name, src.name_en]),
        alias_words=search.join_words(src.aliases),
        keyword_words=search.join_words(src.keywords),
        body_words=search.join_words(body),
        phrases=search.phrases_of(src.name, src.aliases, src.keywords),
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


def _chunks(items: Sequence[int], n: int) -> Iterable[Sequence[int]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


# ---------------------------------------------------------------------------------------------
# Guides
# ---------------------------------------------------------------------------------------------


def _dep_ref(d: Department) -> DepartmentRef:
    return DepartmentRef(code=d.key, name=d.name, name_en=d.name_en)


def render_guide(m: Matter, ctx: _Context) -> dict[str, Any]:
    """The guide document of a matter as it is now, without its version stamp or halls."""
    d = m.definition
    audience = d["audience"]
    lt = next((t for t in ctx.license_types.values() if t.id == m.issues_license_id), None)
    fields = []
    for f in m.fields:
        el = f.element
        source = field_prefill(el, audience, ctx.license_elements)
        fields.append(
            FieldOut(
                element=el.key,
                label=f.label or el.label,
                label_en=el.label_en,
                type=el.type,
                required=f.required,
                options=list(el.options),
                prefillable=source is not None,
                prefill_source=source,
            )
        )
    materials = []
    for mat in m.materials:
        exempt, reason = material_exemption(mat.source, mat.department, mat.license_type)
        materials.append(
            MaterialOut(
                key=mat.key,
                name=mat.name,
                required=mat.required,
                source=mat.source,
                exempt=exempt,
                exempt_reason=reason,
                license_type=(
                    {
                        "key": mat.license_type.key,
                        "code": mat.license_type.code,
                        "name": mat.license_type.name,
                    }
                    if mat.license_type
                    else None
                ),
                department=(
                    {"code": mat.department.key, "name": mat.department.name}
                    if mat.department
                    else None
                ),
                form=mat.form,
                copies=mat.copies,
                note=mat.note,
            )
        )
    kind_zh, _ = MATTER_KIND_LABELS[m.kind]
    doc = {
        "code": m.code,
        "implementation_code": m.implementation_code,
        "name": m.name,
        "name_en": m.name_en,
        "aliases": d.get("aliases", []),
        "kind": m.kind,
        "kind_name": kind_zh,
        "department": _dep_ref(m.department).model_dump(),
        "audience": audience,
        "case_type": m.case_type,
        "case_type_name": CASE_TYPE_LABELS[m.case_type],
        "statutory_days": m.statutory_days,
        "promised_days": m.promised_days,
        "trips": m.trips,
        "trips_reason": d.get("trips_reason"),
        "handling_forms": d["handling_forms"],
        "fully_online": m.fully_online,
        "fee": d.get("fee", {"charged": False}),
        "acceptance_conditions": d.get("acceptance_conditions", []),
        "legal_basis": d.get("legal_basis", []),
        "steps": [
            StepOut(
                order=s.position, name=s.name, actor=s.actor, description=s.description
            ).model_dump()
            for s in m.steps
        ],
        "fields": [f.model_dump() for f in fields],
        "materials": [x.model_dump() for x in materials],
        "exempt_materials": sum(1 for x in materials if x.exempt),
        "issues_license": {"key": lt.key, "code": lt.code, "name": lt.name} if lt else None,
        "result": d["result"],
        "description": d.get("description"),
        "hall_rule": _hall_rule(m),
        "assumptions": d.get("assumptions", {}),
    }
    return doc


def _content_hash(doc: dict[str, Any]) -> str:
    blob = json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


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


def _publish_if_changed(
    session: Session, m: Matter, ctx: _Context, latest: tuple[int, str] | None
) -> str:
    doc = render_guide(m, ctx)
    digest = _content_hash(doc)
    if latest is not None and latest[1] == digest:
        return "unchanged"
    m.version = (latest[0] if latest else 0) + 1
    session.add(MatterVersion(matter_id=m.id, version=m.version, content_hash=digest, guide=doc))
    return "updated" if latest else "created"


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


def search_matters(session: Session, p: SearchParams) -> MatterPage:
    """Matters matching what someone typed, best first, with filters; the whole catalog if no q."""
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


RERANK_WINDOW = 200


def _search_page(session: Session, plan: search.QueryPlan, p: SearchParams) -> MatterPage:
    sql, params = search.match_sql(session, plan)
    hits = text(sql).bindparams(**params).columns(matter_id=Integer, score=Float).subquery("hits")
    stmt = _filtered(select(Matter.id, hits.c.score).join(hits, hits.c.matter_id == Matter.id), p)
    order = [hits.c.score.desc(), func.length(Matter.name), Matter.code]
    if p.page * p.size > RERANK_WINDOW:  # deep pages keep the database's order
        return _page(session, stmt, order, p)
    counted = stmt.add_columns(func.count().over().label("total"))
    window = session.execute(counted.order_by(*order).limit(RERANK_WINDOW)).all()
    if not window:
        return MatterPage(items=[], total=0, page=p.page, size=p.size, query=p.q)
    ranked = _rerank(session, [(r[0], float(r[1])) for r in window], p.q or "", plan)
    chosen = ranked[(p.page - 1) * p.size : p.page * p.size]
    return MatterPage(
        items=_summaries(session, chosen),
        total=int(window[0].total),
        page=p.page,
        size=p.size,
        query=p.q,
    )


def _rerank(
    session: Session, hits: list[tuple[int, float]], query: str, plan: search.QueryPlan
) -> list[tuple[int, float]]:
    """Full-text score scaled to 0..1 plus the phrase boost; ties keep the database's order."""
    phrases = dict(
        session.execute(
            select(MatterSearchDoc.matter_id, MatterSearchDoc.phrases).where(
                MatterSearchDoc.matter_id.in_([h[0] for h in hits])
            )
        ).all()
    )
    top = max(score for _, score in hits) or 1.0
    phrase = search.cleaned_query(query)
    concepts = [g[0][0] for g in plan.groups]
    scored = [
        (mid, score / top + search.phrase_boost(phrase, concepts, phrases.get(mid, "")), i)
        for i, (mid, score) in enumerate(hits)
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
    """Write the catalog as YAML files below `root`; reading them back gives the same catalog."""
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
        note = _get_meta(session, "divisions_source") or "exported from a Tongban database"
        div = DivisionsFile(source=note, districts=districts, streets=streets)
        _dump(root / "divisions.yaml", div.model_dump(mode="json", exclude_defaults=True))
        written["districts"] = len(districts)
    deps = list(session.scalars(select(Department).order_by(Department.id)))
    _dump(
        root / "departments.yaml",
        {"departments": [_dep_in(d).model_dump(mode="json", exclude_defaults=True) for d in deps]},
    )
    written["departments"] = len(deps)
    halls = list(session.scalars(select(Hall).order_by(Hall.id)))
    if halls:
        _dump(
            root / "halls.yaml",
            {"halls": [_hall_in(h).model_dump(mode="json", exclude_defaults=True) for h in halls]},
        )
    written["halls"] = len(halls)
    elements = list(session.scalars(select(DataElement).order_by(DataElement.id)))
    _dump(
        root / "data_elements.yaml",
        {
            "data_elements": [
                _element_in(e).model_dump(mode="json", exclude_defaults=True) for e in elements
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
                _license_in(t, by_id).model_dump(mode="json", exclude_defaults=True) for t in lts
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
    return written


def _dump(path: Path, data: dict[str, Any]) -> None:
    path.write_text(
        yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100), encoding="utf-8"
    )


def _dep_in(d: Department) -> DepartmentIn:
    return DepartmentIn(
        key=d.key,
        name=d.name,
        name_en=d.name_en,
        level=DepartmentLevel(d.level),
        district=d.district_code,
        uscc=d.uscc,
        phone=d.phone,
        website=d.website,
        assumptions=d.assumptions or {},
    )


def _hall_in(h: Hall) -> HallIn:
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


def _element_in(e: DataElement) -> DataElementIn:
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


def _license_in(t: LicenseType, dep_keys: dict[int, str]) -> LicenseTypeIn:
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


def audience_label(a: str) -> str:
    return AUDIENCE_LABELS.get(a, (a, a))[0]
