"""Data element validators: every type checks and normalises, and says what is wrong."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from tongban.catalog.elements import InvalidValue, validate_form, validate_value
from tongban.catalog.loader import read_catalog
from tongban.catalog.rules import ElementFacts
from tongban.catalog.schemas import ElementType


def element(kind: str, options: tuple[str, ...] = ()) -> ElementFacts:
    return ElementFacts(f"x.{kind}", "标签", "Label", kind, options, None)


@pytest.mark.parametrize(
    ("kind", "raw", "expected"),
    [
        ("string", "  张三 ", "张三"),
        ("integer", "42", 42),
        ("integer", -3, -3),
        ("decimal", "12.50", Decimal("12.50")),
        ("boolean", "是", True),
        ("boolean", "false", False),
        ("date", "2024-05-01", date(2024, 5, 1)),
        ("id_number", "11010519491231002x", "11010519491231002X"),
        ("uscc", "11100000000013338w", "11100000000013338W"),
        ("phone", "138 0013 8000", "13800138000"),
        ("phone", "+8613800138000", "13800138000"),
        ("phone", "021-12345678", "021-12345678"),
        ("postal_code", "200120", "200120"),
    ],
)
def test_good_values_are_normalised(kind: str, raw: Any, expected: Any) -> None:
    assert validate_value(element(kind), raw) == expected


@pytest.mark.parametrize(
    ("kind", "raw", "code"),
    [
        ("string", "长" * 201, "too_long"),
        ("string", 12, "not_text"),
        ("integer", "4.2", "not_integer"),
        ("integer", True, "not_integer"),
        ("decimal", "NaN", "not_number"),
        ("decimal", "abc", "not_number"),
        ("boolean", "maybe", "not_boolean"),
        ("date", "2024-02-30", "not_date"),
        ("id_number", "110105194912310021", "invalid_id_number"),
        ("uscc", "11100000000013338X", "invalid_uscc"),
        ("phone", "12345", "invalid_phone"),
        ("postal_code", "20012", "invalid_postal_code"),
        ("string", "   ", "missing"),
    ],
)
def test_bad_values_say_why(kind: str, raw: Any, code: str) -> None:
    with pytest.raises(InvalidValue) as info:
        validate_value(element(kind), raw)
    assert info.value.code == code and info.value.message


def test_enum_takes_only_its_options() -> None:
    gender = element("enum", ("男", "女"))
    assert validate_value(gender, "女") == "女"
    with pytest.raises(InvalidValue) as info:
        validate_value(gender, "其他")
    assert "男、女" in info.value.message


def test_every_element_type_has_a_validator() -> None:
    for kind in ElementType:
        options = ("a",) if kind is ElementType.ENUM else ()
        with pytest.raises(InvalidValue):
            validate_value(element(kind.value, options), None)


def test_a_form_reports_each_bad_field_once() -> None:
    elements = {"person.name": element("string"), "person.id_number": element("id_number")}
    clean, errors = validate_form(
        elements,
        {"person.name": True, "person.id_number": True},
        {"person.id_number": "110105194912310021", "shoe.size": "42"},
    )
    assert clean == {}
    assert [(e.field, e.code) for e in errors] == [
        ("person.name", "missing"),
        ("person.id_number", "invalid_id_number"),
        ("shoe.size", "unknown_field"),
    ]


def test_the_shipped_elements_all_validate_a_sample_of_their_type() -> None:
    samples = {
        "string": "样例",
        "text": "样例",
        "address": "上海市浦东新区世纪大道100号",
        "integer": "3",
        "decimal": "3.5",
        "boolean": "是",
        "date": "2024-05-01",
        "id_number": "11010519491231002X",
        "uscc": "11100000000013338W",
        "phone": "13800138000",
        "postal_code": "200120",
    }
    for el in read_catalog().elements.values():
        facts = ElementFacts(
            el.key, el.label, el.label_en, el.type.value, tuple(el.options), None, el.max_length
        )
        raw = el.options[0] if el.options else samples[el.type.value]
        validate_value(facts, raw)
