"""Properties of the code's byte layout and text form: encode -> parse is the identity, parse
takes nothing but what encode writes (up to case, surrounding space and extension entries of a
later version), any text at all is either a code or Malformed, and no bit of a signed code can
change without `verify_token` refusing it."""

from __future__ import annotations

import base64
import string
import struct

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from tests.strategies import FAST, SLOW, any_text, shanghai_trusting
from tongban.crypto import sm2
from tongban.idcode.errors import CodeRefused
from tongban.idcode.token import (
    MAX_EXTENSION,
    Channel,
    Claims,
    Malformed,
    SubjectType,
    parse,
    signed_part,
    to_text,
)
from tongban.idcode.trust import verify_token

B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

claims_strategy = st.builds(
    Claims,
    subject_type=st.sampled_from(SubjectType),
    region_code=st.integers(1, 999_999).map(lambda n: f"{n:06d}"),
    ref=st.binary(min_size=12, max_size=12).map(bytes.hex),
    issued_at=st.integers(0, 2**32 - 1),
    validity=st.integers(0, 2**32 - 1),
    paper=st.booleans(),
    kid=st.binary(min_size=4, max_size=4).map(bytes.hex),
    channel=st.none() | st.sampled_from(Channel),
)
signatures = st.binary(min_size=64, max_size=64)


def text_of(raw: bytes) -> str:
    return "TB" + base64.b32encode(raw).decode().rstrip("=")


@st.composite
def layouts(draw: st.DrawFn) -> bytes:
    """Bytes shaped like a code, each field either right or anything: what a fuzzer that
    knows the layout sends."""

    def field(good: st.SearchStrategy[int], size: int) -> int:
        return draw(good | st.integers(0, 2 ** (8 * size) - 1))

    standard = struct.pack(
        ">BB3s12sIIB4s",
        field(st.just(1), 1),
        field(st.sampled_from([1, 2]), 1),
        draw(st.binary(min_size=3, max_size=3)),
        draw(st.binary(min_size=12, max_size=12)),
        draw(st.integers(0, 2**32 - 1)),
        draw(st.integers(0, 2**32 - 1)),
        field(st.sampled_from([0, 1]), 1),
        draw(st.binary(min_size=4, max_size=4)),
    )
    entries = draw(
        st.lists(
            st.tuples(st.sampled_from([1, 0x7F]) | st.integers(0, 255), st.binary(max_size=4)),
            max_size=3,
        )
    )
    ext = b"".join(bytes([tag, len(value)]) + value for tag, value in entries)
    ext_len = field(st.just(len(ext)), 1)
    alg = field(st.just(1), 1)
    tail = draw(signatures | st.binary(max_size=70))
    return standard + bytes([ext_len]) + ext + bytes([alg]) + tail


@FAST
@given(claims_strategy, signatures)
def test_encode_then_parse_is_the_identity(claims: Claims, signature: bytes) -> None:
    signed = signed_part(claims)
    text = to_text(signed, signature)
    assert set(text) <= set(string.ascii_uppercase + string.digits)  # QR alphanumeric mode
    parsed = parse(text)
    assert parsed.claims == claims
    assert parsed.signed == signed and parsed.signature == signature
    # What a scanner hands over: lower case, surrounding space.
    assert parse(f" \t{text.lower()}\r\n").claims == claims


@FAST
@given(any_text | st.builds(lambda s: "TB" + s, st.text(B32 + "018=", max_size=200)))
@example("TB" + "A" * 700)
@example("TB")
def test_any_text_is_a_code_or_malformed(text: str) -> None:
    try:
        parsed = parse(text)
    except Malformed:
        return
    # Accepted text is the one spelling of its bytes.
    assert to_text(parsed.signed, parsed.signature) == text.strip().upper()


def _canonical_extension(signed: bytes) -> bool:
    ext = signed[31:-1]
    return ext == b"" or (len(ext) == 3 and ext[:2] == b"\x01\x01")


PLAIN = Claims(SubjectType.PERSON, "310000", "00" * 12, 0, 60, False, "00" * 4)


