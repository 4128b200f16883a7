"""Properties of masking: a masked value never shows more than its rule keeps, and (but for
addresses, cut at the district) keeps its length, so a counter sees the shape of what it hides."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tests.strategies import FAST
from tongban.common.masking import mask_address, mask_id_number, mask_name, mask_phone

# Stars in the input would make "how many characters are shown" ambiguous; names, numbers and
# addresses do not hold them.
values = st.text(st.characters(blacklist_characters="*"), max_size=30)


def shown(masked: str) -> int:
    return sum(c != "*" for c in masked)


@FAST
@given(values)
def test_id_numbers_and_phones_keep_3_and_4(value: str) -> None:
    for mask in (mask_id_number, mask_phone):
        masked = mask(value)
        assert len(masked) == len(value)
        if len(value) <= 7:
            assert masked == "*" * len(value)  # too short to show any of it safely
        else:
            assert masked[:3] == value[:3] and masked[-4:] == value[-4:]
            assert set(masked[3:-4]) == {"*"}
        assert shown(masked) <= min(7, max(len(value) - 1, 0))  # never the whole value


@FAST
@given(values)
def test_names_keep_the_family_name(value: str) -> None:
    masked = mask_name(value)
    assert len(masked) == len(value)
    keep = 2 if len(value) >= 4 else 1
    assert masked[:keep] == value[:keep]
    assert set(masked[keep:]) <= {"*"}
    if len(value) >= 2:
        assert shown(masked) <= len(value) // 2


@FAST
@given(values, st.integers(0, 20))
def test_addresses_show_only_their_beginning(value: str, keep: int) -> None:
    masked = mask_address(value, keep)
    if len(value) > keep:
        assert masked == value[:keep] + "****"
    else:
        assert masked == value  # as short as the part shown anyway
    assert shown(masked) <= min(len(value), keep)


def test_nothing_masks_to_nothing() -> None:
    for mask in (mask_id_number, mask_phone, mask_name, mask_address):
        assert mask(None) == "" and mask("") == ""
