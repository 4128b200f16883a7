"""Search relevance on the shipped catalog: what people type finds what they mean, on both
databases; filters, paging and odd input."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from tongban.catalog.schemas import Audience
from tongban.catalog.search import plan_query
from tongban.catalog.service import SearchParams, search_matters

BIRTH_BUNDLE = {
    "20P006000001",  # 生育登记
    "20P006000002",  # 出生医学证明
    "20P006000003",  # 预防接种证
    "07P003000001",  # 出生登记
    "07P005000001",  # 居民医保参保
    "20P004000001",  # 社保卡
    "04P008000001",  # 医保缴费
    "05P005000002",  # 生育保险待遇
    "20P006000004",  # 儿童保健
}

# (what a person types, the matter that must come first, or the matters that may)
FIRST: list[tuple[str, str | tuple[str, ...]]] = [
    ("出生医学证明", "20P006000002"),
    ("宝宝出生", "20P006000002"),
    ("上户口", "07P003000001"),
    ("办居住证", "07P003000003"),
    ("居住证积分", "07P004000004"),
    ("领养老金", "05P004000002"),
    ("结婚登记", "07P007000001"),
    ("护照", "01P003000009"),
    ("港澳通行证", ("01P003000010", "01P003000011")),  # issuance or its endorsement
    ("身份证丢了", "07P003000006"),
    ("残疾人证", "07P023000001"),
    ("失业金", "05P004000008"),
    ("社保卡", "20P004000001"),
    ("打疫苗", "20P006000003"),
    ("低保", "05P007000005"),
    ("开便利店", "01E101000001"),
    ("我要开一家便利店卖烟酒", "01E101000001"),
    ("开餐馆", "01E101000002"),
    ("开宾馆", "01E102000001"),
    ("开健身房", "01E102000002"),
    ("开药店", "01E101000003"),
    ("公司注册", "01E001000001"),
    ("开公司", "01E001000001"),
    ("注销公司", "01E001000003"),
    ("食品经营许可", "01E001000004"),
    ("卖烟", "01E011000001"),
    ("公章", "07E002000001"),
    ("排污许可", "01E016000001"),
]


def codes(db: Session, q: str, **filters: object) -> list[str]:
    page = search_matters(db, SearchParams(q=q, size=100, **filters))  # type: ignore[arg-type]
    return [i.code for i in page.items]


@pytest.mark.parametrize(("query", "expected"), FIRST)
def test_what_people_type_ranks_the_right_matter_first(
    db: Session, query: str, expected: str | tuple[str, ...]
) -> None:
    found = codes(db, query)
    assert found, f"{query!r} found nothing"
    allowed = (expected,) if isinstance(expected, str) else expected
    assert found[0] in allowed, f"{query!r}: first {found[:3]}, expected {expected}"


def test_sheng_haizi_finds_the_birth_services(db: Session) -> None:
    found = codes(db, "生孩子")
    assert found[0] in BIRTH_BUNDLE
    assert len(set(found[:5]) & BIRTH_BUNDLE) >= 4  # (a child-care tax deduction may join them)
    assert len(set(found) & BIRTH_BUNDLE) >= 5


def test_retirement_finds_the_retirement_matters(db: Session) -> None:
    found = codes(db, "退休")
    assert {"05P004000002", "07P005000003", "20P009000001", "20P004000003"} <= set(found[:6])


def test_a_nonsense_sentence_finds_nothing(db: Session) -> None:
    page = search_matters(db, SearchParams(q="完全不存在的服务名称"))
    assert page.total == 0 and page.items == []


def test_two_concepts_without_a_common_matter_fall_back_to_either(db: Session) -> None:
    page = search_matters(db, SearchParams(q="护照 排污"))
    assert page.partial
    assert {"01P003000009", "01E016000001"} <= {i.code for i in page.items}
    assert not search_matters(db, SearchParams(q="开便利店")).partial


def test_only_asking_words_find_nothing(db: Session) -> None:
    assert search_matters(db, SearchParams(q="我要怎么办")).total == 0
    assert search_matters(db, SearchParams(q="   ")).total > 80  # blank means browse


def test_filters(db: Session) -> None:
    person = set(codes(db, "登记", audience=Audience.PERSON))
    enterprise = set(codes(db, "登记", audience=Audience.ENTERPRISE))
    assert "07P007000001" in person and "07P007000001" not in enterprise
    assert "01E001000001" in enterprise and "01E001000001" not in person
    assert set(codes(db, "登记", department="sh-mzj")) <= {
        c for c in person if c.startswith("07P007") or c[3:6] == "007"
    }
    online = codes(db, "护照", online=True)
    assert "01P003000009" not in online  # a passport needs fingerprints at the hall
    assert "01P003000009" in codes(db, "护照", online=False)
    # Pudong's own matters are handed in in Pudong only.
    pudong = {c for c in codes(db, "") if c.startswith("01E1") or c.startswith("07E1")}
    assert pudong
    for code in pudong:
        assert code in codes(db, "", district="310115") or code not in codes(
            db, "", district="310101"
        )
    assert codes(db, "", department="no-such-department") == []


def test_paging_is_stable_and_total_is_exact(db: Session) -> None:
    full = search_matters(db, SearchParams(q="登记", size=100))
    pages = []
    for n in range(1, 100):
        page = search_matters(db, SearchParams(q="登记", size=7, page=n))
        assert page.total == full.total
        if not page.items:
            break
        pages += [i.code for i in page.items]
    assert pages == [i.code for i in full.items]


def test_query_plans() -> None:
    plan = plan_query("我要开一家便利店卖烟酒")
    assert [g[0][0] for g in plan.groups] == ["便利店", "烟酒"] and plan.need == 2
    plan = plan_query("完全不存在的服务名称")
    assert len(plan.groups) == 4 and plan.need == 3
    assert plan_query("结婚登记").groups == ((("结婚登记",), ("结婚", "登记")),)
    assert plan_query("我要").groups == ()


def test_paging_across_the_reranked_head(db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    from tongban.catalog import service

    monkeypatch.setattr(service, "RERANK_WINDOW", 5)
    full = search_matters(db, SearchParams(q="登记", size=100))
    assert full.total > 12
    pages = []
    for n in range(1, 100):
        page = search_matters(db, SearchParams(q="登记", size=3, page=n))
        if not page.items:
            break
        pages += [i.code for i in page.items]
    assert pages == [i.code for i in full.items]
    assert len(set(pages)) == full.total
