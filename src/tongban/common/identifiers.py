"""Validators for national identifiers.

python-stdnum computes the check digits correctly, but its own `is_valid` rejects real numbers
(a Pudong ID born before 1992, credit codes starting with a letter), so the validators here
use only its checksum functions and add the rules of the standards themselves.
"""

from __future__ import annotations

import re
from datetime import date

from stdnum.cn import ric, uscc

_RIC_RE = re.compile(r"^[1-9][0-9]{16}[0-9X]$")
# GB 11643 starts with the GB/T 2260 division code; its first two digits name the province.
# 71 Taiwan, 81 Hong Kong, 82 Macao, 83 Taiwan residents' residence permits (2018); numbers of
# the 2023 foreigners' permanent residence ID card start with 9.
_PROVINCES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 "
    "61 62 63 64 65 71 81 82 83".split()
)
# GB 32100: registration authority (1 char), organisation type (1), division code (6 digits),
# organisation code (9) and a check character; the alphabet leaves out I, O, S, V, Z.
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_RE = re.compile(rf"^[{_USCC_ALPHABET}]{{2}}[0-9]{{6}}[{_USCC_ALPHABET}]{{10}}$")


def is_valid_id_number(value: str, *, today: date | None = None) -> bool:
    """GB 11643 citizen ID number: 18 characters, a real birth date, ISO 7064 MOD 11-2."""
    value = value.strip().upper()
    if not _RIC_RE.match(value):
        return False
    if value[:2] not in _PROVINCES and value[0] != "9":
        return False
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    if born.year < 1900 or born > (today or date.today()):
        return False
    # stdnum wants the whole number, check character included, and ignores the last one.
    return bool(ric.calc_check_digit(value) == value[17])


def is_valid_uscc(value: str) -> bool:
    """GB 32100 unified social credit code, letter-led authorities (N, Y, A, ...) included."""
    value = value.strip().upper()
    if not _USCC_RE.match(value):
        return False
    try:
        return bool(uscc.calc_check_digit(value[:17]) == value[17])
    except ValueError:  # stdnum raises a bare ValueError on characters outside the alphabet
        return False


def uscc_with_check_digit(body17: str) -> str:
    """Complete a 17-character credit code body with its check character."""
    return body17 + str(uscc.calc_check_digit(body17))


def birth_date_of(id_number: str) -> date:
    return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
