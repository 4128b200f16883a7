"""Sample applications for the eight pre-reviewed matters: one correct application each, and
for every approval element of the catalog a defect that makes that rule (and only the rules
named with it) fire. The rule tests run them through the engine; the shipped catalog is
read from its YAML, so a rule added without a sample here fails the coverage test."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from stdnum.cn import ric

from tongban.catalog.rules import ElementFacts
from tongban.catalog.schemas import MatterIn, RuleIn
from tongban.common.identifiers import uscc_with_check_digit
from tongban.prereview import engine
from tongban.prereview.address import Divisions
from tongban.prereview.documents import Line, ReadField, Reading

CATALOG = Path(__file__).parents[2] / "src" / "tongban" / "data" / "catalog"
ON = date(2026, 11, 27)


def id_number(area: str, born: str, seq: str) -> str:
    """A GB 11643 number with its check character (seq's last digit odd: a man)."""
    body = f"{area}{born}{seq}"
    return body + str(ric.calc_check_digit(body + "0"))


@cache
def catalog_rules() -> dict[str, list[RuleIn]]:
    out: dict[str, list[RuleIn]] = {}
    for path in sorted((CATALOG / "matters").glob("*.yaml")):
        for raw in yaml.safe_load(path.read_text(encoding="utf-8"))["matters"]:
            raw.setdefault("department", "x")
            entry = MatterIn.model_validate(raw)
            if entry.approval_elements:
                out[entry.code] = list(entry.approval_elements)
    return out


@cache
def elements() -> dict[str, ElementFacts]:
    out = {}
    for path in sorted((CATALOG / "data_elements").glob("*.yaml")):
        for e in yaml.safe_load(path.read_text(encoding="utf-8"))["data_elements"]:
            out[e["key"]] = ElementFacts(
                e["key"], e["label"], e["label_en"], e["type"], tuple(e.get("options", [])), None
            )
    return out


@cache
def divisions() -> Divisions:
    data = yaml.safe_load((CATALOG / "divisions.yaml").read_text(encoding="utf-8"))
    return Divisions.of(
        ((d["code"], d["name"]) for d in data["districts"]),
        ((s["name"], s["district"]) for s in data["streets"]),
    )


@dataclass
class People:
    """The population registry as a test sees it: ID number -> record."""

    known: dict[str, engine.PersonRecord] = field(default_factory=dict)

    def person(self, number: str) -> engine.PersonRecord | None:
        return self.known.get(number)


def reading(kind: str, **values: str) -> Reading:
    """A document as the reader would have read it, one field per line."""
    lines = [Line(f"{k} {v}") for k, v in values.items()]
    return Reading(kind, lines, {k: ReadField(v, i + 1) for i, (k, v) in enumerate(values.items())})


@dataclass
class Sample:
    """One application, in the shape the engine takes, easy to spoil one thing at a time."""

    matter: str
    form: dict[str, Any]
    provided: set[str] = field(default_factory=set)
    readings: dict[str, Reading] = field(default_factory=dict)
    applicant: engine.PersonRecord | None = None
    enterprise: engine.EnterpriseRecord | None = None
    licenses: list[engine.HeldLicense] = field(default_factory=list)
    people: dict[str, engine.PersonRecord] = field(default_factory=dict)
    hall_district: str | None = None

    def application(self, on: date = ON) -> engine.Application:
        return engine.Application(
            matter=self.matter,
            form=self.form,
            on=on,
            provided=set(self.provided),
            elements=elements(),
            divisions=divisions(),
            facts=People(dict(self.people)),
            applicant=self.applicant,
            enterprise=self.enterprise,
            licenses=list(self.licenses),
            hall_district=self.hall_district,
            readings=dict(self.readings),
        )

    def but(self, change: Callable[[Sample], None]) -> Sample:
        spoiled = copy.deepcopy(self)
        change(spoiled)
        return spoiled


def _set(**values: Any) -> Callable[[Sample], None]:
    def change(s: Sample) -> None:
        s.form.update({k.replace("__", "."): v for k, v in values.items()})

    return change


def _drop(material: str) -> Callable[[Sample], None]:
    def change(s: Sample) -> None:
        s.provided.discard(material)
        s.readings.pop(material, None)

    return change


def _read(material: str, **values: str) -> Callable[[Sample], None]:
    def change(s: Sample) -> None:
        old = s.readings[material]
        merged = {k: v.value for k, v in old.fields.items()} | values
        s.readings[material] = reading(old.kind, **merged)

    return change


def _both(*changes: Callable[[Sample], None]) -> Callable[[Sample], None]:
    def change(s: Sample) -> None:
        for c in changes:
            c(s)

    return change


VALID = engine.HeldLicense("business_license", "01", date(2021, 3, 15), None)
FIRE = engine.HeldLicense(
    "fire_safety_inspection_certificate", "01", date(2025, 6, 1), date(2028, 5, 31)
)
SHOP = "上海浦江便利店有限公司"
SHOP_USCC = uscc_with_check_digit("91310115MA1K4XXX5")
SHOP_ADDRESS = "上海市浦东新区张江镇祖冲之路888号"
WANG = id_number("310115", "19800101", "123")  # 王建国, a man
LI = id_number("310104", "19680502", "122")  # 李秀英, a woman
MOTHER = id_number("310115", "19940304", "224")
FATHER = id_number("310115", "19920709", "215")
RETIREE = id_number("310110", "19660501", "031")  # a man born 1966-05-01
CHILD = id_number("310104", "20200601", "012")
SMALL = id_number("310104", "20180808", "021")


def _shop() -> engine.EnterpriseRecord:
    return engine.EnterpriseRecord(SHOP, SHOP_USCC, "王建国", "310115")


def _person(name: str, number: str, district: str | None = "310104") -> engine.PersonRecord:
    return engine.PersonRecord(name, number, district)


PHONE = "13800138000"


def samples() -> dict[str, Sample]:
    """The correct application of each matter."""
    return {
        "01E001000001": Sample(
            "01E001000001",
            {
                "enterprise.name": SHOP,
                "business.registration_kind": "有限责任公司（自然人投资或控股）",
                "enterprise.address": SHOP_ADDRESS,
                "enterprise.registered_capital": "100",
                "enterprise.business_scope": "食品销售；日用百货销售",
                "business.operating_period": "长期",
                "enterprise.legal_rep_name": "王建国",
                "enterprise.legal_rep_id_number": WANG,
                "enterprise.phone": "02158880000",
                "person.name": "王建国",
                "person.phone": PHONE,
            },
            provided={"articles", "officer_appointment", "premises_commitment", "legal_rep_id"},
            readings={"legal_rep_id": reading("id_card", name="王建国", id_number=WANG)},
            applicant=_person("王建国", WANG, "310115"),
        ),
        "01E001000004": Sample(
            "01E001000004",
            {
                "enterprise.name": SHOP,
                "enterprise.uscc": SHOP_USCC,
                "enterprise.legal_rep_name": "王建国",
                "store.name": "浦江便利店",
                "premises.address": SHOP_ADDRESS,
                "premises.area": "45",
                "food.main_format": "食品销售经营者",
                "food.business_items": "散装食品销售",
                "food.safety_manager_name": "赵敏",
                "food.online_sales": "false",
                "person.name": "王建国",
                "person.phone": PHONE,
            },
            provided={"layout", "safety_rules", "safety_manager", "business_license"},
            readings={
                "layout": reading("floor_plan", address="浦东新区张江镇祖冲之路888号一层"),
                "safety_manager": reading("health_certificate", name="赵敏"),
                "business_license": reading(
                    "business_license", uscc=SHOP_USCC, name=SHOP, legal_rep="王建国"
                ),
            },
            enterprise=_shop(),
            licenses=[VALID],
            hall_district="310115",
        ),
        "07P003000003": Sample(
            "07P003000003",
            {
                "person.name": "李秀英",
                "person.id_number": LI,
                "person.gender": "女",
                "person.phone": PHONE,
                "person.address": "安徽省合肥市蜀山区长江西路1号",
                "person.residence_address": "上海市闵行区莘庄镇莘建路100号",
                "resident.registration_date": "2026-03-01",
                "resident.reason": "务工就业",
                "resident.housing_type": "租赁住房",
                "employment.employer_name": SHOP,
                "employment.employer_uscc": SHOP_USCC,
            },
            provided={"id_card", "application_form"},
            readings={"id_card": reading("id_card", name="李秀英", id_number=LI)},
            applicant=_person("李秀英", LI, None),
        ),
        "07P003000001": Sample(
            "07P003000001",
            {
                "child.name": "陈小宝",
                "child.gender": "男",
                "child.birth_date": "2026-11-10",
                "child.ethnicity": "汉族",
                "child.birth_place": "上海市",
                "child.birth_medical_cert_number": "S310123456",
                "mother.name": "周丽",
                "mother.id_number": MOTHER,
                "father.name": "陈刚",
                "father.id_number": FATHER,
                "household.head_name": "陈刚",
                "household.relationship": "子",
                "person.phone": PHONE,
            },
            provided={"marriage_certificate", "birth_medical_certificate"},
            applicant=_person("陈刚", FATHER, "310115"),
            people={
                MOTHER: _person("周丽", MOTHER, "310115"),
                FATHER: _person("陈刚", FATHER, "310115"),
            },
        ),
        "20P004000001": Sample(
            "20P004000001",
            {
                "person.name": "李秀英",
                "person.id_number": LI,
                "person.phone": PHONE,
                "person.residence_address": "上海市徐汇区田林路100弄3号",
                "child.name": "李小雨",
                "child.id_number": SMALL,
            },
            provided={"photo"},
            applicant=_person("李秀英", LI),
        ),
        "07P005000001": Sample(
            "07P005000001",
            {
                "person.name": "李秀英",
                "person.id_number": LI,
                "person.phone": PHONE,
                "child.name": "李小雪",
                "child.id_number": CHILD,
                "child.birth_date": "2020-06-01",
                "child.relationship": "女",
            },
            applicant=_person("李秀英", LI),
        ),
        "05P004000002": Sample(
            "05P004000002",
            {
                "person.name": "张伟",
                "person.id_number": RETIREE,
                "person.gender": "男",
                "person.birth_date": "1966-05-01",
                "person.phone": PHONE,
                "retiree.work_start_date": "1984-09-01",
                "retiree.retirement_type": "达到法定退休年龄退休",
                "retiree.retirement_date": "2026-11-01",
                "employment.employer_name": SHOP,
                "employment.employer_uscc": SHOP_USCC,
            },
            applicant=_person("张伟", RETIREE, "310110"),
        ),
        "01E002000002": Sample(
            "01E002000002",
            {
                "enterprise.name": SHOP,
                "enterprise.uscc": SHOP_USCC,
                "enterprise.legal_rep_name": "王建国",
                "store.name": "浦江快捷酒店",
                "premises.address": SHOP_ADDRESS,
                "premises.area": "800",
                "hotel.room_count": "20",
                "hotel.bed_count": "35",
                "hotel.security_manager_name": "孙强",
                "person.name": "王建国",
                "person.phone": PHONE,
            },
            provided={"floor_plans", "security_rules", "lease"},
            readings={
                "lease": reading("lease", address=SHOP_ADDRESS + "一至三层", lessee=SHOP),
                "floor_plans": reading("floor_plan", address=SHOP_ADDRESS),
            },
            enterprise=_shop(),
            licenses=[VALID, FIRE],
            hall_district="310115",
        ),
    }


OTHER_USCC = uscc_with_check_digit("91310115MA1K4ABC0")
OTHER_LI = id_number("310104", "19680502", "142")  # another woman born the same day
OTHER_MAN = id_number("310110", "19660501", "051")
XUHUI = "上海市徐汇区漕溪北路1号"
BAD_ID = WANG[:-1] + ("0" if WANG[-1] != "0" else "1")

# rule id -> (the defect, the rules it makes fire: itself unless said otherwise)
DEFECTS: dict[str, tuple[Callable[[Sample], None], set[str] | None]] = {
    # 企业设立登记
    "est.name.required": (_set(enterprise__name=""), None),
    "est.address.required": (_set(enterprise__address=""), None),
    "est.address.in-city": (_set(enterprise__address="江苏省苏州市工业园区星湖街328号"), None),
    "est.capital.format": (_set(enterprise__registered_capital="0"), None),
    "est.legal-rep-id.format": (_set(enterprise__legal_rep_id_number=BAD_ID), None),
    "est.legal-rep.adult": (
        _both(
            _set(enterprise__legal_rep_id_number=id_number("310115", "20100101", "013")),
            _read("legal_rep_id", id_number=id_number("310115", "20100101", "013")),
        ),
        None,
    ),
    "est.articles": (_drop("articles"), None),
    "est.officers": (_drop("officer_appointment"), None),
    "est.premises": (_drop("premises_commitment"), None),
    "est.legal-rep-id.document": (_read("legal_rep_id", name="王建军"), None),
    "est.phone.format": (_set(person__phone="1380013800"), None),
    # 食品经营许可
    "food.uscc.registry": (
        _both(
            _set(enterprise__uscc=OTHER_USCC),
            _read("business_license", uscc=OTHER_USCC),
        ),
        None,
    ),
    "food.name.registry": (
        _both(
            _set(enterprise__name="上海浦江超市有限公司"),
            _read("business_license", name="上海浦江超市有限公司"),
        ),
        None,
    ),
    "food.legal-rep.registry": (
        _both(
            _set(enterprise__legal_rep_name="王建军"), _read("business_license", legal_rep="王建军")
        ),
        None,
    ),
    "food.business-license.valid": (
        lambda s: setattr(
            s, "licenses", [engine.HeldLicense("business_license", "04", None, None)]
        ),
        None,
    ),
    "food.premises.district": (
        _both(_set(premises__address=XUHUI), _read("layout", address=XUHUI)),
        None,
    ),
    "food.area.format": (_set(premises__area="四十五"), None),
    "food.layout": (_drop("layout"), None),
    "food.safety-rules": (_drop("safety_rules"), None),
    "food.safety-manager": (_drop("safety_manager"), None),
    "food.layout.document": (_read("layout", address="上海市黄浦区南京东路1号"), None),
    "food.safety-manager.document": (_read("safety_manager", name="钱多多"), None),
    "food.business-license.document": (
        _read("business_license", uscc=uscc_with_check_digit("91310101MA1FPX123")),
        None,
    ),
    "food.phone.format": (_set(person__phone="021-5888"), None),
    # 居住证申领
    "rp.id.format": (_set(person__id_number=BAD_ID), None),
    "rp.id.registry": (
        _both(_set(person__id_number=OTHER_LI), _read("id_card", id_number=OTHER_LI)),
        None,
    ),
    "rp.name.registry": (_both(_set(person__name="李秀云"), _read("id_card", name="李秀云")), None),
    "rp.gender.id": (_set(person__gender="男"), None),
    "rp.residence.in-city": (_set(person__residence_address="浙江省杭州市西湖区文三路1号"), None),
    "rp.registration.not-future": (
        _set(resident__registration_date="2026-12-20"),
        {"rp.registration.not-future", "rp.registration.six-months"},
    ),
    "rp.registration.six-months": (_set(resident__registration_date="2026-09-01"), None),
    "rp.id-card.document": (_read("id_card", name="王小明"), None),
    "rp.employer.uscc.format": (_set(employment__employer_uscc="913100001234"), None),
    "rp.phone.format": (_set(person__phone="12345"), None),
    # 出生登记
    "birth.date.not-future": (_set(child__birth_date="2026-12-01"), None),
    "birth.date.one-month": (_set(child__birth_date="2026-09-01"), None),
    "birth.cert.required": (_set(child__birth_medical_cert_number=""), None),
    "birth.mother-id.format": (_set(mother__id_number=MOTHER[:-1] + "Y"), None),
    "birth.father-id.format": (_set(father__id_number="31011519920709"), None),
    "birth.mother.adult": (
        lambda s: s.form.update({"mother.id_number": id_number("310115", "20150101", "024")}),
        None,
    ),
    "birth.parent.registered": (lambda s: s.people.clear(), None),
    "birth.marriage": (_drop("marriage_certificate"), None),
    "birth.phone.format": (_set(person__phone="1380013800a"), None),
    # 社会保障卡申领
    "ssc.id.format": (_set(person__id_number=BAD_ID), None),
    "ssc.id.registry": (_set(person__id_number=OTHER_LI), None),
    "ssc.name.registry": (_set(person__name="李秀云"), None),
    "ssc.photo": (_drop("photo"), None),
    "ssc.child-id.format": (_set(child__id_number="31010420180808021"), None),
    "ssc.child.minor": (_set(child__id_number=id_number("310104", "20080808", "021")), None),
    "ssc.address.in-city": (_set(person__residence_address="北京市朝阳区建国路1号"), None),
    "ssc.phone.format": (_set(person__phone="138001380000"), None),
    # 城乡居民医保参保登记
    "mi.id.format": (_set(person__id_number=BAD_ID), None),
    "mi.id.registry": (_set(person__id_number=OTHER_LI), None),
    "mi.name.registry": (_set(person__name="李秀云"), None),
    "mi.registered": (
        lambda s: setattr(s, "applicant", _person("李秀英", LI, None)),
        None,
    ),
    "mi.child-id.format": (_set(child__id_number=CHILD[:-1] + "Z"), None),
    "mi.child.birth": (_set(child__birth_date="2020-06-02"), None),
    "mi.child.not-future": (
        _set(child__birth_date="2027-01-01"),
        {"mi.child.not-future", "mi.child.birth"},
    ),
    "mi.phone.format": (_set(person__phone="23800138000"), None),
    # 企业职工退休
    "ret.id.format": (_set(person__id_number=BAD_ID), None),
    "ret.id.registry": (_set(person__id_number=OTHER_MAN), None),
    "ret.name.registry": (_set(person__name="张玮"), None),
    "ret.birth.id": (_set(person__birth_date="1966-05-02"), None),
    "ret.gender.id": (_set(person__gender="女"), None),
    "ret.age.minimum": (_set(retiree__retirement_date="2025-12-01"), None),
    "ret.work-start.age": (_set(retiree__work_start_date="1980-01-01"), None),
    "ret.work-start.not-future": (
        _set(retiree__work_start_date="2027-01-01"),
        {"ret.work-start.not-future", "ret.date.after-start"},
    ),
    "ret.date.after-start": (_set(retiree__work_start_date="2026-11-10"), None),
    "ret.employer.uscc.format": (_set(employment__employer_uscc="9131011"), None),
    "ret.phone.format": (_set(person__phone="138 0013 800"), None),
    # 旅馆业特种行业许可证
    "hotel.uscc.registry": (_set(enterprise__uscc=OTHER_USCC), None),
    "hotel.name.registry": (
        _both(
            _set(enterprise__name="上海浦江酒店有限公司"),
            _read("lease", lessee="上海浦江酒店有限公司"),
        ),
        None,
    ),
    "hotel.legal-rep.registry": (_set(enterprise__legal_rep_name="王建军"), None),
    "hotel.business-license.valid": (lambda s: setattr(s, "licenses", [FIRE]), None),
    "hotel.fire.valid": (
        lambda s: setattr(
            s,
            "licenses",
            [VALID, engine.HeldLicense(FIRE.type_key, "01", date(2020, 1, 1), date(2026, 1, 1))],
        ),
        None,
    ),
    "hotel.premises.district": (
        _both(
            _set(premises__address=XUHUI),
            _read("lease", address=XUHUI),
            _read("floor_plans", address=XUHUI),
        ),
        None,
    ),
    "hotel.rooms.format": (_set(hotel__room_count="二十"), None),
    "hotel.beds.format": (_set(hotel__bed_count="0"), None),
    "hotel.floor-plans": (_drop("floor_plans"), None),
    "hotel.security-rules": (_drop("security_rules"), None),
    "hotel.lease": (_drop("lease"), None),
    "hotel.lease.document": (_read("lease", lessee="上海别家酒店有限公司"), None),
    "hotel.floor-plans.document": (_read("floor_plans", address="上海市浦东新区川沙路1号"), None),
    "hotel.phone.format": (_set(person__phone="1380013800"), None),
}


def fired(sample: Sample) -> set[str]:
    rules = catalog_rules()[sample.matter]
    return {f.rule for f in engine.run(rules, sample.application())}
