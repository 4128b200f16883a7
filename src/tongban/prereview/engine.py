"""The pre-review engine: a matter's approval elements (审批要素, catalog rules) run against one
application. Pure: what it needs from the registries comes through `Facts`, so every rule is
tested without a database and the evaluation set runs the very same code.

A verdict is `pass` unless an error-severity rule fails (`needs_correction`); warnings are for
staff and hold nobody up.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

from tongban.catalog.elements import InvalidValue, validate_value
from tongban.catalog.rules import ElementFacts
from tongban.catalog.schemas import (
    AgeRule,
    DateRule,
    DocumentRule,
    FormatRule,
    IdBirthRule,
    IdGenderRule,
    InDistrictRule,
    JurisdictionRule,
    LicenseValidRule,
    MaterialRule,
    RegistryRule,
    RequiredRule,
    RuleIn,
    RuleSeverity,
    SameRule,
)
from tongban.common.identifiers import is_valid_id_number
from tongban.portal.i18n import N_
from tongban.prereview.address import Divisions
from tongban.prereview.documents import FIELD_LABELS, KIND_LABELS, Reading, compare


@dataclass(frozen=True)
class Finding:
    rule: str
    check: str
    severity: str
    field: str | None  # a form field, or materials.<key>
    message: str
    evidence: str | None = None  # what was compared: the values, the text read and where
    basis: str | None = None
    # The document could not be read well enough to compare: staff look at it; the applicant
    # is not sent back for what the machine failed to read.
    unread: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "check": self.check,
            "severity": self.severity,
            "field": self.field,
            "message": self.message,
            "evidence": self.evidence,
            "basis": self.basis,
            "unread": self.unread,
        }


@dataclass(frozen=True)
class PersonRecord:
    name: str
    id_number: str
    district_code: str | None  # where the population registry has them living in this city


@dataclass(frozen=True)
class EnterpriseRecord:
    name: str
    uscc: str
    legal_rep_name: str
    district_code: str


@dataclass(frozen=True)
class HeldLicense:
    type_key: str
    status: str
    valid_from: date | None
    valid_until: date | None

    def valid_on(self, day: date) -> bool:
        return (
            self.status == "01"
            and (self.valid_from is None or self.valid_from <= day)
            and (self.valid_until is None or day <= self.valid_until)
        )


class Facts(Protocol):
    """What the registries say, looked up by the service (or a test's fake)."""

    def person(self, id_number: str) -> PersonRecord | None: ...


@dataclass
class Application:
    """One application as the rules see it."""

    matter: str
    form: Mapping[str, Any]
    on: date  # the application date
    provided: set[str]  # materials there: uploaded, or found as a license / department record
    elements: Mapping[str, ElementFacts]
    divisions: Divisions
    facts: Facts
    applicant: PersonRecord | None = None
    enterprise: EnterpriseRecord | None = None
    licenses: list[HeldLicense] = field(default_factory=list)
    hall_district: str | None = None  # the district of the hall that handles the case
    department_district: str | None = None  # a district department's district
    readings: Mapping[str, Reading] = field(default_factory=dict)  # material key -> OCR
    # Look other people up by the ID numbers on the form. Off for a draft: checking a draft
    # as often as one likes must not tell whether any number is in the population registry.
    look_up_people: bool = True


def run(rules: list[RuleIn], app: Application) -> list[Finding]:
    """Every finding, in the order of the rules."""
    out: list[Finding] = []
    for rule in rules:
        check: Callable[[Any, Application], list[Problem]] = CHECKS[type(rule)]
        for problem in check(rule, app):
            out.append(
                Finding(
                    rule=rule.id,
                    check=rule.check,
                    severity=RuleSeverity.WARNING.value if problem.unread else rule.severity.value,
                    field=problem.field,
                    message=problem.message or (UNREAD_MESSAGE if problem.unread else rule.message),
                    evidence=problem.evidence,
                    basis=rule.basis,
                    unread=problem.unread,
                )
            )
    return out


def verdict(findings: list[Finding]) -> str:
    if any(f.severity == RuleSeverity.ERROR.value for f in findings):
        return "needs_correction"
    return "pass"


@dataclass(frozen=True)
class Problem:
    field: str | None
    evidence: str | None = None
    unread: bool = False
    message: str | None = None  # instead of the rule's (the fix differs, e.g. a wrong file)


UNREAD_MESSAGE = N_(
    "材料部分内容未能自动识别，请工作人员核对原件；如图片不清晰，可请申请人重新上传"
)


# ---------------------------------------------------------------------------------------------
# The checks. Each returns the problems it found; a value it needs but cannot read (empty or
# malformed) is left to the `required` and `format` rules, so one mistake is reported once.


def _text(app: Application, key: str) -> str:
    value = app.form.get(key)
    return "" if value is None else str(value).strip()


def _date(app: Application, key: str) -> date | None:
    try:
        return date.fromisoformat(_text(app, key))
    except ValueError:
        return None


def _id(app: Application, key: str) -> str | None:
    value = _text(app, key).upper()
    return value if is_valid_id_number(value, today=app.on) else None


def _required(rule: RequiredRule, app: Application) -> list[Problem]:
    return [] if _text(app, rule.field) else [Problem(rule.field, N_("未填写"))]


def _material(rule: MaterialRule, app: Application) -> list[Problem]:
    if rule.material in app.provided:
        return []
    return [Problem(f"materials.{rule.material}", N_("未上传，也未能通过证照库或部门共享取得"))]


def _clean(app: Application, key: str) -> str:
    """The field's text when it is filled in and valid for its data element; "" otherwise,
    for the `required` and `format` rules report those: one mistake, one finding."""
    raw = _text(app, key)
    element = app.elements.get(key)
    if not raw or element is None:
        return raw
    try:
        validate_value(element, raw)
    except InvalidValue:
        return ""
    return raw


def _format(rule: FormatRule, app: Application) -> list[Problem]:
    raw = _text(app, rule.field)
    element = app.elements.get(rule.field)
    if not raw or element is None:
        return []
    try:
        value = validate_value(element, raw)
    except InvalidValue as exc:
        return [Problem(rule.field, f"“{raw}”：{exc.message}")]
    if rule.min is not None and isinstance(value, int | Decimal) and value < Decimal(str(rule.min)):
        return [Problem(rule.field, f"“{raw}”小于{rule.min:g}")]
    return []


RECORDS: dict[str, Callable[[Application], str | None]] = {
    "enterprise.name": lambda a: a.enterprise.name if a.enterprise else None,
    "enterprise.uscc": lambda a: a.enterprise.uscc if a.enterprise else None,
    "enterprise.legal_rep_name": lambda a: a.enterprise.legal_rep_name if a.enterprise else None,
    "person.name": lambda a: a.applicant.name if a.applicant else None,
    "person.id_number": lambda a: a.applicant.id_number if a.applicant else None,
}
REGISTRY_NAMES = {"enterprise": "法人库", "person": "人口库"}


def _registry(rule: RegistryRule, app: Application) -> list[Problem]:
    given = _clean(app, rule.field)
    known = RECORDS[rule.record](app)
    if not given or known is None or _same(given, known):
        return []
    source = REGISTRY_NAMES[rule.record.split(".")[0]]
    return [Problem(rule.field, f"表单：{given}；{source}：{known}")]


def _same(a: str, b: str) -> bool:
    return "".join(a.split()).upper() == "".join(b.split()).upper()


def _id_birth(rule: IdBirthRule, app: Application) -> list[Problem]:
    number, day = _id(app, rule.id_field), _date(app, rule.date_field)
    if number is None or day is None:
        return []
    born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    if born == day:
        return []
    return [Problem(rule.date_field, f"身份证号码中的出生日期：{born}；表单：{day}")]


def sex_of(id_number: str) -> str:
    """GB 11643: the 17th digit is odd for men."""
    return "男" if int(id_number[16]) % 2 else "女"


def _id_gender(rule: IdGenderRule, app: Application) -> list[Problem]:
    number, given = _id(app, rule.id_field), _text(app, rule.gender_field)
    if number is None or not given or sex_of(number) == given:
        return []
    return [Problem(rule.gender_field, f"身份证号码显示性别：{sex_of(number)}；表单：{given}")]


def _years_between(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def _age(rule: AgeRule, app: Application) -> list[Problem]:
    number = _id(app, rule.field)
    born = (
        date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
        if number
        else _date(app, rule.field)
    )
    day = _date(app, rule.at) if rule.at else app.on
    if born is None or day is None:
        return []
    age = _years_between(born, day)
    low = rule.min
    if number is not None and rule.min_by_sex:
        low = rule.min_by_sex.get(sex_of(number), low)  # type: ignore[call-overload]
    if (low is not None and age < low) or (rule.max is not None and age > rule.max):
        bounds = "、".join(
            part
            for part in (
                f"不小于{low}周岁" if low is not None else "",
                f"不大于{rule.max}周岁" if rule.max is not None else "",
            )
            if part
        )
        return [Problem(rule.at or rule.field, f"{day}时{age}周岁，应{bounds}")]
    return []


def _date_rule(rule: DateRule, app: Application) -> list[Problem]:
    day = _date(app, rule.field)
    if day is None:
        return []
    ago = (app.on - day).days
    if rule.not_future and day > app.on:
        return [Problem(rule.field, f"{day}晚于申请日{app.on}")]
    if rule.min_months_ago is not None and _months_later(day, rule.min_months_ago) > app.on:
        return [Problem(rule.field, f"{day}至申请日{app.on}不满{rule.min_months_ago}个月")]
    if rule.min_days_ago is not None and ago < rule.min_days_ago:
        return [Problem(rule.field, f"{day}距申请日{ago}天，不足{rule.min_days_ago}天")]
    if rule.max_days_ago is not None and ago > rule.max_days_ago:
        return [Problem(rule.field, f"{day}距申请日{ago}天，超过{rule.max_days_ago}天")]
    if rule.min_days_ahead is not None and -ago < rule.min_days_ahead:
        return [Problem(rule.field, f"{day}距申请日不足{rule.min_days_ahead}天")]
    if rule.after_field is not None:
        before = _date(app, rule.after_field)
        if before is not None and day <= before:
            return [Problem(rule.field, f"{day}不晚于{before}（{rule.after_field}）")]
    return []


def _months_later(day: date, months: int) -> date:
    """The same day `months` later (the month's last day where it has no such day)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (day.day, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _in_district(rule: InDistrictRule, app: Application) -> list[Problem]:
    address = _clean(app, rule.field)
    if not address:
        return []
    where = app.divisions.locate(address)
    if rule.of == "city":
        if where.in_city is False:
            return [Problem(rule.field, f"“{address}”不在本市")]
        return []
    wanted = app.hall_district if rule.of == "hall" else _enterprise_district(app)
    if wanted is None:
        return []
    name = app.divisions.district_name(wanted)
    if where.district is None:
        return [Problem(rule.field, f"“{address}”未写明所在区（应在{name}）")]
    if where.district != wanted:
        found = app.divisions.district_name(where.district)
        return [Problem(rule.field, f"“{address}”位于{found}，应在{name}")]
    return []


def _enterprise_district(app: Application) -> str | None:
    return app.enterprise.district_code if app.enterprise else None


def _license_valid(rule: LicenseValidRule, app: Application) -> list[Problem]:
    held = [lic for lic in app.licenses if lic.type_key == rule.license_type]
    if any(lic.valid_on(app.on) for lic in held):
        return []
    if not held:
        return [Problem(None, N_("证照库中没有此类证照"))]
    latest = max(held, key=lambda lic: lic.valid_until or date.max)
    return [Problem(None, f"状态{latest.status}，有效期至{latest.valid_until}")]


def _jurisdiction(rule: JurisdictionRule, app: Application) -> list[Problem]:
    if rule.subject == "enterprise":
        wanted = app.department_district
        if app.enterprise is None or wanted is None or app.enterprise.district_code == wanted:
            return []
        found = app.divisions.district_name(app.enterprise.district_code)
        return [
            Problem(None, f"企业登记在{found}，本事项由{app.divisions.district_name(wanted)}受理")
        ]
    if not rule.fields:
        people = [app.applicant]
    elif not app.look_up_people:
        return []
    else:
        numbers = [n for n in (_id(app, f) for f in rule.fields) if n is not None]
        if not numbers:
            return []
        people = [app.facts.person(n) for n in numbers]
    if any(p is not None and p.district_code is not None for p in people):
        return []
    where = rule.fields[0] if rule.fields else None
    return [Problem(where, N_("人口库中无本市登记信息"))]


def _same_rule(rule: SameRule, app: Application) -> list[Problem]:
    a, b = _clean(app, rule.field), _clean(app, rule.other)
    if not a or not b or _same(a, b):
        return []
    return [Problem(rule.field, f"{a} ≠ {b}")]


def _document(rule: DocumentRule, app: Application) -> list[Problem]:
    reading = app.readings.get(rule.material)
    if reading is None:  # not uploaded (the material rule says so) or not read yet
        return []
    field_key = f"materials.{rule.material}"
    if reading.kind == "unknown":  # nothing recognisable read: staff look, nobody is sent back
        wanted = KIND_LABELS[rule.document]
        return [Problem(field_key, f"上传的{wanted}未能识别出内容", unread=True)]
    if reading.kind != rule.document:
        wanted = KIND_LABELS[rule.document]
        return [
            Problem(
                field_key,
                f"上传的文件看起来不是{wanted}（识别为：{reading.kind_label}）",
                message=f"上传的文件不是{wanted}，请上传{wanted}（清晰完整的扫描件或照片）",
            )
        ]
    mismatches, unread = [], []
    for read_key, form_key in rule.reads.items():
        expected = _clean(app, form_key)
        if not expected:
            continue
        if read_key not in reading.fields:
            unread.append(FIELD_LABELS.get(read_key, read_key))
            continue
        mismatch = compare(reading, read_key, expected)
        if mismatch is not None:
            mismatches.append(mismatch)
    # One finding per document: staff set it aside, or ask for it, as a whole.
    if mismatches:  # a mismatch sends it back, whatever else was not read
        return [Problem(field_key, "；".join(mismatches))]
    if unread:
        return [
            Problem(field_key, f"{reading.kind_label}上未能读到{'、'.join(unread)}", unread=True)
        ]
    return []


CHECKS: dict[type, Callable[[Any, Application], list[Problem]]] = {
    RequiredRule: _required,
    MaterialRule: _material,
    FormatRule: _format,
    RegistryRule: _registry,
    IdBirthRule: _id_birth,
    IdGenderRule: _id_gender,
    AgeRule: _age,
    DateRule: _date_rule,
    InDistrictRule: _in_district,
    LicenseValidRule: _license_valid,
    JurisdictionRule: _jurisdiction,
    SameRule: _same_rule,
    DocumentRule: _document,
}
