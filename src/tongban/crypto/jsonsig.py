"""Signed JSON documents: SM2-SM3 over the RFC 8785 canonical form, the signature a member.

The rule licenses, status lists and the messages between regions share: a document is a JSON
object with a member `"signature": {"alg": "SM2-SM3", "key_id": ..., "value": base64 of the
DER-encoded signature}`; the signed bytes are the RFC 8785 canonical JSON of the document with
`signature` removed; the signer id is the default `1234567812345678`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

import rfc8785

from tongban.crypto import sm2


def signed_bytes(document: Mapping[str, Any]) -> bytes:
    return bytes(rfc8785.dumps({k: v for k, v in document.items() if k != "signature"}))


def sign(document: Mapping[str, Any], kid: str, signer: sm2.Signer) -> dict[str, Any]:
    """The document with its `signature` member (any previous one replaced)."""
    body = {k: v for k, v in document.items() if k != "signature"}
    der = sm2.raw_to_der(signer.sign(signed_bytes(body)))
    return {
        **body,
        "signature": {"alg": sm2.ALGORITHM, "key_id": kid, "value": base64.b64encode(der).decode()},
    }


def signed_or_empty(document: Mapping[str, Any]) -> bytes:
    """The signed bytes, or nothing when the document cannot be canonicalised (an integer past
    2^53, say): then it cannot carry a valid signature either."""
    try:
        return signed_bytes(document)
    except (ValueError, TypeError, rfc8785.CanonicalizationError):
        return b""


def signature_of(document: Mapping[str, Any]) -> tuple[str, bytes] | None:
    """The signing key's id and the raw r | s signature, or None if the member is malformed."""
    member = document.get("signature")
    if not isinstance(member, Mapping) or member.get("alg") != sm2.ALGORITHM:
        return None
    try:
        raw = sm2.der_to_raw(base64.b64decode(str(member.get("value", "")), validate=True))
    except (binascii.Error, ValueError):
        return None
    return str(member.get("key_id", "")), raw


def verifies(document: Mapping[str, Any], public_key: bytes) -> bool:
    """Whether the document's signature is the given key's over its canonical form."""
    found = signature_of(document)
    if found is None:
        return False
    message = signed_or_empty(document)
    return bool(message) and sm2.verify(public_key, message, found[1])
