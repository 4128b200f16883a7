"""Properties of reading OCR lines: any lines give a Reading (never an exception) whose fields
are where it says and whose dates are real dates; a reading agrees with what it read; a
business license's code, name and date, however spaced, are read back."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from tests.common.test_identifier_properties import credit_codes
from tests.strategies import FAST, STRUCTURED, any_text
from tongban.prereview.documents import (
    DATE_FIELDS,
    KIND_LABELS,
    KIND_MARKS,
    PATTERNS,
    Line,
    compare,
    extract,
    normalize,
)

MARKS = [m for _, marks in KIND_MARKS for m in marks]
LABELS = [
    "统一社会信用代码",
    "名称",
    "姓名",
    "住所",
    "住址",
    "成立日期",
    "出生",
    "性别",
    "公民身份号码",
    "租赁期限",
    "至",
    "体检日期",
    "有效期至",
    "出租方",
    "承租方",
    "：",
    ":",
    "年",
    "月",
    "日",
]
fragments = st.lists(
    st.sampled_from(MARKS + LABELS) | st.text("0123456789X男女 -./", max_size=18) | any_text,
    max_size=6,
).map("".join)
lines = st.lists(fragments.filter(lambda t: "\n" not in t).map(Line), max_size=12)


@STRUCTURED
@given(lines)
def test_any_lines_give_a_reading(page: list[Line]) -> None:
    reading = extract(page)
    assert reading.kind in KIND_LABELS
    assert set(reading.fields) <= set(PATTERNS.get(reading.kind, {}))
    for key, read in reading.fields.items():
        assert 1 <= read.line <= len(page) and read.value
        if key in DATE_FIELDS:
            assert date.fromisoformat(read.value).isoformat() == read.value
        # A document agrees with itself: the form's value as read is no mismatch.
        assert compare(reading, key, read.value) is None
    assert isinstance(reading.as_dict(), dict)


@STRUCTURED
@given(lines, st.sampled_from(sorted({k for f in PATTERNS.values() for k in f})), any_text)
def test_comparing_any_value_is_agreement_or_evidence(
    page: list[Line], key: str, value: str
) -> None:
    found = compare(extract(page), key, value)
    assert found is None or (isinstance(found, str) and found)


@FAST
@given(
    credit_codes(),
    st.text("上海某某餐饮管理有限公司甲乙丙", min_size=2, max_size=12),
    st.dates(min_value=date(1950, 1, 1), max_value=date(2030, 12, 31)),
    st.sampled_from(["：", ":", " ", "", " ： "]),
    st.permutations(range(3)),
)
def test_a_business_license_reads_back(
    code: str, name: str, founded: date, sep: str, order: list[int]
) -> None:
    body = [
        f"统一社会信用代码{sep}{code}",
        f"名{' ' if sep == ' ' else ''}称{sep}{name}",
        f"成立日期{sep}{founded.year}年{founded.month}月{founded.day}日",
    ]
    page = [Line("营业执照"), *(Line(body[i]) for i in order)]
    reading = extract(page)
    assert reading.kind == "business_license"
    assert reading.fields["uscc"].value == code
    assert reading.fields["name"].value == name
    assert reading.fields["established"].value == founded.isoformat()
    assert compare(reading, "uscc", code.lower()) is None
    assert compare(reading, "established", founded.isoformat()) is None


@FAST
@given(st.sampled_from(["uscc", "id_number", "address", "name"]), any_text)
def test_normalising_twice_changes_nothing(key: str, value: str) -> None:
    once = normalize(key, value)
    assert normalize(key, once) == once or key == "address"
