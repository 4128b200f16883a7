"""The planner on a small bundle worked out by hand: which matters apply, fields and materials
merged (nothing asked or counted twice), the DAG's order and parallel stages, the critical
path, and the metrics arithmetic."""

from __future__ import annotations

import pytest

from tongban.catalog.schemas import BundleIn
from tongban.catalog.service import PlanField, PlanMaterial, PlanMatter
from tongban.onething.plan import (
    AnswersInvalid,
    build_plan,
    check_answers,
    fullest_answers,
    merged_steps,
    merged_trips,
    reduction,
)


def field(key: str, required: bool = True) -> PlanField:
    return PlanField(key, key, key, "string", (), required, None, False)


def paper(
    key: str,
    name: str,
    source: str = "applicant",
    license_type: str | None = None,
    department: str | None = None,
) -> PlanMaterial:
    exempt = source == "license" or (source == "department" and department != "ext")
    return PlanMaterial(
        key, name, True, source, exempt, department, department, license_type, license_type
    )


def matter(
    code: str,
    days: int,
    trips: int,
    steps: list[tuple[str, str]],
    fields: list[str],
    materials: list[PlanMaterial],
    issues: str | None = None,
    dept: str = "d1",
    halls: tuple[str, ...] = (),
) -> PlanMatter:
    return PlanMatter(
        code,
        f"M{code[-1]}",
        dept,
        dept,
        days,
        trips,
        tuple(steps),
        tuple(field(f) for f in fields),
        tuple(materials),
        issues,
        halls,
    )


A, B, C, D = "X00000000001", "X00000000002", "X00000000003", "X00000000004"
APPLY, ACCEPT, DECIDE, NOTIFY = (
    ("申请", "applicant"),
    ("受理", "window"),
    ("决定", "department"),
    ("告知", "system"),
)

FACTS = {
    # A issues license L1 and provides x.id; 5 days, 1 trip.
    A: matter(
        A,
        5,
        1,
        [APPLY, ACCEPT, DECIDE],
        ["p.name", "p.phone"],
        [paper("id", "身份证", "license", "idcard"), paper("form", "申请表")],
        issues="L1",
    ),
    # B needs A: takes L1 as a material and asks x.id, which A provides.
    B: matter(
        B,
        3,
        0,
        [APPLY, DECIDE, NOTIFY],
        ["p.name", "x.id"],
        [
            paper("idc", "身份证", "license", "idcard"),
            paper("l1", "一号证", "license", "L1"),
            paper("form", "申请表"),
            paper("rec", "记录", "department", department="d2"),
        ],
    ),
    # C is independent and slower: it decides the time.
    C: matter(
        C,
        10,
        1,
        [APPLY, APPLY, ACCEPT, DECIDE],
        ["p.phone", "x.id", "c.only"],
        [paper("form", "另一张申请表"), paper("ext", "单位证明", "department", department="ext")],
    ),
    # D applies only when asked, at a specialized hall.
    D: matter(
        D,
        2,
        2,
        [APPLY, DECIDE],
        ["p.name"],
        [paper("id", "身份证", "license", "idcard")],
        halls=("hall-special",),
    ),
}

BUNDLE = BundleIn.model_validate(
    {
        "code": "small",
        "name": "小一件事",
        "name_en": "A small bundle",
        "audience": "person",
        "lead_department": "d1",
        "description": "test",
        "questions": [{"key": "extra", "text": "要D吗", "text_en": "D?"}],
        "matters": [
            {"matter": A, "provides": ["x.id"]},
            {"matter": B, "needs": [A]},
            {"matter": C},
            {"matter": D, "when": [{"extra": "yes"}]},
        ],
    }
)


def plan(extra: str = "no"):  # type: ignore[no-untyped-def]
    return build_plan(BUNDLE, check_answers(BUNDLE, {"extra": extra}), FACTS)


def test_answers_select_the_matters() -> None:
    assert [t.code for t in plan("no").tasks] == [A, C, B]  # by stage, then as listed
    assert plan("no").skipped == (D,)
    assert [t.code for t in plan("yes").tasks] == [A, C, D, B]
    assert fullest_answers(BUNDLE) == {"extra": "yes"}


