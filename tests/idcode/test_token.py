"""The code's byte layout: what docs/idcode.md promises, byte for byte, and what is refused."""

from __future__ import annotations

import base64
import string

import pytest

from tongban.idcode.token import (
    Channel,
    Claims,
    Malformed,
    SubjectType,
    parse,
    signed_part,
    to_text,
)

CLAIMS = Claims(
    subject_type=SubjectType.PERSON,
    region_code="310000",
    ref="00112233445566778899aabb",
    issued_at=1_800_000_000,
    validity=60,
    paper=False,
    kid="a1b2c3d4",
    channel=Channel.APP,
)
SIGNATURE = bytes(range(64))


def _raw(text: str) -> bytes:
    body = text[2:]
    return base64.b32decode(body + "=" * (-len(body) % 8))


def _text(raw: bytes) -> str:
    return "TB" + base64.b32encode(raw).decode().rstrip("=")


def test_layout_matches_the_documented_offsets() -> None:
    raw = signed_part(CLAIMS) + SIGNATURE
    assert raw[0] == 1  # version
    assert raw[1] == 1  # person
    assert int.from_bytes(raw[2:5], "big") == 310000
    assert raw[5:17].hex() == CLAIMS.ref
    assert int.from_bytes(raw[17:21], "big") == 1_800_000_000
    assert int.from_bytes(raw[21:25], "big") == 60
    assert raw[25] == 0  # flags: not paper
    assert raw[26:30].hex() == "a1b2c3d4"
    assert raw[30] == 3  # extension length: one channel entry
    assert raw[31:34] == bytes([0x01, 1, int(Channel.APP)])
    assert raw[34] == 1  # SM2 with SM3
    assert raw[35:] == SIGNATURE
    assert len(raw) == 99


def test_round_trip_and_qr_alphanumeric_alphabet() -> None:
    signed = signed_part(CLAIMS)
    text = to_text(signed, SIGNATURE)
    assert set(text) <= set(string.ascii_uppercase + string.digits)
    assert len(text) <= 170
    parsed = parse(text)
    assert parsed.claims == CLAIMS
    assert parsed.signed == signed
    assert parsed.signature == SIGNATURE
    assert parsed.claims.expires_at == 1_800_000_060


def test_scanner_noise_is_forgiven() -> None:
    text = to_text(signed_part(CLAIMS), SIGNATURE)
    assert parse(f"  {text.lower()}\n").claims == CLAIMS


def test_paper_flag_and_enterprise_type() -> None:
    claims = Claims(
        subject_type=SubjectType.ENTERPRISE,
        region_code="320000",
        ref="ff" * 12,
        issued_at=1,
        validity=365 * 86400,
        paper=True,
        kid="00000000",
    )
    parsed = parse(to_text(signed_part(claims), SIGNATURE)).claims
    assert parsed == claims
    assert parsed.channel is None


def _mutated(index: int, value: int) -> str:
    raw = bytearray(signed_part(CLAIMS) + SIGNATURE)
    raw[index] = value
    return _text(bytes(raw))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "XX" + "A" * 150,
        "TB" + "1" * 150,  # 0, 1, 8 and 9 are not base32
        "TB" + "A" * 20,  # too short
        _mutated(0, 2),  # unknown version
        _mutated(1, 3),  # unknown code type
        _mutated(25, 0x80),  # unknown flag
        _mutated(30, 201),  # extension longer than 200
        _mutated(30, 4),  # extension length disagrees with the total
        _mutated(33, 9),  # unknown channel
        _mutated(34, 7),  # unknown signature algorithm
        _text(signed_part(CLAIMS) + SIGNATURE + b"\x00"),  # trailing byte
        "TB" + "A" * 700,
    ],
)
def test_malformed_codes_are_refused(text: str) -> None:
    with pytest.raises(Malformed):
        parse(text)


def test_unknown_extension_tags_are_skipped() -> None:
    signed = signed_part(CLAIMS)
    # Insert a tag 0x7f entry of 2 bytes after the channel entry and fix the length byte.
    ext = signed[31:34] + bytes([0x7F, 2, 0xAB, 0xCD])
    raw = signed[:30] + bytes([len(ext)]) + ext + signed[34:] + SIGNATURE
    assert parse(_text(raw)).claims.channel == Channel.APP


def test_region_must_be_six_digits() -> None:
    with pytest.raises(ValueError, match="6 digits"):
        signed_part(Claims(**{**CLAIMS.__dict__, "region_code": "31000"}))


def test_every_code_has_exactly_one_spelling() -> None:
    text = to_text(signed_part(CLAIMS), SIGNATURE)
    # 99 bytes take 159 characters with 3 spare bits, which must be zero.
    last = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".index(text[-1])
    other = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[last | 1]
    assert other != text[-1]
    with pytest.raises(Malformed):
        parse(text[:-1] + other)
    with pytest.raises(Malformed):
        parse(text + "A")  # a trailing byte
