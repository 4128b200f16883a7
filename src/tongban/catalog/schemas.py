"""Pydantic shapes of the catalog: the YAML source files (in) and the API documents (out).

The YAML models are strict (`extra="forbid"`) so a typo in a catalog file is an error with a
line number, never a silently ignored key. Everything the reform promises (免提交, 免填报, the
halls that accept a matter) is computed in `service.py`; no YAML field can set it by hand.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from tongban.common.identifiers import is_valid_uscc
from tongban.common.regions import region_of_uscc

# ---------------------------------------------------------------------------------------------
# Enumerations from the national matter model (GB/T 39554.1, domain.md)
# ---------------------------------------------------------------------------------------------


class MatterKind(StrEnum):
    """事项类型: the national codes 01..10 and 20."""

    LICENSING = "01"  # 行政许可
    PENALTY = "02"  # 行政处罚
    COERCION = "03"  # 行政强制
    LEVY = "04"  # 行政征收
    BENEFIT = "05"  # 行政给付
    INSPECTION = "06"  # 行政检查
    CONFIRMATION = "07"  # 行政确认
    REWARD = "08"  # 行政奖励
    ADJUDICATION = "09"  # 行政裁决
    OTHER_POWER = "10"  # 其他行政权力
    PUBLIC_SERVICE = "20"  # 公共服务


MATTER_KIND_LABELS: dict[str, tuple[str, str]] = {
    "01": ("行政许可", "Administrative licensing"),
    "02": ("行政处罚", "Administrative penalty"),
    "03": ("行政强制", "Administrative coercion"),
    "04": ("行政征收", "Administrative levy"),
    "05": ("行政给付", "Administrative benefit"),
    "06": ("行政检查", "Administrative inspection"),
    "07": ("行政确认", "Administrative confirmation"),
    "08": ("行政奖励", "Administrative reward"),
    "09": ("行政裁决", "Administrative adjudication"),
    "10": ("其他行政权力", "Other administrative power"),
    "20": ("公共服务", "Public service"),
}


class Audience(StrEnum):
    """服务对象, grouped as the two halls' split needs it (两个集中)."""

    PERSON = "person"  # 自然人
    ENTERPRISE = "enterprise"  # 法人及其他组织


AUDIENCE_LABELS: dict[str, tuple[str, str]] = {
    "person": ("个人", "Individuals"),
    "enterprise": ("企业/法人", "Enterprises and organisations"),
}


class CaseType(StrEnum):
    IMMEDIATE = "1"  # 即办件
    PROMISED = "2"  # 承诺件


class DepartmentLevel(StrEnum):
    CITY = "city"
    DISTRICT = "district"
    STREET = "street"
    # A body outside this city's government (a national ministry, another province's office, a
    # court, a hospital): what it issues is not covered by the city's data sharing.
    EXTERNAL = "external"


class HallKind(StrEnum):
    DISTRICT_CENTER = "district_center"  # 区行政服务中心 (enterprise matters)
    STREET_CENTER = "street_center"  # 街镇社区事务受理服务中心 (personal matters)
    SPECIALIZED = "specialized"  # e.g. an exit-entry hall; named explicitly by a matter


class HandlingForm(StrEnum):
    ONLINE = "online"  # 网上办理
    WINDOW = "window"  # 窗口办理
    POST = "post"  # 快递申请/寄递
    APPOINTMENT = "appointment"  # 预约办理


class MaterialSource(StrEnum):
    APPLICANT = "applicant"  # 申请人自备
    DEPARTMENT = "department"  # 政府部门核发 (data sharing)
    LICENSE = "license"  # 电子证照


class MaterialForm(StrEnum):
    PAPER = "paper"
    ELECTRONIC = "electronic"


class ElementType(StrEnum):
    STRING = "string"
    TEXT = "text"
    INTEGER = "integer"
    DECIMAL = "decimal"
    BOOLEAN = "boolean"
    DATE = "date"
    ENUM = "enum"
    ID_NUMBER = "id_number"  # GB 11643
    USCC = "uscc"  # GB 32100
    PHONE = "phone"
    POSTAL_CODE = "postal_code"
    ADDRESS = "address"


