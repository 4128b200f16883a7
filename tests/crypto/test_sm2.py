"""SM2 signing checked against a second, independent implementation (Tongsuo)."""

from __future__ import annotations

import pytest
from tongsuopy.crypto import hashes
from tongsuopy.crypto.asymciphers import ec
from tongsuopy.crypto.exceptions import InvalidSignature
from tongsuopy.crypto.serialization import Encoding, PublicFormat

from tongban.crypto import sm2

ORDER = int("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123", 16)


def test_our_signature_verifies_in_tongsuo() -> None:
    keys = sm2.KeyPair.generate()
    message = b"TB layout bytes \x00\x01"
    signature = sm2.Sm2Signer(keys).sign(message)
    assert len(signature) == 64
    theirs = ec.EllipticCurvePublicKey.from_encoded_point(ec.SM2(), keys.public_key)
    theirs.verify(sm2.raw_to_der(signature), message, ec.ECDSA(hashes.SM3()))  # raises if not
    with pytest.raises(InvalidSignature):
        theirs.verify(sm2.raw_to_der(signature), message + b"!", ec.ECDSA(hashes.SM3()))


def test_tongsuo_signature_verifies_here() -> None:
    private = ec.generate_private_key(ec.SM2())
    public = private.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    message = b"trust list canonical json"
    der = private.sign(message, ec.ECDSA(hashes.SM3()))
    assert sm2.verify(public, message, sm2.der_to_raw(der))
    assert not sm2.verify(public, b"another message", sm2.der_to_raw(der))


def test_out_of_range_and_short_signatures_are_refused_without_the_library() -> None:
    keys = sm2.KeyPair.generate()
    good = sm2.Sm2Signer(keys).sign(b"m")
    assert sm2.verify(keys.public_key, b"m", good)
    assert not sm2.verify(keys.public_key, b"m", good[:63])
    assert not sm2.verify(keys.public_key, b"m", bytes(64))
    assert not sm2.verify(keys.public_key, b"m", ORDER.to_bytes(32, "big") + good[32:])


def test_der_and_raw_forms_round_trip() -> None:
    signature = sm2.Sm2Signer(sm2.KeyPair.generate()).sign(b"x")
    assert sm2.der_to_raw(sm2.raw_to_der(signature)) == signature


def test_public_keys_are_checked_to_lie_on_the_curve() -> None:
    keys = sm2.KeyPair.generate()
    assert sm2.normalize_public_key(keys.public_key) == keys.public_key
    bent = keys.public_key[:-1] + bytes([keys.public_key[-1] ^ 1])
    with pytest.raises(sm2.InvalidKey):
        sm2.normalize_public_key(bent)


def test_key_ids_are_short_and_stable() -> None:
    keys = sm2.KeyPair.generate()
    assert sm2.key_id(keys.public_key) == sm2.key_id(bytes(keys.public_key))
    assert len(sm2.key_id(keys.public_key)) == 8