def test_answers_are_checked() -> None:
    with pytest.raises(AnswersInvalid) as bad:
        check_answers(BUNDLE, {"extra": "perhaps", "other": "x"})
    assert sorted(bad.value.problems) == [("extra", "not_an_option"), ("other", "unknown_question")]
    with pytest.raises(AnswersInvalid):
        check_answers(BUNDLE, {})


def test_no_field_is_asked_twice_and_provided_ones_are_not_asked() -> None:
    p = plan("no")
    keys = [f.key for f in p.fields]
    assert len(keys) == len(set(keys)) == 4  # p.name, p.phone, x.id, c.only
    by_key = {f.key: f for f in p.fields}
    assert by_key["p.name"].used_by == (A, B)
    # x.id: A provides it, but C asks it too and C does not come after A: so it is asked.
    assert by_key["x.id"].provided_by is None
    assert {f.key for f in p.asked_fields()} == {"p.name", "p.phone", "x.id", "c.only"}


def test_a_provided_field_only_its_downstream_asks_is_not_asked() -> None:
    facts = dict(FACTS)
    facts[C] = matter(C, 10, 1, [APPLY, ACCEPT, DECIDE], ["p.phone", "c.only"], [])
    p = build_plan(BUNDLE, {"extra": "no"}, facts)
    x = next(f for f in p.fields if f.key == "x.id")
    assert x.provided_by == A
    assert "x.id" not in {f.key for f in p.asked_fields()}


def test_no_material_is_counted_twice() -> None:
    p = plan("no")
    identities = [m.identity for m in p.materials]
    assert len(identities) == len(set(identities))
    by_id = {m.identity: m for m in p.materials}
    assert by_id["license:idcard"].keys == ((A, "id"), (B, "idc"))  # two keys, one paper
    assert by_id["license:L1"].via == "upstream" and by_id["license:L1"].provided_by == A
    # Same key, same name: one paper; same key, another name: another paper.
    assert by_id["applicant:form:申请表"].keys == ((A, "form"), (B, "form"))
    assert "applicant:form:另一张申请表" in by_id
    assert by_id["department:d2:rec"].via == "department"
    assert by_id["department:ext:ext"].via == "upload"  # a body outside the city: upload
    assert {m.identity for m in p.uploads()} == {
        "applicant:form:申请表",
        "applicant:form:另一张申请表",
        "department:ext:ext",
    }


def test_dag_order_parallel_stages_and_critical_path() -> None:
    p = plan("yes")
    stage = {t.code: (t.stage, t.start, t.finish) for t in p.tasks}
    assert stage == {A: (0, 0, 5), C: (0, 0, 10), D: (0, 0, 2), B: (1, 5, 8)}
    assert p.critical_path == (C,)
    assert p.days == 10
    slow_b = dict(FACTS)
    slow_b[B] = matter(B, 7, 0, [APPLY], ["p.name"], [])
    q = build_plan(BUNDLE, {"extra": "no"}, slow_b)
    assert q.critical_path == (A, B) and q.days == 12


def test_metrics_arithmetic_by_hand() -> None:
    p = plan("yes")
    # Before: every matter on its own.
    assert p.before.as_dict() == {
        "steps": 3 + 3 + 4 + 2,
        "days": 5 + 3 + 10 + 2,
        "materials": 2 + 4 + 2 + 1,
        "trips": 1 + 0 + 1 + 2,
        "fields": 2 + 2 + 3 + 1,
    }
    # After: applicant steps as in the longest (C: 2), window steps (1), department and
    # system steps per matter (A 1, B 2, C 1, D 1); the critical path; 3 papers to upload;
    # one trip to the general counter (A, C) plus D's 2 at its specialized hall.
    assert p.after.as_dict() == {
        "steps": 2 + 1 + 5,
        "days": 10,
        "materials": 3,
        "trips": 3,
        "fields": 4,
    }
    assert p.reduction() == {
        "steps": round(1 - 8 / 12, 4),
        "days": 0.5,
        "materials": round(1 - 3 / 9, 4),
        "trips": 0.25,
        "fields": 0.5,
    }
    assert merged_steps([FACTS[A]]) == 3
    assert merged_trips([FACTS[A], FACTS[C]]) == 1
    assert reduction(0, 0) is None