class BaseRegistry(StrEnum):
    """The base database that already holds a data element about the applicant.

    Shanghai's data sharing rests on base databases (人口库, 法人库); an element held there for
    the applicant can be filled in for them (免填报) instead of asked again.
    """

    POPULATION = "population"  # 人口综合库: the applicant's own person profile
    LEGAL_PERSON = "legal_person"  # 法人库: the applicant enterprise's profile


class StepActor(StrEnum):
    APPLICANT = "applicant"
    WINDOW = "window"  # 综合窗口 / 受理
    DEPARTMENT = "department"  # 业务部门 审查/决定
    SYSTEM = "system"  # automatic (e.g. a license issued on approval)


# ---------------------------------------------------------------------------------------------
# Shared field types
# ---------------------------------------------------------------------------------------------

KEY_RE = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$"
DEPT_KEY_RE = r"^[a-z][a-z0-9-]*$"
MATTER_CODE_RE = r"^[0-9A-Z]{12}$"
IMPLEMENTATION_CODE_RE = r"^[0-9A-Z]{12,36}$"
LICENSE_TYPE_CODE_RE = r"^[0-9A-Z]{18}[0-9]{3}$"
# GB/T 2260 division codes of any province; the loader checks that a catalog's districts are
# all of one province (its region).
DIVISION_CODE_RE = r"^[1-8][0-9]{5}$"
STREET_CODE_RE = r"^[1-8][0-9]{8}$"
REGION_RE = r"^[1-8][0-9]0000$"

Key = Annotated[str, Field(pattern=KEY_RE, max_length=80)]
DeptKey = Annotated[str, Field(pattern=DEPT_KEY_RE, max_length=60)]
NonEmpty = Annotated[str, Field(min_length=1, max_length=500)]
Assumptions = dict[str, NonEmpty]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def _check_assumption_keys(model: BaseModel, assumptions: dict[str, str]) -> None:
    """An assumption must name a real field of the thing it annotates, so it cannot go stale."""
    names = set(type(model).model_fields)
    unknown = sorted(k for k in assumptions if k.split(".")[0] not in names)
    if unknown:
        raise ValueError(f"assumptions name unknown fields: {', '.join(unknown)}")


# ---------------------------------------------------------------------------------------------
# YAML source models
# ---------------------------------------------------------------------------------------------


class DistrictIn(Strict):
    code: Annotated[str, Field(pattern=DIVISION_CODE_RE)]
    name: NonEmpty
    name_en: NonEmpty


class StreetIn(Strict):
    code: Annotated[str, Field(pattern=STREET_CODE_RE)]
    name: NonEmpty
    district: Annotated[str, Field(pattern=DIVISION_CODE_RE)]


class DivisionsFile(Strict):
    source: NonEmpty
    districts: list[DistrictIn]
    streets: list[StreetIn] = []


class DepartmentIn(Strict):
    key: DeptKey
    name: NonEmpty
    name_en: NonEmpty
    level: DepartmentLevel
    district: Annotated[str | None, Field(pattern=DIVISION_CODE_RE)] = None
    uscc: Annotated[str | None, Field(min_length=18, max_length=18)] = None
    phone: Annotated[str | None, Field(max_length=50)] = None
    website: Annotated[str | None, Field(max_length=500)] = None
    # 跨省通办: a department of another region (a peer node), whose matters this region's
    # counters accept and forward to it (异地代收). None: a department of this catalog's region.
    region: Annotated[str | None, Field(pattern=REGION_RE)] = None
    assumptions: Assumptions = {}

    @field_validator("uscc")
    @classmethod
    def _uscc_valid(cls, v: str | None) -> str | None:
        if v is not None and not is_valid_uscc(v):
            raise ValueError(f"{v!r} is not a valid unified social credit code (GB 32100)")
        return v

    @model_validator(mode="after")
    def _district_matches_level(self) -> DepartmentIn:
        if self.level in (DepartmentLevel.CITY, DepartmentLevel.EXTERNAL) and self.district:
            raise ValueError(f"a {self.level.value}-level department has no district")
        if self.level is not DepartmentLevel.EXTERNAL and self.uscc is None:
            raise ValueError("a department of this city needs its unified social credit code")
        if self.level in (DepartmentLevel.DISTRICT, DepartmentLevel.STREET) and not self.district:
            raise ValueError(f"a {self.level.value}-level department needs its district")
        if self.region is not None:
            if self.district or self.level is DepartmentLevel.EXTERNAL:
                raise ValueError("a peer region's department names no district and has a level")
            if self.uscc is not None and region_of_uscc(self.uscc) != self.region:
                raise ValueError(f"credit code {self.uscc} is not registered in {self.region}")
        _check_assumption_keys(self, self.assumptions)
        return self


