"""The byte layout of a code (随申码) and its text form. docs/idcode.md draws the same table.

Shaped like the Beijing code standard (DB11/T 1917.2-2021): a standard domain, an extension
domain of at most 200 bytes and a security domain. Nothing in it is personal: the holder is
found through the authorization id, an opaque random reference the issuing region keeps.

    offset size  standard domain
    0      1     format version, 0x01
    1      1     code type: 0x01 person, 0x02 organization (enterprise)
    2      3     issuing region, the 6-digit division code as an unsigned integer
    5      12    authorization id: random, one per issued code
    17     4     issue time, Unix seconds
    21     4     validity, seconds from the issue time
    25     1     flags: bit 0 = paper code (valid only with an ID-card check)
    26     4     key id: the first 4 bytes of SM3 of the signing public key
                 extension domain
    30     1     length L, 0..200
    31     L     tag | length | value entries; tag 0x01 = channel (1 byte)
                 security domain
    31+L   1     algorithm: 0x01 = SM2 with SM3 and the default signer id
    32+L   64    signature r | s over bytes [0, 32+L)

The text form is "TB" followed by the bytes in RFC 4648 base32 without padding: upper-case
letters and digits only, which a QR code stores in its compact alphanumeric mode.
"""

from __future__ import annotations

import base64
import re
import struct
from dataclasses import dataclass
from enum import IntEnum

from tongban.crypto.sm2 import SIGNATURE_BYTES

PREFIX = "TB"
VERSION = 1
REF_BYTES = 12
MAX_EXTENSION = 200
ALG_SM2_SM3 = 1
FLAG_PAPER = 0x01

_STANDARD = struct.Struct(">BB3s12sIIB4s")  # 30 bytes
_TAG_CHANNEL = 0x01


class SubjectType(IntEnum):
    PERSON = 1
    ENTERPRISE = 2  # "organization" in the standard


class Channel(IntEnum):
    WEB = 1
    APP = 2
    WECHAT = 3
    ALIPAY = 4
    PAPER = 5
    COUNTER = 6


class Malformed(ValueError):
    """Text that is not a code of this format."""


@dataclass(frozen=True)
class Claims:
    subject_type: SubjectType
    region_code: str
    ref: str  # the authorization id, hex
    issued_at: int
    validity: int
    paper: bool
    kid: str
    channel: Channel | None = None

    @property
    def expires_at(self) -> int:
        return self.issued_at + self.validity


@dataclass(frozen=True)
class Parsed:
    claims: Claims
    signed: bytes  # the bytes the signature covers
    signature: bytes


def signed_part(claims: Claims) -> bytes:
    """The bytes to sign: standard domain, extension domain and the algorithm byte."""
    region = int(claims.region_code)
    if not (0 < region < 1 << 24) or len(claims.region_code) != 6:
        raise ValueError(f"region code {claims.region_code!r} is not 6 digits")
    standard = _STANDARD.pack(
        VERSION,
        int(claims.subject_type),
        region.to_bytes(3, "big"),
        bytes.fromhex(claims.ref),
        claims.issued_at,
        claims.validity,
        FLAG_PAPER if claims.paper else 0,
        bytes.fromhex(claims.kid),
    )
    extension = b""
    if claims.channel is not None:
        extension += bytes([_TAG_CHANNEL, 1, int(claims.channel)])
    return standard + bytes([len(extension)]) + extension + bytes([ALG_SM2_SM3])


def to_text(signed: bytes, signature: bytes) -> str:
    return PREFIX + base64.b32encode(signed + signature).decode().rstrip("=")


def parse(text: str) -> Parsed:
    """Split a code's text into claims, signed bytes and signature, or raise Malformed.

    Scanners hand over whatever the camera read, so surrounding space and lower case are
    forgiven; everything else must be exact.
    """
    text = text.strip()
    # Checked before upper-casing: 'ſ'.upper() is 'S', and a code has one spelling.
    if not text.isascii():
        raise Malformed("not a code of this platform")
    text = text.upper()
    if not text.startswith(PREFIX) or len(text) > 600:
        raise Malformed("not a code of this platform")
    raw = _b32decode(text[len(PREFIX) :])
    if len(raw) < _STANDARD.size + 2 + SIGNATURE_BYTES:
        raise Malformed("too short")
    version, kind, region, ref, issued, validity, flags, kid = _STANDARD.unpack_from(raw)
    region_code = int.from_bytes(region, "big")
    if version != VERSION:
        raise Malformed(f"unknown format version {version}")
    try:
        subject = SubjectType(kind)
    except ValueError as exc:
        raise Malformed(f"unknown code type {kind}") from exc
    if not 0 < region_code <= 999_999:  # a 6-digit division code, as signed_part requires
        raise Malformed("bad region code")
    if flags & ~FLAG_PAPER:
        raise Malformed("unknown flags")
    ext_len = raw[_STANDARD.size]
    ext_end = _STANDARD.size + 1 + ext_len
    if ext_len > MAX_EXTENSION or len(raw) != ext_end + 1 + SIGNATURE_BYTES:
        raise Malformed("bad length")
    if raw[ext_end] != ALG_SM2_SM3:
        raise Malformed("unknown signature algorithm")
    channel = _read_extension(raw[_STANDARD.size + 1 : ext_end])
    claims = Claims(
        subject_type=subject,
        region_code=f"{region_code:06d}",
        ref=ref.hex(),
        issued_at=issued,
        validity=validity,
        paper=bool(flags & FLAG_PAPER),
        kid=kid.hex(),
        channel=channel,
    )
    return Parsed(claims=claims, signed=raw[: ext_end + 1], signature=raw[ext_end + 1 :])


_RFC4648 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_TO_INT_DIGITS = str.maketrans(_RFC4648, "0123456789abcdefghijklmnopqrstuv")
_BASE32_TEXT = re.compile(r"[A-Z2-7]+")


def _b32decode(body: str) -> bytes:
    """Unpadded RFC 4648 base32, strictly: the standard library's decoder is pure Python and
    costs more than parsing the rest of the code; this one is one C-level int conversion.
    Leftover bits must be zero, so every code has exactly one spelling."""
    if not _BASE32_TEXT.fullmatch(body):
        raise Malformed("not base32")
    size = len(body) * 5 // 8
    spare = len(body) * 5 - size * 8
    if spare >= 5:  # a character too many for any byte count
        raise Malformed("bad base32 length")
    value = int(body.translate(_TO_INT_DIGITS), 32)
    if value & ((1 << spare) - 1):
        raise Malformed("non-canonical base32")
    return (value >> spare).to_bytes(size, "big")


def _read_extension(ext: bytes) -> Channel | None:
    channel = None
    i = 0
    while i < len(ext):
        if i + 2 > len(ext) or i + 2 + ext[i + 1] > len(ext):
            raise Malformed("bad extension entry")
        tag, size = ext[i], ext[i + 1]
        value = ext[i + 2 : i + 2 + size]
        if tag == _TAG_CHANNEL and size == 1:
            try:
                channel = Channel(value[0])
            except ValueError as exc:
                raise Malformed("unknown channel") from exc
        # Unknown tags are skipped: a later version may add entries older scanners ignore.
        i += 2 + size
    return channel
