"""The checks that make a code genuine, anywhere, with no server: `verify_token` needs nothing
but trust lists (crypto.trustlist) and the clock. The server runs the very same function
before it looks anything up."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tongban.crypto import sm2
from tongban.crypto.trustlist import TrustedKey, TrustList
from tongban.idcode.errors import CodeRefused
from tongban.idcode.token import Claims, Malformed, parse


@dataclass(frozen=True)
class Verified:
    claims: Claims
    key: TrustedKey


def verify_token(text: str, lists: Mapping[str, TrustList], *, now: int, skew: int = 5) -> Verified:
    """Everything a code must pass before anyone looks up whom it belongs to.

    The order matters for the answer a scanner gets: region, then key, then signature, then
    time, so that a forged code is called forged even when it is also out of date.
    """
    try:
        parsed = parse(text)
    except Malformed as exc:
        raise CodeRefused("code_malformed", str(exc)) from exc
    claims = parsed.claims
    trust = lists.get(claims.region_code)
    if trust is None:
        raise CodeRefused("code_wrong_region", f"issued by region {claims.region_code}")
    key = trust.keys.get(claims.kid)
    if key is None or key.use != "code" or key.owner != f"region:{claims.region_code}":
        raise CodeRefused("code_forged", f"key {claims.kid} is not in the trust list")
    if key.status == "revoked":
        raise CodeRefused("code_key_revoked", f"key {claims.kid} was revoked")
    if not sm2.verify(key.public_key, parsed.signed, parsed.signature):
        raise CodeRefused("code_altered")
    if claims.issued_at < key.activated_at - skew or (
        key.retired_at is not None and claims.issued_at > key.retired_at + skew
    ):
        raise CodeRefused("code_forged", "issued outside the signing key's active period")
    if claims.issued_at > now + skew:
        raise CodeRefused("code_not_yet_valid")
    if now > claims.expires_at + skew:
        raise CodeRefused("code_expired")
    return Verified(claims=claims, key=key)