class DepartmentsFile(Strict):
    departments: list[DepartmentIn]


class HallIn(Strict):
    key: DeptKey
    name: NonEmpty
    kind: HallKind
    district: Annotated[str, Field(pattern=DIVISION_CODE_RE)]
    street: Annotated[str | None, Field(pattern=STREET_CODE_RE)] = None
    address: Annotated[str | None, Field(max_length=500)] = None
    phone: Annotated[str | None, Field(max_length=50)] = None
    hours: Annotated[str | None, Field(max_length=500)] = None
    assumptions: Assumptions = {}

    @model_validator(mode="after")
    def _street_for_street_centers(self) -> HallIn:
        if self.kind is HallKind.STREET_CENTER and self.street is None:
            raise ValueError("a street/town center needs its street code")
        if self.street is not None and not self.street.startswith(self.district):
            raise ValueError(f"street {self.street} is not in district {self.district}")
        _check_assumption_keys(self, self.assumptions)
        return self


class HallsFile(Strict):
    halls: list[HallIn]


class DataElementIn(Strict):
    key: Key
    label: NonEmpty
    label_en: NonEmpty
    type: ElementType
    options: list[NonEmpty] = []
    max_length: Annotated[int | None, Field(ge=1, le=10000)] = None
    registry: BaseRegistry | None = None
    description: str | None = None

    @model_validator(mode="after")
    def _options_for_enum(self) -> DataElementIn:
        if (self.type is ElementType.ENUM) != bool(self.options):
            raise ValueError("options are given exactly when the type is enum")
        return self


class DataElementsFile(Strict):
    data_elements: list[DataElementIn]


class LicenseTypeIn(Strict):
    key: Key
    code: Annotated[str, Field(pattern=LICENSE_TYPE_CODE_RE)]
    name: NonEmpty
    name_en: NonEmpty
    department: DeptKey
    holder: Audience
    validity_years: Annotated[int | None, Field(ge=1, le=100)] = None
    fields: list[Key] = Field(min_length=1)
    assumptions: Assumptions = {}

    @field_validator("code")
    @classmethod
    def _defining_body_code_valid(cls, v: str) -> str:
        if not is_valid_uscc(v[:18]):
            raise ValueError(
                f"type code {v!r} must start with the defining body's valid credit code"
            )
        return v

    @model_validator(mode="after")
    def _assumptions_known(self) -> LicenseTypeIn:
        _check_assumption_keys(self, self.assumptions)
        return self


class LicenseTypesFile(Strict):
    license_types: list[LicenseTypeIn]


class TimeLimitIn(Strict):
    """A time limit in working days (行政许可法 art. 82: holidays excluded)."""

    working_days: Annotated[int, Field(ge=0, le=365)]


class FeeIn(Strict):
    charged: bool = False
    amount: str | None = None
    basis: str | None = None


class StepIn(Strict):
    name: NonEmpty
    actor: StepActor
    description: str | None = None


class FieldIn(Strict):
    element: Key
    required: bool = True
    # overrides the element's label on this form only
    label: Annotated[str | None, Field(min_length=1, max_length=500)] = None


