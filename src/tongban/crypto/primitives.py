"""The raw primitives, from `cryptography` (OpenSSL): SM3, HMAC-SM3, SM4-GCM and AES-256-GCM.

Everything above this module speaks bytes in, bytes out; swapping the library means changing
this file only.
"""

from __future__ import annotations

import os
from enum import StrEnum

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12
TAG_BYTES = 16


class Aead(StrEnum):
    SM4_GCM = "sm4-gcm"  # 128-bit key, GB/T 32907
    AES_256_GCM = "aes-256-gcm"


KEY_BYTES = {Aead.SM4_GCM: 16, Aead.AES_256_GCM: 32}


class DecryptionFailed(Exception):
    """The ciphertext was changed, or the key or the associated data is not the right one."""


def sm3(data: bytes) -> bytes:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()


def hmac_sm3(key: bytes, data: bytes) -> bytes:
    mac = hmac.HMAC(key, hashes.SM3())
    mac.update(data)
    return mac.finalize()


def new_key(alg: Aead) -> bytes:
    return os.urandom(KEY_BYTES[alg])


def seal(alg: Aead, key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """nonce || ciphertext || tag, with a fresh random nonce."""
    nonce = os.urandom(NONCE_BYTES)
    if alg is Aead.AES_256_GCM:
        return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)
    encryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
    encryptor.authenticate_additional_data(aad)
    body = encryptor.update(plaintext) + encryptor.finalize()
    return nonce + body + encryptor.tag


def open_sealed(alg: Aead, key: bytes, sealed: bytes, aad: bytes) -> bytes:
    if len(sealed) < NONCE_BYTES + TAG_BYTES:
        raise DecryptionFailed("ciphertext too short")
    nonce, rest = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:]
    try:
        if alg is Aead.AES_256_GCM:
            return AESGCM(key).decrypt(nonce, rest, aad)
        body, tag = rest[:-TAG_BYTES], rest[-TAG_BYTES:]
        decryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce, tag)).decryptor()
        decryptor.authenticate_additional_data(aad)
        return decryptor.update(body) + decryptor.finalize()
    except InvalidTag as exc:
        raise DecryptionFailed("authentication failed") from exc
