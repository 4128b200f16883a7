"""Properties of the data element validators: any value, of any JSON type, is normalised or
refused with InvalidValue (never another error); normalising twice changes nothing; values
built by each format's rule are taken; and a whole form's errors name only its own fields."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from tests.common.test_identifier_properties import credit_codes, id_numbers
from tests.strategies import FAST, STRUCTURED, any_text, attempt, json_values
from tongban.catalog.elements import InvalidValue, validate_form, validate_value
from tongban.catalog.rules import ElementFacts
from tongban.catalog.schemas import ElementType

OPTIONS = ("男", "女", "未说明")


def element(kind: ElementType, max_length: int | None = None) -> ElementFacts:
    options = OPTIONS if kind is ElementType.ENUM else ()
    return ElementFacts(f"x.{kind.value}", "标签", "Label", kind.value, options, None, max_length)


values = (
    json_values()
    | any_text
    | st.text("0123456789-+.eE _()x ", max_size=30)
    | st.dates()
    | st.decimals()
    | st.integers(4290, 4310).map(lambda n: "9" * n)  # about as many digits as int() converts
)


@STRUCTURED
@given(st.sampled_from(ElementType), values)
# More digits than int() converts (4300): a bare ValueError before.
@example(ElementType.INTEGER, "9" * 5000)
@example(ElementType.INTEGER, "-" + "1" * 4301)
def test_any_value_is_normalised_or_refused(kind: ElementType, raw: Any) -> None:
    value, refused = attempt(InvalidValue, lambda: validate_value(element(kind), raw))
    if refused is not None:
        assert refused.code and refused.message
        return
    # Normalised values are stable: checking one again gives it back.
    again = validate_value(element(kind), value.isoformat() if isinstance(value, date) else value)
    assert again == value


@FAST
@given(
    st.sampled_from([ElementType.STRING, ElementType.TEXT, ElementType.ADDRESS]),
    any_text,
    st.integers(1, 30),
)
def test_text_is_stripped_and_kept_within_its_length(kind: ElementType, raw: str, n: int) -> None:
    value, refused = attempt(InvalidValue, lambda: validate_value(element(kind, n), raw))
    if refused is not None:
        assert refused.code in ("missing", "too_long")
        assert (refused.code == "missing") is (not raw.strip())
        return
    assert value == raw.strip() and 0 < len(value) <= n


@FAST
@given(st.integers())
def test_integers_round_trip_through_text(n: int) -> None:
    assert validate_value(element(ElementType.INTEGER), str(n)) == n
    assert validate_value(element(ElementType.INTEGER), f" {n} ") == n


@FAST
@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_decimals_round_trip_through_text(d: Decimal) -> None:
    assert validate_value(element(ElementType.DECIMAL), str(d)) == d


@FAST
@given(st.dates())
def test_dates_round_trip_through_iso_text(d: date) -> None:
    assert validate_value(element(ElementType.DATE), d.isoformat()) == d
    assert validate_value(element(ElementType.DATE), d) == d


@FAST
@given(id_numbers(today=date.today()), credit_codes())
def test_built_identifiers_are_taken_in_upper_case(drawn: tuple[str, date], code: str) -> None:
    number = drawn[0]
    assert validate_value(element(ElementType.ID_NUMBER), number.lower()) == number
    assert validate_value(element(ElementType.USCC), f" {code.lower()} ") == code


@st.composite
def phones(draw: st.DrawFn) -> tuple[str, str]:
    """(a phone number as typed, as normalised)."""
    if draw(st.booleans()):
        digits = (
            "1"
            + draw(st.sampled_from("3456789"))
            + draw(st.text("0123456789", min_size=9, max_size=9))
        )
        spaced = draw(
            st.sampled_from(
                [
                    digits,
                    f"{digits[:3]} {digits[3:7]} {digits[7:]}",
                    f"+86{digits}",
                    f"+86 ({digits[:3]}) {digits[3:]}",
                ]
            )
        )
        return spaced, digits
    area = (
        "0"
        + draw(st.sampled_from("123456789"))
        + draw(st.text("0123456789", min_size=1, max_size=2))
    )
    local = draw(st.sampled_from("123456789")) + draw(st.text("0123456789", min_size=6, max_size=7))
    dash = draw(st.sampled_from(["", "-"]))
    return f"({area}){dash}{local}" if not dash else f"{area}-{local}", area + dash + local


@FAST
@given(phones())
def test_phone_numbers_are_taken_and_normalised(drawn: tuple[str, str]) -> None:
    typed, normal = drawn
    assert validate_value(element(ElementType.PHONE), typed) == normal


@FAST
@given(st.text("0123456789", min_size=6, max_size=6))
def test_postal_codes(code: str) -> None:
    assert validate_value(element(ElementType.POSTAL_CODE), f" {code} ") == code


@FAST
@given(st.sampled_from(OPTIONS), any_text)
def test_an_enum_takes_exactly_its_options(option: str, other: str) -> None:
    assert validate_value(element(ElementType.ENUM), f" {option} ") == option
    if other.strip() not in OPTIONS:
        try:
            validate_value(element(ElementType.ENUM), other)
        except InvalidValue:
            pass
        else:
            raise AssertionError(f"{other!r} taken")


@STRUCTURED
@given(
    st.dictionaries(
        st.text("abcdef", min_size=1, max_size=3), st.sampled_from(ElementType), max_size=5
    ),
    st.dictionaries(st.text("abcdefg", min_size=1, max_size=3), values, max_size=6),
    st.booleans(),
)
def test_a_forms_errors_name_its_fields(
    kinds: dict[str, ElementType], submitted: dict[str, Any], required: bool
) -> None:
    elements = {key: element(kind) for key, kind in kinds.items()}
    clean, errors = validate_form(elements, dict.fromkeys(elements, required), submitted)
    assert set(clean) <= set(elements) & set(submitted)
    for e in errors:
        if e.code == "unknown_field":
            assert e.field in submitted and e.field not in elements
        else:
            assert e.field in elements and e.field not in clean
    # Every field either came out clean, or has its error, or was optional and left empty.
    for key in elements:
        has_error = any(e.field == key for e in errors)
        assert (key in clean) != has_error or (not required and key not in clean)
