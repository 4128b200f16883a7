"""Properties of GB/T 36904 license identifiers: build -> text -> parse is the identity, the
check character is ISO 7064 MOD 37,36 as written out here, one changed character is always
caught, and any text is an identifier or InvalidIdentifier (never another error)."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.strategies import FAST, any_text, tricky_characters
from tongban.licenses.identifier import (
    ROOT,
    InvalidIdentifier,
    LicenseIdentifier,
    parse_identifier,
)

ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
EXAMPLE = "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F"


def mod37_36(text: str) -> str:
    """ISO 7064 MOD 37,36 (hybrid), step by step: M = 36, M + 1 = 37."""
    p = 36
    for c in text:
        s = (p % 37) + ALNUM.index(c)
        s = s % 36 or 36
        p = (s * 2) % 37
    return ALNUM[(37 - p) % 36]


identifiers = st.builds(
    LicenseIdentifier,
    type_code=st.builds(
        lambda a, b: a + b,
        st.text(ALNUM, min_size=18, max_size=18),
        st.text("0123456789", min_size=3, max_size=3),
    ),
    issuer=st.text(ALNUM, min_size=18, max_size=18),
    serial=st.text(ALNUM, min_size=1, max_size=32),
    version=st.integers(1, 999),
)


def test_the_oracle_gives_the_standards_example() -> None:
    assert mod37_36(EXAMPLE[len(ROOT) + 1 : -2].replace(".", "")) == "F"


@FAST
@given(identifiers)
def test_text_then_parse_is_the_identity(identifier: LicenseIdentifier) -> None:
    text = str(identifier)
    assert parse_identifier(text) == identifier
    assert parse_identifier(f"  {text}\n") == identifier
    body = text[len(ROOT) + 1 : -2].replace(".", "")
    assert text[-1] == identifier.check == mod37_36(body)


@FAST
@given(identifiers, st.data())
def test_one_changed_character_is_caught(
    identifier: LicenseIdentifier, data: st.DataObject
) -> None:
    text = str(identifier)
    start = len(ROOT) + 1
    positions = [i for i in range(start, len(text)) if text[i] != "."]
    i = data.draw(st.sampled_from(positions))
    other = data.draw(st.sampled_from([c for c in ALNUM if c != text[i]]))
    with pytest.raises(InvalidIdentifier):
        parse_identifier(text[:i] + other + text[i + 1 :])


@FAST
@given(identifiers)
def test_the_next_version_keeps_everything_but_the_version(identifier: LicenseIdentifier) -> None:
    if identifier.version == 999:
        with pytest.raises(InvalidIdentifier):
            identifier.next_version()
        return
    later = identifier.next_version()
    assert later.version == identifier.version + 1
    assert (later.type_code, later.issuer, later.serial) == (
        identifier.type_code,
        identifier.issuer,
        identifier.serial,
    )
    assert parse_identifier(str(later)) == later


def _spliced(draw: st.DrawFn) -> str:
    parts = [
        draw(st.text(ALNUM + "a\n. ", max_size=24) | st.sampled_from(["", "001", "F"]))
        for _ in range(draw(st.integers(0, 7)))
    ]
    return ".".join([ROOT, *parts])


@st.composite
def _with_one_more_character(draw: st.DrawFn) -> str:
    text = str(draw(identifiers))
    dots = [i for i, c in enumerate(text) if c == "."]  # part boundaries, where checks end
    i = draw(st.sampled_from(dots) | st.integers(0, len(text)))
    return text[:i] + draw(tricky_characters) + text[i:]


@FAST
@given(any_text | st.composite(_spliced)() | _with_one_more_character())
# A part that ends in a newline passed the `$` of the part patterns: the check character was
# then computed over the newline (a bare ValueError from stdnum) or the text parsed while not
# being the identifier's spelling.
@example(EXAMPLE.replace("2430599.", "2430599\n."))
@example(EXAMPLE.replace("W032.", "W032\n."))
@example(EXAMPLE.replace(".001.", ".001\n."))
def test_any_text_is_an_identifier_or_invalid(text: str) -> None:
    try:
        identifier = parse_identifier(text)
    except InvalidIdentifier:
        return
    assert str(identifier) == text.strip()  # one spelling per identifier


@FAST
@given(
    st.text(max_size=25),
    st.text(max_size=20),
    st.text(max_size=34),
    st.integers(-5, 1005),
)
@example("11100000000013338W032\n", "11220000013544541J", "1", 1)
def test_built_parts_are_checked(type_code: str, issuer: str, serial: str, version: int) -> None:
    try:
        identifier = LicenseIdentifier(type_code, issuer, serial, version)
    except InvalidIdentifier:
        return
    assert parse_identifier(str(identifier)) == identifier
