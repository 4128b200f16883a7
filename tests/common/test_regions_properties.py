"""Properties of region codes: a node's region code is exactly six ASCII digits ending in 0000
(a peer's trust list names it, so nothing else may pass), and a credit code names the province
of the authority that registered it."""

from __future__ import annotations

import re

from hypothesis import example, given
from hypothesis import strategies as st

from tests.common.test_identifier_properties import credit_codes
from tests.strategies import FAST, any_text, tricky_characters
from tongban.common.regions import is_region_code, region_of_division, region_of_uscc

codes = st.builds(lambda d: f"{d}0000", st.integers(10, 89))


@FAST
@given(
    any_text
    | codes
    | st.builds(lambda c, x, i: c[:i] + x + c[i:], codes, tricky_characters, st.integers(0, 6))
)
@example("310000\n")  # `$` matched before the newline: a 7-character "region" was taken
def test_a_region_code_is_six_digits_ending_in_0000(code: str) -> None:
    assert is_region_code(code) is bool(re.fullmatch(r"[1-8][0-9]0000", code))


@FAST
@given(credit_codes())
def test_a_credit_code_names_its_registering_province(code: str) -> None:
    region = region_of_uscc(code)
    if code[2:4] == "10":
        assert region is None  # registered by a national authority
    else:
        assert region == code[2:4] + "0000" == region_of_division(code[2:8])
