"""Properties of log masking: whatever surrounds an ID number or a mobile number (but more
digits), the log line does not hold it whole, and text without them is left as it was."""

from __future__ import annotations

import re
from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from tests.common.test_identifier_properties import id_numbers
from tests.strategies import FAST
from tongban.common.logging import mask_text

# Around a number: anything but an ASCII digit (a longer run of digits is some other number).
around = st.text(st.characters(blacklist_characters="0123456789"), max_size=15)


@st.composite
def mobiles(draw: st.DrawFn) -> tuple[str, str]:
    """(the 11 digits, as written in the log)."""
    digits = (
        "1" + draw(st.sampled_from("3456789")) + draw(st.text("0123456789", min_size=9, max_size=9))
    )
    sep = draw(st.sampled_from(["", " ", "-"]))
    prefix = draw(st.sampled_from(["", "+86", "86", "+86 ", "86-"]))
    return digits, prefix + digits[:3] + sep + digits[3:7] + sep + digits[7:]


@FAST
@given(around, id_numbers(today=date(2026, 1, 1)), around, st.booleans())
def test_an_id_number_never_reaches_a_log_line_whole(
    before: str, drawn: tuple[str, date], after: str, lower: bool
) -> None:
    number = drawn[0].lower() if lower else drawn[0]
    masked = mask_text(before + number + after)
    assert number not in masked
    assert number[:3] + "*" * 11 + number[-4:] in masked


@FAST
@given(around, mobiles(), around)
def test_a_mobile_number_never_reaches_a_log_line_whole(
    before: str, drawn: tuple[str, str], after: str
) -> None:
    digits, written = drawn
    masked = mask_text(before + written + after)
    assert written not in masked and digits not in re.sub(r"[^0-9]", "", masked)


@FAST
@given(st.text(st.characters(blacklist_characters="0123456789"), max_size=60))
def test_text_without_digits_is_left_alone(text: str) -> None:
    assert mask_text(text) == text
