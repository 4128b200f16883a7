"""National identifier validators: the standards' rules over python-stdnum's checksums."""

from __future__ import annotations

from datetime import date

import pytest

from tongban.common.identifiers import (
    birth_date_of,
    is_valid_id_number,
    is_valid_uscc,
    uscc_with_check_digit,
)


@pytest.mark.parametrize(
    "number",
    [
        "11010519491231002X",  # the example of GB 11643 itself
        "310115198001010016",  # Pudong (310115, created 1992) with a birth year before it
        "11010519491231002x",  # a lower-case check character is the same number
    ],
)
def test_valid_id_numbers(number: str) -> None:
    assert is_valid_id_number(number)


@pytest.mark.parametrize(
    "number",
    [
        "110105194912310021",  # wrong check character
        "11010519491331002X",  # month 13
        "11010518991231002X",  # born before 1900
        "1101051949123100",  # too short
        "A1010519491231002X",  # a letter in the body
        "100105194912310028",  # right checksum, but 10 is no province (bad region)
        "390105194912310021",  # nor is 39
        "",
    ],
)
def test_invalid_id_numbers(number: str) -> None:
    assert not is_valid_id_number(number)


def test_an_id_born_in_the_future_is_invalid() -> None:
    assert not is_valid_id_number("11010520300101002X", today=date(2026, 1, 1))


def test_birth_date_of() -> None:
    assert birth_date_of("11010519491231002X") == date(1949, 12, 31)


@pytest.mark.parametrize(
    "code",
    [
        "11100000000013338W",  # a national government body (the GB/T 36904 example's definer)
        "11220000013544541J",  # the GB/T 36904 example's issuer
        "N2310000MA1FL3X10H",  # a letter-led registration authority, which stdnum rejects
        uscc_with_check_digit("Y1310000MA1FL3X10"),
    ],
)
def test_valid_credit_codes(code: str) -> None:
    assert is_valid_uscc(code)


@pytest.mark.parametrize(
    "code",
    [
        "11100000000013338X",  # wrong check character
        "11100000000013338",  # too short
        "I1100000000013338W",  # I is not in the GB 32100 alphabet
        "1110000000001333OW",  # nor is O
        "11A00000000013338W",  # the division code is digits
        "",
    ],
)
def test_invalid_credit_codes(code: str) -> None:
    assert not is_valid_uscc(code)
