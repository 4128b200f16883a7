"""SM2 signatures (SM3 digest, the default signer id) behind a small interface.

The platform signs with GmSSL through `gmssl-pyx` (see docs/dependencies.md). Two things about
that library shape this module:

- Its full `sm2_sign` recomputes the signer's Z value on every call and is ten times slower
  than signing a ready digest, so a `Signer` computes Z = SM3(ENTL | ID | a | b | G | P) once
  per key and signs e = SM3(Z | M) itself. Verification is the other way round: the library's
  full `sm2_verify` is the faster one, so it is used as is.
- It speaks DER signatures; codes carry the fixed 64-byte r | s form, converted here.

GmSSL prints a trace line to stderr when a signature does not verify. The line names only a
source file, never data, but a flood of forged codes shows up in the process's stderr.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Protocol

import gmssl_pyx
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

ALGORITHM = "SM2-SM3"
DEFAULT_SIGNER_ID = b"1234567812345678"
SIGNATURE_BYTES = 64
PUBLIC_KEY_BYTES = 65  # 04 | x | y

_CURVE_A = bytes.fromhex("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC")
_CURVE_B = bytes.fromhex("28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93")
_G = bytes.fromhex(
    "32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7"
    "BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0"
)
_ORDER = int("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123", 16)


class InvalidKey(ValueError):
    """Bytes that are not an SM2 key."""


class Signer(Protocol):
    """Whatever signs codes and trust lists: an in-process key today, an HSM tomorrow."""

    @property
    def public_key(self) -> bytes: ...

    def sign(self, message: bytes) -> bytes:
        """The 64-byte r | s signature of `message`."""
        ...


def sm3(data: bytes) -> bytes:
    return bytes(gmssl_pyx.sm3_hash(data))


def normalize_public_key(key: bytes) -> bytes:
    """The 65-byte uncompressed point, checked to lie on the curve."""
    try:
        raw = gmssl_pyx.normalize_sm2_public_key(key)
    except gmssl_pyx.InvalidValueError as exc:
        raise InvalidKey("not an SM2 public key") from exc
    return b"\x04" + bytes(raw)


@lru_cache(maxsize=256)
def signer_z(public_key: bytes, signer_id: bytes = DEFAULT_SIGNER_ID) -> bytes:
    """Z of GB/T 32918.2: binds the signer's identity and key into every digest."""
    entl = (len(signer_id) * 8).to_bytes(2, "big")
    return sm3(entl + signer_id + _CURVE_A + _CURVE_B + _G + public_key[1:])


def message_digest(public_key: bytes, message: bytes) -> bytes:
    return sm3(signer_z(public_key) + message)


def raw_to_der(signature: bytes) -> bytes:
    return encode_dss_signature(
        int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    )


def der_to_raw(der: bytes) -> bytes:
    """The r | s form of a DER signature; ValueError if it is not one (or r, s exceed 256 bits)."""
    r, s = decode_dss_signature(der)
    if r >> 256 or s >> 256:
        raise ValueError("not a 256-bit signature")
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Whether `signature` (r | s) is the key's signature of `message`."""
    if len(signature) != SIGNATURE_BYTES:
        return False
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:], "big")
    # Out-of-range values cannot verify; refusing them here keeps them away from the DER parser.
    if not (0 < r < _ORDER and 0 < s < _ORDER):
        return False
    # The library's own message verification takes GmSSL's faster path (sm2_fast_verify);
    # verifying a digest we computed ourselves is about 10% slower.
    return bool(gmssl_pyx.sm2_verify(public_key[1:], message, encode_dss_signature(r, s)))


@dataclass(frozen=True)
class KeyPair:
    private_key: bytes = field(repr=False)
    public_key: bytes

    @classmethod
    def generate(cls) -> KeyPair:
        public, private = gmssl_pyx.sm2_key_generate()
        return cls(private_key=private, public_key=b"\x04" + public)


@dataclass(frozen=True)
class Sm2Signer:
    """Signs with a private key held in this process."""

    keys: KeyPair

    @property
    def public_key(self) -> bytes:
        return self.keys.public_key

    def sign(self, message: bytes) -> bytes:
        digest = message_digest(self.keys.public_key, message)
        return der_to_raw(gmssl_pyx.sm2_sign_sm3_digest(self.keys.private_key, digest))


def key_id(public_key: bytes) -> str:
    """A short, stable name for a public key: the first 4 bytes of its SM3 hash, in hex."""
    return sm3(public_key)[:4].hex()


# SubjectPublicKeyInfo of an SM2 key: id-ecPublicKey with the SM2 curve (1.2.156.10197.1.301),
# then the 65-byte point. Fixed length, so the DER header is a constant.
_SPKI_HEADER = bytes.fromhex("3059301306072a8648ce3d020106082a811ccf5501822d034200")


def public_key_pem(public_key: bytes) -> str:
    body = base64.b64encode(_SPKI_HEADER + public_key).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN PUBLIC KEY-----\n" + "\n".join(lines) + "\n-----END PUBLIC KEY-----\n"


def public_key_from_pem(pem: str) -> bytes:
    """The 65-byte point of an SM2 public key in PEM, checked to be SM2 and on the curve."""
    text = pem.strip()
    if not (
        text.startswith("-----BEGIN PUBLIC KEY-----") and text.endswith("-----END PUBLIC KEY-----")
    ):
        raise InvalidKey("not a PEM public key")
    try:
        der = base64.b64decode("".join(text.splitlines()[1:-1]), validate=True)
    except ValueError as exc:
        raise InvalidKey("not base64") from exc
    if len(der) != len(_SPKI_HEADER) + PUBLIC_KEY_BYTES or not der.startswith(_SPKI_HEADER):
        raise InvalidKey("not an SM2 SubjectPublicKeyInfo")
    return normalize_public_key(der[len(_SPKI_HEADER) :])