class MaterialIn(Strict):
    key: Key
    name: NonEmpty
    required: bool = True
    source: MaterialSource
    department: DeptKey | None = None
    license_type: Key | None = None
    form: MaterialForm = MaterialForm.ELECTRONIC
    copies: Annotated[int, Field(ge=0, le=20)] = 1
    note: str | None = None

    @model_validator(mode="after")
    def _source_reference(self) -> MaterialIn:
        if self.source is MaterialSource.LICENSE and self.license_type is None:
            raise ValueError("a material from an e-license names its license_type")
        if self.source is MaterialSource.DEPARTMENT and self.department is None:
            raise ValueError("a department-issued material names its issuing department")
        if self.source is MaterialSource.APPLICANT and (self.department or self.license_type):
            raise ValueError("an applicant-provided material names no department or license")
        return self


# ---------------------------------------------------------------------------------------------
# 审批要素: a matter's approval elements as pre-review rules. Each names one check of a closed
# set, so a catalog author writes data, not code; the pre-review engine (prereview/engine.py)
# knows how to run each check.

RULE_ID_RE = r"^[a-z][a-z0-9_.-]{2,79}$"


class RuleSeverity(StrEnum):
    ERROR = "error"  # the application needs correcting (补正)
    WARNING = "warning"  # staff should look; the applicant is not held up


class RuleBase(Strict):
    id: Annotated[str, Field(pattern=RULE_ID_RE)]
    severity: RuleSeverity = RuleSeverity.ERROR
    message: NonEmpty  # Chinese, says what to fix
    basis: NonEmpty | None = None  # the legal basis, where known


class RequiredRule(RuleBase):
    """The form field is filled in."""

    check: Literal["required"]
    field: Key


class MaterialRule(RuleBase):
    """The material is there: uploaded, or found as a license or a department's record."""

    check: Literal["material"]
    material: Key


class FormatRule(RuleBase):
    """The field's value is valid for its data element (checksums, dates, options) and, for a
    number, not below `min`."""

    check: Literal["format"]
    field: Key
    min: float | None = None


class RegistryRule(RuleBase):
    """The field agrees with the applicant's record (法人库 / 人口库)."""

    check: Literal["registry"]
    field: Key
    record: Literal[
        "enterprise.name",
        "enterprise.uscc",
        "enterprise.legal_rep_name",
        "person.name",
        "person.id_number",
    ]


class IdBirthRule(RuleBase):
    """The birth date written in an ID number matches a date field."""

    check: Literal["id_birth"]
    id_field: Key
    date_field: Key


class IdGenderRule(RuleBase):
    """The sex written in an ID number matches a gender field."""

    check: Literal["id_gender"]
    id_field: Key
    gender_field: Key


class AgeRule(RuleBase):
    """The age of the person whose ID number (or birth date) is in `field`, at `at` (a date
    field; the application date when absent), is within bounds; `min_by_sex` for limits that
    differ by sex (the sex read from the ID number)."""

    check: Literal["age"]
    field: Key
    at: Key | None = None  # not `on`: YAML reads a bare `on` as true
    min: Annotated[int | None, Field(ge=0, le=150)] = None
    max: Annotated[int | None, Field(ge=0, le=150)] = None
    min_by_sex: dict[Literal["男", "女"], Annotated[int, Field(ge=0, le=150)]] = {}


class DateRule(RuleBase):
    """A date field against the application date: not in the future, at least
    `min_months_ago` (calendar months) or `min_days_ago` and at most `max_days_ago` ago, at
    least `min_days_ahead` ahead, or after another date field."""

    check: Literal["date"]
    field: Key
    not_future: bool = False
    min_months_ago: Annotated[int | None, Field(ge=1, le=1200)] = None  # 满六个月: calendar months
    min_days_ago: Annotated[int | None, Field(ge=0, le=36600)] = None
    max_days_ago: Annotated[int | None, Field(ge=0, le=36600)] = None
    min_days_ahead: Annotated[int | None, Field(ge=0, le=36600)] = None
    after_field: Key | None = None


