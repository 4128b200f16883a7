"""Properties of the GB 11643 and GB 32100 validators: no input crashes them, numbers built
by the standards' own arithmetic (written out here, independently of python-stdnum) always
validate, and any single wrong character is caught."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import example, given
from hypothesis import strategies as st
from stdnum.cn import ric, uscc

from tests.strategies import FAST, any_text
from tongban.common.identifiers import (
    birth_date_of,
    is_valid_id_number,
    is_valid_uscc,
    uscc_with_check_digit,
)

TODAY = date(2026, 1, 1)
PROVINCES = (
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 "
    "61 62 63 64 65 71 81 82 83".split()
)
ID_CHARS = "0123456789X"
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


# -- the standards' arithmetic, written out ----------------------------------------------------


def mod11_2(body17: str) -> str:
    """ISO 7064 MOD 11-2 as GB 11643 states it: weights 2^(17-i) mod 11, check (12 - S) mod 11."""
    total = sum(int(c) * pow(2, 17 - i, 11) for i, c in enumerate(body17))
    check = (12 - total % 11) % 11
    return "X" if check == 10 else str(check)


def gb32100_check(body17: str) -> str:
    """GB 32100: weights 3^i mod 31, check 31 - (S mod 31), 31 read as 0."""
    total = sum(USCC_ALPHABET.index(c) * pow(3, i, 31) for i, c in enumerate(body17))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def id_oracle(value: str, today: date) -> bool:
    v = value.strip().upper()
    if len(v) != 18 or not v.isascii() or not v[:17].isdigit() or v[17] not in ID_CHARS:
        return False
    if v[0] == "0" or (v[:2] not in PROVINCES and v[0] != "9"):
        return False
    try:
        born = date(int(v[6:10]), int(v[10:12]), int(v[12:14]))
    except ValueError:
        return False
    return date(1900, 1, 1) <= born <= today and mod11_2(v[:17]) == v[17]


# -- strategies -----------------------------------------------------------------------------------


@st.composite
def id_numbers(draw: st.DrawFn, today: date = TODAY) -> tuple[str, date]:
    """A valid ID number from a random area code and birth date, with that date."""
    province = draw(st.sampled_from([*PROVINCES, "9"]))
    area = province + draw(
        st.text("0123456789", min_size=6 - len(province), max_size=6 - len(province))
    )
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=today))
    body = area + born.strftime("%Y%m%d") + draw(st.text("0123456789", min_size=3, max_size=3))
    return body + mod11_2(body), born


@st.composite
def credit_codes(draw: st.DrawFn) -> str:
    head = draw(st.text(USCC_ALPHABET, min_size=2, max_size=2))
    division = draw(st.text("0123456789", min_size=6, max_size=6))
    rest = draw(st.text(USCC_ALPHABET, min_size=9, max_size=9))
    body = head + division + rest
    return body + gb32100_check(body)


near_ids = st.builds(
    lambda chars: "".join(chars),
    st.lists(st.sampled_from("0123456789Xx "), min_size=16, max_size=19),
)


# -- GB 11643 -------------------------------------------------------------------------------


@FAST
@given(any_text | near_ids)
@example("11010519491231002X\n")
@example("１１０１０５１９４９１２３１００２Ｘ")  # full-width digits are not digits of the standard
def test_id_validator_never_raises_and_agrees_with_the_standard(value: str) -> None:
    assert is_valid_id_number(value, today=TODAY) is id_oracle(value, TODAY)


@FAST
@given(id_numbers())
def test_generated_id_numbers_validate_and_give_their_birth_date(drawn: tuple[str, date]) -> None:
    number, born = drawn
    assert is_valid_id_number(number, today=TODAY)
    assert is_valid_id_number(f"  {number.lower()}\t", today=TODAY)  # case and space forgiven
    assert birth_date_of(number) == born


@FAST
@given(id_numbers(), st.data())
def test_any_other_check_character_invalidates(
    drawn: tuple[str, date], data: st.DataObject
) -> None:
    number, _ = drawn
    wrong = data.draw(st.sampled_from([c for c in ID_CHARS if c != number[17]]))
    assert not is_valid_id_number(number[:17] + wrong, today=TODAY)


@FAST
@given(id_numbers(), st.integers(0, 16), st.data())
def test_any_single_digit_changed_or_adjacent_swap_invalidates(
    drawn: tuple[str, date], i: int, data: st.DataObject
) -> None:
    number, _ = drawn
    digit = data.draw(st.sampled_from([c for c in "0123456789" if c != number[i]]))
    assert not is_valid_id_number(number[:i] + digit + number[i + 1 :], today=TODAY)
    if number[i] != number[i + 1]:
        swapped = number[:i] + number[i + 1] + number[i] + number[i + 2 :]
        assert not is_valid_id_number(swapped, today=TODAY)


@FAST
@given(id_numbers(today=TODAY), st.integers(1, 3650))
def test_a_birth_date_after_today_invalidates(drawn: tuple[str, date], days: int) -> None:
    number, born = drawn
    assert is_valid_id_number(number, today=born)  # born today: valid
    assert not is_valid_id_number(number, today=born - timedelta(days=days))


@FAST
@given(st.text("0123456789", min_size=17, max_size=17))
def test_stdnum_check_digit_agrees_with_the_standard(body: str) -> None:
    # identifiers.py relies on stdnum's checksum (passed the whole number, check included).
    assert ric.calc_check_digit(body + "0") == mod11_2(body)


# -- GB 32100 -------------------------------------------------------------------------------


def uscc_oracle(value: str) -> bool:
    v = value.strip().upper()
    return (
        len(v) == 18
        and all(c in USCC_ALPHABET for c in v)
        and v[2:8].isascii()
        and v[2:8].isdigit()
        and gb32100_check(v[:17]) == v[17]
    )


@FAST
@given(any_text | st.text(USCC_ALPHABET + "IOSVZ -", min_size=16, max_size=19) | credit_codes())
@example("91310000MA1FL3X10\n")
@example("11100000000013338W\n")
def test_credit_code_validator_never_raises_and_agrees_with_the_standard(value: str) -> None:
    assert is_valid_uscc(value) is uscc_oracle(value)


@FAST
@given(credit_codes(), st.integers(0, 17), st.data())
def test_credit_codes_validate_and_any_single_change_invalidates(
    code: str, i: int, data: st.DataObject
) -> None:
    assert is_valid_uscc(code) and is_valid_uscc(f" {code.lower()} ")
    assert uscc_with_check_digit(code[:17]) == code
    pool = "0123456789" if 2 <= i < 8 else USCC_ALPHABET
    other = data.draw(st.sampled_from([c for c in pool if c != code[i]]))
    assert not is_valid_uscc(code[:i] + other + code[i + 1 :])


@FAST
@given(credit_codes())
def test_whatever_stdnum_accepts_is_accepted(code: str) -> None:
    # stdnum's validator is stricter (digits in the first 8), never looser.
    if uscc.is_valid(code):
        assert is_valid_uscc(code)
    assert uscc.calc_check_digit(code[:17]) == code[17]
