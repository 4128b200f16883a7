"""Properties of the cryptographic helpers that read outside input: signatures agree with a
second SM2 implementation (Tongsuo) and no bit of them can change unnoticed; DER, PEM, sealed
bytes, field ciphertexts and the KEK setting are read or refused with the module's own error."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from hypothesis import example, given
from hypothesis import strategies as st
from tongsuopy.crypto import hashes
from tongsuopy.crypto.asymciphers import ec
from tongsuopy.crypto.exceptions import InvalidSignature

from tests.strategies import FAST, SLOW, any_text
from tongban.crypto import es256, sm2
from tongban.crypto.primitives import Aead, DecryptionFailed, new_key, open_sealed, seal
from tongban.crypto.service import Kek, KeyUnavailable, _parse

ORDER = int("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123", 16)
KEYS = sm2.KeyPair.generate()
SIGNER = sm2.Sm2Signer(KEYS)
THEIRS = ec.EllipticCurvePublicKey.from_encoded_point(ec.SM2(), KEYS.public_key)


@SLOW
@given(st.binary(max_size=300), st.data())
def test_sm2_signatures_agree_with_tongsuo_and_any_flipped_bit_fails(
    message: bytes, data: st.DataObject
) -> None:
    signature = SIGNER.sign(message)
    assert sm2.verify(KEYS.public_key, message, signature)
    THEIRS.verify(sm2.raw_to_der(signature), message, ec.ECDSA(hashes.SM3()))  # raises if not
    flipped = bytearray(signature + message)
    bit = data.draw(st.integers(0, len(flipped) * 8 - 1))
    flipped[bit // 8] ^= 1 << (bit % 8)
    bad_sig, bad_msg = bytes(flipped[:64]), bytes(flipped[64:])
    assert not sm2.verify(KEYS.public_key, bad_msg, bad_sig)
    if 0 < int.from_bytes(bad_sig[:32]) < ORDER and 0 < int.from_bytes(bad_sig[32:]) < ORDER:
        with pytest.raises(InvalidSignature):
            THEIRS.verify(sm2.raw_to_der(bad_sig), bad_msg, ec.ECDSA(hashes.SM3()))


@FAST
@given(st.binary(max_size=70))
def test_any_bytes_are_no_signature(signature: bytes) -> None:
    assert sm2.verify(KEYS.public_key, b"m", signature) is False


@FAST
@given(st.integers(1, ORDER - 1), st.integers(1, ORDER - 1))
def test_der_and_raw_forms_round_trip(r: int, s: int) -> None:
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    assert sm2.der_to_raw(sm2.raw_to_der(raw)) == raw


@FAST
@given(
    st.binary(max_size=80)
    | st.builds(sm2.raw_to_der, st.binary(min_size=64, max_size=64))
    | st.builds(encode_dss_signature, st.integers(0, 2**264), st.integers(0, 2**264))
)
# DER integers past 256 bits were an OverflowError, which the callers did not catch.
@example(encode_dss_signature(2**300, 1))
@example(encode_dss_signature(1, 2**256))
def test_any_der_is_a_signature_or_a_value_error(der: bytes) -> None:
    try:
        raw = sm2.der_to_raw(der)
    except ValueError:
        return
    assert len(raw) == 64


def _pem(body: bytes) -> str:
    return (
        "-----BEGIN PUBLIC KEY-----\n"
        + base64.b64encode(body).decode()
        + "\n-----END PUBLIC KEY-----\n"
    )


@FAST
@given(any_text | st.binary(max_size=120).map(_pem))
@example(sm2.public_key_pem(KEYS.public_key).replace("A", "B", 1))
def test_any_text_is_an_sm2_key_or_invalid_key(text: str) -> None:
    try:
        point = sm2.public_key_from_pem(text)
    except sm2.InvalidKey:
        return
    assert len(point) == 65 and sm2.public_key_from_pem(sm2.public_key_pem(point)) == point


@FAST
@given(any_text | st.binary(max_size=120).map(_pem))
# An SM2 key where a P-256 one is expected: cryptography raises UnsupportedAlgorithm, which is no
# ValueError, and a peer's trust list could hold one.
@example(sm2.public_key_pem(KEYS.public_key))
def test_any_text_is_a_p256_key_or_a_value_error(text: str) -> None:
    try:
        point = es256.public_key_from_pem(text)
    except ValueError:
        return
    assert len(point) == 65


P256_PRIVATE, P256_PUBLIC = es256.generate()


@FAST
@given(st.binary(max_size=100), st.binary(max_size=70))
def test_es256_any_signature_is_true_or_false(message: bytes, signature: bytes) -> None:
    assert es256.verify(P256_PUBLIC, message, signature) is False
    good = es256.sign(es256.private_key(P256_PRIVATE), message)
    assert es256.verify(P256_PUBLIC, message, good)


@SLOW
@given(st.sampled_from(Aead), st.binary(max_size=200), st.binary(max_size=20), st.data())
def test_sealed_bytes_open_and_any_change_is_refused(
    alg: Aead, plaintext: bytes, aad: bytes, data: st.DataObject
) -> None:
    key = new_key(alg)
    sealed = seal(alg, key, plaintext, aad)
    assert open_sealed(alg, key, sealed, aad) == plaintext
    bit = data.draw(st.integers(0, len(sealed) * 8 - 1))
    changed = bytearray(sealed)
    changed[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(DecryptionFailed):
        open_sealed(alg, key, bytes(changed), aad)
    with pytest.raises(DecryptionFailed):
        open_sealed(alg, key, sealed, aad + b"!")
    with pytest.raises(DecryptionFailed):
        open_sealed(alg, key, data.draw(st.binary(max_size=60)), aad)


@FAST
@given(any_text | st.builds(lambda k, b: f"tb1.{k}.{b}", any_text, any_text))
def test_any_field_ciphertext_text_parses_or_fails(token: str) -> None:
    try:
        key_id, sealed = _parse(token)
    except DecryptionFailed:
        return
    assert isinstance(key_id, int) and isinstance(sealed, bytes)


@FAST
@given(any_text | st.binary(max_size=40).map(lambda b: base64.b64encode(b).decode()))
@example("密钥")  # not ASCII: base64 raised a bare ValueError, not KeyUnavailable
@example(base64.b64encode(bytes(32)).decode())
def test_any_kek_setting_is_a_key_or_key_unavailable(text: str) -> None:
    try:
        kek = Kek.from_base64(text)
    except KeyUnavailable:
        return
    assert len(kek.key) == 32 and len(kek.id) == 16
