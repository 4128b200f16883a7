"""What the reform promises, computed from the catalog's facts (pure functions, no database).

- 免提交: a material is exempt when a body of this city issued it (found through data sharing)
  or it exists as a type in the e-license registry;
- 免填报: a form field is prefillable when its data element sits in the applicant's base record
  (人口库 / 法人库) or in a license type the applicant can hold;
- 两个集中: personal matters are handed in at the street/town community affairs acceptance
  centres, enterprise matters at the district administrative service centres;
- 全程网办: no trip to a hall, and an online handling form.

A guide is a pure function of a matter's catalog entry and the catalog around it
(`render_guide`), so its content hash says exactly when a new guide version is due.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tongban.catalog.schemas import (
    MATTER_KIND_LABELS,
    Audience,
    DepartmentLevel,
    FieldOut,
    HallKind,
    HandlingForm,
    MaterialIn,
    MaterialOut,
    MaterialSource,
    MatterIn,
    StepOut,
)
from tongban.common.regions import REGION_NAMES_EN, region_name
from tongban.portal.i18n import N_, gettext, speaking

# The guide's generated sentences are stored in Chinese, as written here (a guide's content
# hash covers them); a page in English asks for them again with `english=True`, which words
# them from the English catalog with the English names of the bodies and licenses.
CASE_TYPE_LABELS = {"1": N_("即办件"), "2": N_("承诺件")}
REGISTRY_LABELS = {"population": N_("人口综合库"), "legal_person": N_("法人库")}


def _words(english: bool) -> Callable[[str], str]:
    return _in_english if english else _as_written


def _as_written(message: str) -> str:
    return message


def _in_english(message: str) -> str:
    with speaking("en"):
        return gettext(message)


@dataclass(frozen=True)
class DepartmentFacts:
    key: str
    name: str
    name_en: str
    level: str
    district: str | None
    region: str | None = None  # a peer region's department (跨省通办: cases go there)


@dataclass(frozen=True)
class LicenseTypeFacts:
    key: str
    code: str
    name: str
    holder: str
    fields: tuple[str, ...]
    name_en: str = ""


@dataclass(frozen=True)
class ElementFacts:
    key: str
    label: str
    label_en: str
    type: str
    options: tuple[str, ...]
    registry: str | None
    max_length: int | None = None


@dataclass(frozen=True)
class CatalogFacts:
    """The catalog around the matters, as the rules need it (built once per load)."""

    departments: dict[str, DepartmentFacts]
    license_types: dict[str, LicenseTypeFacts]
    elements: dict[str, ElementFacts]

    def license_holding(self, element: str, audience: Sequence[str]) -> list[LicenseTypeFacts]:
        return [
            lt
            for lt in sorted(self.license_types.values(), key=lambda t: t.code)
            if element in lt.fields and lt.holder in audience
        ]


def material_exemption(
    source: str,
    department: DepartmentFacts | None,
    license_type: LicenseTypeFacts | None,
    english: bool = False,
) -> tuple[bool, str | None]:
    """两个免于提交: is this material exempt, and why (or who issues it)."""
    words = _words(english)
    if source == MaterialSource.LICENSE.value and license_type is not None:
        name = (english and license_type.name_en) or license_type.name
        reason = words(N_("电子证照库可调取「%(license)s」，免于提交实体证照"))
        return True, reason % {"license": name}
    if source == MaterialSource.DEPARTMENT.value and department is not None:
        name = (english and department.name_en) or department.name
        if department.level != DepartmentLevel.EXTERNAL.value:
            return True, words(N_("由%(department)s核发，通过数据共享获取，免于提交")) % {
                "department": name
            }
        return False, words(N_("由%(department)s出具，需申请人提交")) % {"department": name}
    return False, None


def field_prefill(
    element: ElementFacts, matter: MatterIn, facts: CatalogFacts, english: bool = False
) -> str | None:
    """免填报: where a form field's value can come from for this matter's applicants, if anywhere.

    The license a matter issues cannot fill its own form, since the applicant does not hold it
    yet, unless the matter also takes that license as a material (a renewal or endorsement).
    """
    words = _words(english)
    audience = [a.value for a in matter.audience]
    if element.registry == "population":
        # The acting person (applicant or agent) is always a known, real-name-verified person.
        return words(REGISTRY_LABELS["population"])
    if element.registry == "legal_person" and Audience.ENTERPRISE.value in audience:
        return words(REGISTRY_LABELS["legal_person"])
    held = {m.license_type for m in matter.materials if m.license_type}
    names = [
        (english and lt.name_en) or lt.name
        for lt in facts.license_holding(element.key, audience)
        if lt.key != matter.issues_license or lt.key in held
    ]
    if not names:
        return None
    return words(N_("电子证照：%(licenses)s")) % {
        "licenses": (", " if english else "、").join(names)
    }


def is_fully_online(matter: MatterIn) -> bool:
    return matter.trips == 0 and HandlingForm.ONLINE in matter.handling_forms


@dataclass(frozen=True)
class HallScope:
    """两个集中 for one matter: the halls that accept it."""

    explicit: tuple[str, ...]  # specialized halls named by the matter
    kinds: tuple[str, ...]  # otherwise: these kinds of general hall ...
    district: str | None  # ... in this district only (a district department's matter)

    @classmethod
    def of(cls, matter: MatterIn, department: DepartmentFacts) -> HallScope:
        if department.region is not None and not matter.halls:
            # 跨省通办: another region's matters are accepted at the district administrative
            # service centres' cross-province windows (异地代收), whoever the applicant is.
            return cls((), (HallKind.DISTRICT_CENTER.value,), None)
        kinds = []
        if Audience.PERSON in matter.audience:
            kinds.append(HallKind.STREET_CENTER.value)
        if Audience.ENTERPRISE in matter.audience:
            kinds.append(HallKind.DISTRICT_CENTER.value)
        local = department.level in (DepartmentLevel.DISTRICT.value, DepartmentLevel.STREET.value)
        return cls(tuple(matter.halls), tuple(kinds), department.district if local else None)

    def admits(self, key: str, kind: str, district: str) -> bool:
        if self.explicit:
            return key in self.explicit
        return kind in self.kinds and (self.district is None or district == self.district)


def hall_rule(
    matter: MatterIn, department: DepartmentFacts, scope: HallScope, english: bool = False
) -> str:
    """The guide's sentence on where to go, in plain words."""
    words = _words(english)
    name = (english and department.name_en) or department.name
    if department.region is not None:
        region = (
            REGION_NAMES_EN.get(department.region, department.region)
            if english
            else region_name(department.region)
        )
        if scope.explicit:
            sentence = N_(
                "本事项由%(region)s%(department)s办理。可到指定的专门服务大厅"
                "“跨省通办”窗口异地代收：窗口核验身份和材料后网上流转至办理地，"
                "办理进度和结果在本市查询、领取。"
            )
        else:
            sentence = N_(
                "本事项由%(region)s%(department)s办理。可到全市各区行政服务中心"
                "“跨省通办”窗口异地代收：窗口核验身份和材料后网上流转至办理地，"
                "办理进度和结果在本市查询、领取。"
            )
        return words(sentence) % {"region": region, "department": name}
    if scope.explicit:
        return words(N_("本事项在指定的专门服务大厅办理。"))
    rules = []
    if Audience.PERSON in matter.audience:
        if scope.district:
            rule = N_(
                "个人事项可到%(department)s所在区任一街镇社区事务受理服务中心办理"
                "（就近办理，两个集中）"
            )
        else:
            rule = N_("个人事项可到全市任一街镇社区事务受理服务中心办理（就近办理，两个集中）")
        rules.append(words(rule) % {"department": name})
    if Audience.ENTERPRISE in matter.audience:
        if scope.district:
            rule = N_("企业事项到%(department)s所在区各区行政服务中心办理，一般为企业注册地所在区")
        else:
            rule = N_("企业事项到全市各区行政服务中心办理，一般为企业注册地所在区")
        rules.append(words(rule) % {"department": name})
    if is_fully_online(matter):
        rules.append(words(N_("也可通过“一网通办”网站或“随申办”移动端全程网办，无需到现场")))
    if english:
        return ". ".join(rules) + "."
    return "；".join(rules) + "。"