class InDistrictRule(RuleBase):
    """An address lies in the district of the hall that handles the case (`of: hall`), of the
    enterprise's registration (`of: enterprise`), or in this city (`of: city`)."""

    check: Literal["in_district"]
    field: Key
    of: Literal["hall", "enterprise", "city"] = "hall"


class LicenseValidRule(RuleBase):
    """The applicant holds a license of this type valid on the application date."""

    check: Literal["license_valid"]
    license_type: Key  # held by the applicant: the enterprise it applies for, or the person


class JurisdictionRule(RuleBase):
    """管辖: a person whose ID number is in one of `fields` (the applicant when empty) is
    registered in this city, or the enterprise is registered in the department's district."""

    check: Literal["jurisdiction"]
    subject: Literal["person", "enterprise"]
    fields: list[Key] = []


class SameRule(RuleBase):
    """Two form fields agree (e.g. the applicant is the legal representative)."""

    check: Literal["same"]
    field: Key
    other: Key


class DocumentRule(RuleBase):
    """What the uploaded material says, read by OCR, agrees with the form: `reads` maps a
    field the document carries (name, credit code, address, dates) to the form field it must
    match. A document that cannot be read is a finding of its own."""

    check: Literal["document"]
    material: Key
    document: Literal["business_license", "id_card", "lease", "floor_plan", "health_certificate"]
    reads: dict[Key, Key] = Field(min_length=1)


RuleIn = Annotated[
    RequiredRule
    | MaterialRule
    | FormatRule
    | RegistryRule
    | IdBirthRule
    | IdGenderRule
    | AgeRule
    | DateRule
    | InDistrictRule
    | LicenseValidRule
    | JurisdictionRule
    | SameRule
    | DocumentRule,
    Field(discriminator="check"),
]


class MatterIn(Strict):
    code: Annotated[str, Field(pattern=MATTER_CODE_RE)]
    implementation_code: Annotated[str | None, Field(pattern=IMPLEMENTATION_CODE_RE)] = None
    name: NonEmpty
    name_en: NonEmpty
    aliases: list[NonEmpty] = []
    keywords: list[NonEmpty] = []
    kind: MatterKind
    department: DeptKey | None = None  # defaults to the file's department
    audience: list[Audience] = Field(min_length=1)
    case_type: CaseType
    statutory_limit: TimeLimitIn | None = None
    promised_limit: TimeLimitIn
    trips: Annotated[int, Field(ge=0, le=10)]
    trips_reason: str | None = None
    handling_forms: list[HandlingForm] = Field(min_length=1)
    fee: FeeIn = FeeIn()
    acceptance_conditions: list[NonEmpty] = []
    legal_basis: list[NonEmpty] = []
    steps: list[StepIn] = Field(min_length=1)
    fields: list[FieldIn] = []
    materials: list[MaterialIn] = []
    issues_license: Key | None = None
    result: NonEmpty
    halls: list[DeptKey] = []  # only for matters handled at specialized halls
    description: str | None = None
    # 审批要素 as pre-review rules (empty: the matter is not pre-reviewed beyond its form).
    approval_elements: list[RuleIn] = []
    # 跨省通办: this region handles cases of the matter accepted at a peer region's counter.
    cross_region: bool = False
    # A matter of a peer region's department: its code in that region's catalog (the code
    # the forwarded case names there); the default is this entry's own code.
    peer_code: Annotated[str | None, Field(pattern=MATTER_CODE_RE)] = None
    assumptions: Assumptions = {}

    @model_validator(mode="after")
    def _consistent(self) -> MatterIn:
        if self.trips > 0 and not self.trips_reason:
            raise ValueError("trips above 0 need trips_reason (到现场次数的理由)")
        if (
            self.statutory_limit is not None
            and self.promised_limit.working_days > self.statutory_limit.working_days
        ):
            raise ValueError("the promised limit cannot exceed the statutory limit")
        if self.trips == 0 and HandlingForm.ONLINE not in self.handling_forms:
            raise ValueError("zero trips needs the online handling form")
        _unique([m.key for m in self.materials], "material key")
        _unique([f.element for f in self.fields], "form field element")
        _unique([r.id for r in self.approval_elements], "approval element id")
        _check_assumption_keys(self, self.assumptions)
        return self


