"""Selective disclosure: a license as an SD-JWT VC (IETF SD-JWT; ES256, since JOSE has no SM2).

The holder receives the credential with every field as a separate disclosure and presents
only the ones a verifier needs (a hotel: name and photo, not the address). Each disclosure is
`base64url(JSON [salt, name, value])` with a 128-bit random salt, and the issuer signs only
their SHA-256 digests, so an undisclosed field cannot be recovered from a presentation.

Verification is done here, strictly (the reference `sd-jwt` package skips expiry and drops a
tampered disclosure instead of refusing the token): the issuer key must be an `sdjwt` key of
the trust list owned by the department the credential names; `exp` is required and checked;
every disclosure must match a digest the issuer signed, once; a disclosure may not overwrite
a claim the issuer made in the clear. Any failure refuses the whole presentation.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Iterable, Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from tongban.crypto import es256
from tongban.crypto.trustlist import TrustList
from tongban.errors import DomainError

TYP = "dc+sd-jwt"
VCT_PREFIX = "urn:tongban:license:"


class SdJwtRefused(DomainError):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(
            code=code,
            title="选择性披露凭证无效",
            title_en="The selective-disclosure credential is not valid",
            status=422,
            detail=detail,
        )


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64url(text: str) -> bytes:
    """Strictly: the decoder skips characters outside the alphabet, so without the round trip
    a signature with a character added would still be the signature."""
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64url(data) != text:
        raise ValueError("not base64url in its one unpadded spelling")
    return data


def _digest(disclosure: str) -> str:
    return b64url(hashlib.sha256(disclosure.encode("ascii")).digest())


def issue(
    document: Mapping[str, Any], kid: str, key: ec.EllipticCurvePrivateKey, *, now: int, ttl: int
) -> str:
    """The full credential: issuer-signed JWT and a disclosure for every personal field."""
    claims: dict[str, Any] = {
        "holder_name": document["holder"]["name"],
        "holder_id": document["holder"]["id"],
        **document["content"],
    }
    disclosures = [
        b64url(
            json.dumps([b64url(secrets.token_bytes(16)), name, value], ensure_ascii=False).encode()
        )
        for name, value in claims.items()
    ]
    payload = {
        "iss": f"dept:{document['issuer']['department']}",
        "iat": now,
        "exp": now + ttl,
        "vct": VCT_PREFIX + document["type"]["key"],
        "license": {
            "identifier": document["identifier"],
            "type": document["type"]["name"],
            "issuer": document["issuer"]["name"],
            "valid_until": document["valid_until"],
        },
        "_sd_alg": "sha-256",
        # Sorted, so the order says nothing about which digest belongs to which field.
        "_sd": sorted(_digest(d) for d in disclosures),
    }
    header = {"alg": es256.ALGORITHM, "typ": TYP, "kid": kid}
    signing_input = (
        b64url(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + b64url(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode())
    )
    jwt = signing_input + "." + b64url(es256.sign(key, signing_input.encode()))
    return "~".join([jwt, *disclosures, ""])


def present(credential: str, disclose: Iterable[str]) -> str:
    """A presentation keeping only the named fields' disclosures (what a holder's wallet does)."""
    wanted = set(disclose)
    jwt, *rest = credential.split("~")
    kept = [d for d in rest if d and json.loads(unb64url(d))[1] in wanted]
    return "~".join([jwt, *kept, ""])


def verify(presentation: str, lists: Mapping[str, TrustList], *, now: int) -> dict[str, Any]:
    """The issuer's clear claims and the disclosed fields, or SdJwtRefused."""
    parts = presentation.split("~")
    if len(parts) < 2 or parts[-1] != "":
        raise SdJwtRefused("sd_jwt_malformed", "expected <jwt>~<disclosure>~...~")
    jwt, disclosures = parts[0], parts[1:-1]
    header, payload = _verified_jwt(jwt, lists)
    exp = payload.get("exp")
    if not isinstance(exp, int) or now >= exp:
        raise SdJwtRefused("sd_jwt_expired", "exp is required and must be in the future")
    if isinstance(payload.get("iat"), int) and payload["iat"] > now + 300:
        raise SdJwtRefused("sd_jwt_not_yet_valid", "issued in the future")
    if payload.get("_sd_alg") != "sha-256":
        raise SdJwtRefused("sd_jwt_malformed", "_sd_alg must be sha-256")
    listed = payload.get("_sd") or []
    if not isinstance(listed, list) or not all(isinstance(d, str) for d in listed):
        raise SdJwtRefused("sd_jwt_malformed", "_sd is a list of digests")
    digests = set(listed)
    disclosed: dict[str, Any] = {}
    seen: set[str] = set()
    for disclosure in disclosures:
        if not disclosure.isascii():
            raise SdJwtRefused("sd_jwt_disclosure_invalid", "a disclosure is base64url text")
        digest = _digest(disclosure)
        if digest not in digests or digest in seen:
            raise SdJwtRefused("sd_jwt_disclosure_invalid", "a disclosure the issuer did not sign")
        seen.add(digest)
        try:
            salt, name, value = json.loads(unb64url(disclosure))
        except (ValueError, TypeError, RecursionError) as exc:
            raise SdJwtRefused("sd_jwt_disclosure_invalid", "not [salt, name, value]") from exc
        if not isinstance(name, str) or name in payload or name in disclosed or not salt:
            raise SdJwtRefused("sd_jwt_disclosure_invalid", f"claim {name!r} may not be set")
        disclosed[name] = value
    return {
        "issuer": payload["iss"],
        "vct": payload.get("vct"),
        "license": payload.get("license"),
        "expires_at": exp,
        "disclosed": disclosed,
        "key_id": header["kid"],
    }


def _verified_jwt(
    jwt: str, lists: Mapping[str, TrustList]
) -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        head_b64, body_b64, sig_b64 = jwt.split(".")
        header = json.loads(unb64url(head_b64))
        payload = json.loads(unb64url(body_b64))
        signature = unb64url(sig_b64)
    except (ValueError, TypeError, RecursionError) as exc:  # RecursionError: nested too deep
        raise SdJwtRefused("sd_jwt_malformed", "not a JWT") from exc
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise SdJwtRefused("sd_jwt_malformed", "header and payload are JSON objects")
    if header.get("alg") != es256.ALGORITHM or header.get("typ") != TYP:
        raise SdJwtRefused("sd_jwt_malformed", "alg ES256 and typ dc+sd-jwt only")
    kid = str(header.get("kid"))
    key = next((t.keys[kid] for t in lists.values() if kid in t.keys), None)
    if key is None or key.use != "sdjwt" or key.alg != es256.ALGORITHM or key.status == "revoked":
        raise SdJwtRefused("sd_jwt_unknown_key", f"key {kid} is not a trusted credential key")
    if key.owner != payload.get("iss"):
        raise SdJwtRefused("sd_jwt_wrong_issuer", "the key does not belong to the issuer named")
    if not es256.verify(key.public_key, f"{head_b64}.{body_b64}".encode(), signature):
        raise SdJwtRefused("sd_jwt_signature_invalid", "the issuer's signature does not verify")
    return header, payload