def material_out(mat: MaterialIn, facts: CatalogFacts) -> MaterialOut:
    dep = facts.departments.get(mat.department) if mat.department else None
    lt = facts.license_types.get(mat.license_type) if mat.license_type else None
    exempt, reason = material_exemption(mat.source.value, dep, lt)
    return MaterialOut(
        key=mat.key,
        name=mat.name,
        required=mat.required,
        source=mat.source.value,
        exempt=exempt,
        exempt_reason=reason,
        license_type={"key": lt.key, "code": lt.code, "name": lt.name} if lt else None,
        department={"code": dep.key, "name": dep.name} if dep else None,
        form=mat.form.value,
        copies=mat.copies,
        note=mat.note,
    )


def fields_out(matter: MatterIn, facts: CatalogFacts) -> list[FieldOut]:
    out = []
    for f in matter.fields:
        el = facts.elements[f.element]
        source = field_prefill(el, matter, facts)
        out.append(
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
    return out


def render_guide(matter: MatterIn, facts: CatalogFacts) -> dict[str, Any]:
    """The guide of a matter as the catalog says now, without its version stamp or halls."""
    assert matter.department is not None  # the loader fills in the file's department
    dep = facts.departments[matter.department]
    lt = facts.license_types.get(matter.issues_license) if matter.issues_license else None
    materials = [material_out(m, facts) for m in matter.materials]
    return {
        "code": matter.code,
        "implementation_code": matter.implementation_code,
        "name": matter.name,
        "name_en": matter.name_en,
        "aliases": list(matter.aliases),
        "kind": matter.kind.value,
        "kind_name": MATTER_KIND_LABELS[matter.kind.value][0],
        "department": {"code": dep.key, "name": dep.name, "name_en": dep.name_en},
        "audience": [a.value for a in matter.audience],
        "case_type": matter.case_type.value,
        "case_type_name": CASE_TYPE_LABELS[matter.case_type.value],
        "statutory_days": matter.statutory_limit.working_days if matter.statutory_limit else None,
        "promised_days": matter.promised_limit.working_days,
        "trips": matter.trips,
        "trips_reason": matter.trips_reason,
        "handling_forms": [f.value for f in matter.handling_forms],
        "fully_online": is_fully_online(matter),
        "fee": matter.fee.model_dump(mode="json"),
        "acceptance_conditions": list(matter.acceptance_conditions),
        "legal_basis": list(matter.legal_basis),
        "steps": [
            StepOut(
                order=i, name=s.name, actor=s.actor.value, description=s.description
            ).model_dump()
            for i, s in enumerate(matter.steps, 1)
        ],
        "fields": [f.model_dump() for f in fields_out(matter, facts)],
        "materials": [m.model_dump() for m in materials],
        "exempt_materials": sum(1 for m in materials if m.exempt),
        "issues_license": {"key": lt.key, "code": lt.code, "name": lt.name} if lt else None,
        "result": matter.result,
        "description": matter.description,
        "hall_rule": hall_rule(matter, dep, HallScope.of(matter, dep)),
        "assumptions": dict(matter.assumptions),
        # Only where it applies, so the guides of other matters keep their published hash.
        **_cross_region(matter, dep),
    }


def _cross_region(matter: MatterIn, dep: DepartmentFacts) -> dict[str, Any]:
    if dep.region is not None:
        return {
            "cross_region": {
                "mode": "forwarded",
                "region": dep.region,
                "region_name": region_name(dep.region),
                "peer_code": matter.peer_code or matter.code,
            }
        }
    if matter.cross_region:
        return {"cross_region": {"mode": "accepted_elsewhere"}}
    return {}


def content_hash(doc: dict[str, Any]) -> str:
    blob = json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()