class MattersFile(Strict):
    department: DeptKey
    matters: list[MatterIn] = Field(min_length=1)


BUNDLE_CODE_RE = r"^[a-z][a-z0-9-]{1,39}$"
ANSWER_RE = r"^[a-z0-9_]{1,40}$"


class OptionIn(Strict):
    value: Annotated[str, Field(pattern=ANSWER_RE)]
    label: NonEmpty
    label_en: NonEmpty


YES_NO = [
    OptionIn(value="yes", label="是", label_en="Yes"),
    OptionIn(value="no", label="否", label_en="No"),
]


class QuestionIn(Strict):
    """情形: a question whose answer decides which matters of a bundle apply."""

    key: Annotated[str, Field(pattern=ANSWER_RE)]
    text: NonEmpty
    text_en: NonEmpty
    help: str | None = None
    options: list[OptionIn] = Field(default_factory=lambda: list(YES_NO), min_length=2)

    @model_validator(mode="after")
    def _distinct_options(self) -> QuestionIn:
        _unique([o.value for o in self.options], "option")
        return self


class BundleMatterIn(Strict):
    """One matter of a bundle: when it applies, which matters' results it waits for, and
    which data its own result produces for the matters after it (a data record, e.g. the
    newborn's citizen ID number assigned at household registration)."""

    matter: Annotated[str, Field(pattern=MATTER_CODE_RE)]
    # Applies when any one of these holds, each a set of answers that must all match;
    # no condition: always.
    when: list[dict[Annotated[str, Field(pattern=ANSWER_RE)], str]] = []
    needs: list[Annotated[str, Field(pattern=MATTER_CODE_RE)]] = []
    provides: list[Key] = []
    # The approval of this matter registers the enterprise the bundle starts (企业设立): the
    # applicant applies as a person, and every other matter acts for the new enterprise.
    registers_enterprise: bool = False
    note: str | None = None


class BundleIn(Strict):
    """一件事: matters of several departments that a person sees as one thing."""

    code: Annotated[str, Field(pattern=BUNDLE_CODE_RE)]
    name: NonEmpty
    name_en: NonEmpty
    audience: Audience
    lead_department: DeptKey  # 牵头部门: owns the guide and the one counter
    description: NonEmpty
    keywords: list[NonEmpty] = []
    questions: list[QuestionIn] = []
    matters: list[BundleMatterIn] = Field(min_length=2)
    assumptions: Assumptions = {}

    @model_validator(mode="after")
    def _consistent(self) -> BundleIn:
        if self.code == "metrics":  # the portal's /bundles/metrics page
            raise ValueError("the bundle code 'metrics' is reserved")
        _unique([q.key for q in self.questions], "question")
        _unique([m.matter for m in self.matters], "matter")
        codes = {m.matter for m in self.matters}
        for m in self.matters:
            _check_conditions(self.questions, m.matter, m.when)
            for upstream in m.needs:
                if upstream not in codes:
                    raise ValueError(f"matter {m.matter} needs {upstream}, not in this bundle")
                if upstream == m.matter:
                    raise ValueError(f"matter {m.matter} needs itself")
            _unique(m.provides, f"provided element of {m.matter}")
        cycle = _find_cycle({m.matter: list(m.needs) for m in self.matters})
        if cycle:
            raise ValueError(f"the needs form a cycle: {' -> '.join(cycle)}")
        self._check_registration()
        _check_assumption_keys(self, self.assumptions)
        return self

    def _check_registration(self) -> None:
        """A bundle that starts an enterprise: one matter registers it, gives its credit
        code, and every other matter comes after it (they all act for the new enterprise)."""
        registering = [m for m in self.matters if m.registers_enterprise]
        if not registering:
            return
        if len(registering) > 1 or self.audience is not Audience.ENTERPRISE:
            raise ValueError("only one matter of an enterprise bundle may register the enterprise")
        first = registering[0]
        if "enterprise.uscc" not in first.provides:
            raise ValueError(
                f"matter {first.matter} registers the enterprise: it must provide enterprise.uscc"
            )
        if first.when:
            raise ValueError(f"matter {first.matter} registers the enterprise: it always applies")
        needs = {m.matter: set(m.needs) for m in self.matters}
        for m in self.matters:
            seen, todo = set(), list(needs[m.matter])
            while todo:
                code = todo.pop()
                if code not in seen:
                    seen.add(code)
                    todo.extend(needs[code])
            if m is not first and first.matter not in seen:
                raise ValueError(
                    f"matter {m.matter} acts for the new enterprise: it must need {first.matter}"
                )