def with_region(region: bytes) -> bytes:
    raw = bytearray(signed_part(PLAIN) + bytes(64))
    raw[2:5] = region
    return bytes(raw)


# The region field is 3 bytes, but a division code has 6 digits: 0 and values past 999999
# were taken (as "000000" and "16777215") though no code can be issued with them.
@FAST
@given(layouts())
@example(with_region(b"\xff\xff\xff"))
@example(with_region(b"\x00\x00\x00"))
def test_parse_takes_only_what_encode_writes(raw: bytes) -> None:
    text = text_of(raw)
    try:
        parsed = parse(text)
    except Malformed:
        return
    assert parsed.signed + parsed.signature == raw
    assert len(parsed.signature) == 64 and parsed.signed[-1] == 1  # the algorithm byte
    assert len(parsed.claims.region_code) == 6 and parsed.claims.region_code != "000000"
    if _canonical_extension(parsed.signed):
        # Re-encoding the claims gives the very bytes that were signed.
        assert signed_part(parsed.claims) == parsed.signed
    else:
        # Entries of a later version are skipped, never mistaken for the channel: the channel
        # is the last entry of tag 1 and length 1, as this walk of the entries finds it.
        ext, i, channel = parsed.signed[31:-1], 0, None
        assert len(ext) <= MAX_EXTENSION
        while i < len(ext):
            if ext[i] == 1 and ext[i + 1] == 1:
                channel = Channel(ext[i + 2])
            i += 2 + ext[i + 1]
        assert parsed.claims.channel == channel


@FAST
@given(claims_strategy, signatures)
@example(PLAIN, bytes(64))
def test_non_ascii_look_alikes_are_not_a_spelling(claims: Claims, sig: bytes) -> None:
    """`'ſ'.upper() == 'S'` and `'ı'.upper() == 'I'`: upper-casing first let these through."""
    text = to_text(signed_part(claims), sig)
    looks = {"S": "ſ", "I": "ı"}
    positions = [i for i, c in enumerate(text) if c in looks and i >= 2]
    assume(positions)
    i = positions[0]
    with pytest.raises(Malformed):
        parse(text[:i] + looks[text[i]] + text[i + 1 :])


# -- signatures -----------------------------------------------------------------------------------

NOW = 1_800_000_000
SIGNER = sm2.Sm2Signer(sm2.KeyPair.generate())
KID = sm2.key_id(SIGNER.public_key)
LISTS = shanghai_trusting(SIGNER.public_key, NOW, NOW - 86400, owner="region:310000")


@st.composite
def signed_codes(draw: st.DrawFn) -> bytes:
    claims = Claims(
        subject_type=draw(st.sampled_from(SubjectType)),
        region_code="310000",
        ref=draw(st.binary(min_size=12, max_size=12)).hex(),
        issued_at=NOW - draw(st.integers(0, 30)),
        validity=60,
        paper=draw(st.booleans()),
        kid=KID,
        channel=draw(st.none() | st.sampled_from(Channel)),
    )
    signed = signed_part(claims)
    return signed + SIGNER.sign(signed)


@SLOW
@given(signed_codes(), st.data())
def test_flipping_any_bit_of_a_signed_code_fails_verification(
    raw: bytes, data: st.DataObject
) -> None:
    genuine = text_of(raw)
    assert verify_token(genuine, LISTS, now=NOW).claims.kid == KID
    bit = data.draw(st.integers(0, len(raw) * 8 - 1))
    flipped = bytearray(raw)
    flipped[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(CodeRefused):
        verify_token(text_of(bytes(flipped)), LISTS, now=NOW)


@SLOW
@given(signed_codes(), st.data())
def test_changing_any_character_of_a_signed_code_fails_verification(
    raw: bytes, data: st.DataObject
) -> None:
    text = text_of(raw)
    i = data.draw(st.integers(2, len(text) - 1))
    other = data.draw(st.sampled_from([c for c in B32 if c != text[i]]))
    with pytest.raises(CodeRefused):
        verify_token(text[:i] + other + text[i + 1 :], LISTS, now=NOW)
