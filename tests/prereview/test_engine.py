"""The engine beyond the catalog's rules: a document it could not read goes to staff without
sending the applicant back; a document of another kind; the `same` check."""

from __future__ import annotations

from tests.prereview.samples import catalog_rules, reading, samples
from tongban.catalog.schemas import SameRule
from tongban.prereview import engine
from tongban.prereview.documents import Reading

FOOD = "01E001000004"


def findings_of(sample_change: dict[str, object]) -> list[engine.Finding]:
    sample = samples()[FOOD]
    sample.readings.update(sample_change)  # type: ignore[arg-type]
    return engine.run(catalog_rules()[FOOD], sample.application())


def test_a_field_the_reader_missed_is_for_staff_not_a_correction() -> None:
    found = findings_of(
        {
            "business_license": reading(
                "business_license", name=samples()[FOOD].form["enterprise.name"]
            )
        }
    )
    assert [(f.rule, f.severity, f.unread) for f in found] == [
        ("food.business-license.document", "warning", True)
    ]
    assert "未能读到统一社会信用代码、法定代表人" in (found[0].evidence or "")
    assert engine.verdict(found) == "pass"


def test_a_mismatch_outweighs_what_was_not_read() -> None:
    found = findings_of({"business_license": reading("business_license", name="别的公司")})
    assert [(f.rule, f.severity, f.unread) for f in found] == [
        ("food.business-license.document", "error", False)
    ]


def test_a_page_with_nothing_recognisable_is_for_staff() -> None:
    found = findings_of({"layout": Reading("unknown", [])})
    assert [(f.rule, f.severity, f.unread) for f in found] == [
        ("food.layout.document", "warning", True)
    ]


def test_a_draft_check_never_looks_other_people_up() -> None:
    """Checking a draft as often as one likes must not tell whether a number is on record."""
    sample = samples()["07P003000001"]
    sample.people.clear()  # neither parent on record
    rules = catalog_rules()["07P003000001"]
    submitted = engine.run(rules, sample.application())
    assert [f.rule for f in submitted] == ["birth.parent.registered"]
    draft = sample.application()
    draft.look_up_people = False
    assert engine.run(rules, draft) == []


def test_six_months_are_calendar_months() -> None:
    sample = samples()["07P003000003"]
    rules = [r for r in catalog_rules()["07P003000003"] if r.id == "rp.registration.six-months"]
    sample.form["resident.registration_date"] = "2026-05-28"  # six months on: 11-28, after ON
    assert [f.rule for f in engine.run(rules, sample.application())] == [rules[0].id]
    sample.form["resident.registration_date"] = "2026-05-27"
    assert engine.run(rules, sample.application()) == []


def test_a_document_of_another_kind_is_a_finding() -> None:
    found = findings_of({"layout": reading("id_card", name="赵敏")})
    assert [f.rule for f in found] == ["food.layout.document"]
    assert "识别为：居民身份证" in (found[0].evidence or "")
    assert found[0].message.startswith("上传的文件不是平面图") and found[0].severity == "error"


def test_same_compares_two_fields() -> None:
    rule = SameRule(
        id="x.same",
        check="same",
        field="person.name",
        other="enterprise.legal_rep_name",
        message="经办人应为法定代表人",
    )
    sample = samples()[FOOD]
    assert engine.run([rule], sample.application()) == []
    sample.form["person.name"] = "赵敏"
    found = engine.run([rule], sample.application())
    assert [(f.rule, f.evidence) for f in found] == [("x.same", "赵敏 ≠ 王建国")]