class BundlesFile(Strict):
    bundles: list[BundleIn] = Field(min_length=1)


class PermitIn(Strict):
    """One permit an industry may need, and when (e.g. tobacco only if it sells tobacco)."""

    matter: Annotated[str, Field(pattern=MATTER_CODE_RE)]
    when: list[dict[Annotated[str, Field(pattern=ANSWER_RE)], str]] = []
    scope: NonEmpty  # what this permit lets the business do, as the license will say


class IndustryIn(Strict):
    """一业一证: an industry whose permits are applied for on one form, reviewed to one
    standard under one lead department, and held as one comprehensive license."""

    code: Annotated[str, Field(pattern=BUNDLE_CODE_RE)]
    name: NonEmpty
    name_en: NonEmpty
    aliases: list[NonEmpty] = []  # what people type: 开便利店, 小超市
    lead_department: DeptKey  # 一帽牵头
    # The 一业一证 matter where the district offers one: its promise is the one time limit.
    application: Annotated[str | None, Field(pattern=MATTER_CODE_RE)] = None
    license_type: Key  # 行业综合许可证
    description: NonEmpty
    questions: list[QuestionIn] = []
    permits: list[PermitIn] = Field(min_length=1)
    assumptions: Assumptions = {}

    @model_validator(mode="after")
    def _consistent(self) -> IndustryIn:
        if self.code == "metrics":
            raise ValueError("the industry code 'metrics' is reserved")
        _unique([q.key for q in self.questions], "question")
        _unique([p.matter for p in self.permits], "permit")
        for p in self.permits:
            _check_conditions(self.questions, p.matter, p.when)
        _check_assumption_keys(self, self.assumptions)
        return self


class IndustriesFile(Strict):
    industries: list[IndustryIn] = Field(min_length=1)


def _check_conditions(questions: list[QuestionIn], matter: str, when: list[dict[str, str]]) -> None:
    options = {q.key: {o.value for o in q.options} for q in questions}
    for condition in when:
        for key, value in condition.items():
            if key not in options:
                raise ValueError(f"matter {matter}: unknown question {key!r} in when")
            if value not in options[key]:
                raise ValueError(f"matter {matter}: {key} has no option {value!r}")


def _find_cycle(needs: dict[str, list[str]]) -> list[str]:
    """A path that comes back to where it started, or [] when the needs are a DAG."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in needs.get(node, []):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return []

    for start in needs:
        if start not in state:
            found = visit(start)
            if found:
                return found
    return []


def _unique(values: list[str], what: str) -> None:
    seen: set[str] = set()
    for v in values:
        if v in seen:
            raise ValueError(f"duplicate {what} {v!r}")
        seen.add(v)


# ---------------------------------------------------------------------------------------------
# API documents (out)
# ---------------------------------------------------------------------------------------------


class DepartmentRef(BaseModel):
    code: str
    name: str
    name_en: str


class DepartmentOut(DepartmentRef):
    level: str
    district: str | None
    district_name: str | None
    uscc: str | None
    phone: str | None
    website: str | None
    matters: int
    assumptions: dict[str, str]


class HallRef(BaseModel):
    """A hall as a guide lists it: enough to choose one and follow the link."""

    code: str
    name: str
    kind: str
    district: str
    district_name: str
    street_name: str | None


class HallOut(HallRef):
    street: str | None
    address: str | None
    phone: str | None
    hours: str | None
    assumptions: dict[str, str]


class MatterSummary(BaseModel):
    code: str
    name: str
    name_en: str
    kind: str
    kind_name: str
    department: DepartmentRef
    audience: list[str]
    fully_online: bool
    trips: int
    promised_days: int
    exempt_materials: int
    materials: int
    version: int
    score: float | None = None


class MatterPage(BaseModel):
    items: list[MatterSummary]
    total: int
    page: int
    size: int
    query: str | None = None
    # True when no matter matched every concept of the query and the results match only some.
    partial: bool = False


class MaterialOut(BaseModel):
    key: str
    name: str
    required: bool
    source: str
    exempt: bool
    exempt_reason: str | None
    license_type: dict[str, str] | None = None
    department: dict[str, str] | None = None
    form: str
    copies: int
    note: str | None


class FieldOut(BaseModel):
    element: str
    label: str
    label_en: str
    type: str
    required: bool
    options: list[str]
    prefillable: bool
    prefill_source: str | None


class StepOut(BaseModel):
    order: int
    name: str
    actor: str
    description: str | None


class GuideOut(BaseModel):
    """办事指南: one version of a matter, in reading order."""

    code: str
    implementation_code: str | None
    version: int
    versions: list[int]
    published_at: str
    name: str
    name_en: str
    aliases: list[str]
    kind: str
    kind_name: str
    department: DepartmentRef
    audience: list[str]
    case_type: str
    case_type_name: str
    statutory_days: int | None
    promised_days: int
    trips: int
    trips_reason: str | None
    handling_forms: list[str]
    fully_online: bool
    fee: dict[str, Any]
    acceptance_conditions: list[str]
    legal_basis: list[str]
    steps: list[StepOut]
    fields: list[FieldOut]
    materials: list[MaterialOut]
    exempt_materials: int
    issues_license: dict[str, str] | None
    result: str
    description: str | None
    halls: list[HallRef]
    hall_rule: str
    # 跨省通办: {"mode": "forwarded", "region", "region_name", "peer_code"} for a matter that
    # a peer region handles; {"mode": "accepted_elsewhere"} for one peers' counters accept.
    cross_region: dict[str, str] | None = None
    assumptions: dict[str, str]


class CatalogStats(BaseModel):
    matters: int
    departments: int
    halls: int
    license_types: int
    data_elements: int
    materials: int
    materials_by_source: dict[str, int]
    department_issued_materials: int
    department_issued_exempt: int
    exemption_rate: float
    exempt_materials: int
    overall_exemption_rate: float
    fields: int
    prefillable_fields: int
    fully_online_matters: int
    fully_online_rate: float
    average_trips: float
    zero_trip_matters: int
    matters_by_kind: dict[str, int]
    matters_by_audience: dict[str, int]


# ---------------------------------------------------------------------------------------------
# Query parameter types. An empty value means "no filter": a form's "全部" option sends one.
# ---------------------------------------------------------------------------------------------


def _none_if_empty(value: Any) -> Any:
    return None if value == "" else value


NoneIfEmpty = BeforeValidator(_none_if_empty)
DistrictFilter = Annotated[
    Annotated[str, StringConstraints(pattern=DIVISION_CODE_RE)] | None, NoneIfEmpty
]
DepartmentFilter = Annotated[
    Annotated[str, StringConstraints(pattern=DEPT_KEY_RE, max_length=60)] | None, NoneIfEmpty
]
AudienceFilter = Annotated[Audience | None, NoneIfEmpty]
KindFilter = Annotated[MatterKind | None, NoneIfEmpty]
OnlineFilter = Annotated[bool | None, NoneIfEmpty]
HallKindFilter = Annotated[HallKind | None, NoneIfEmpty]
