"""Trust lists: a region's signed list of the public keys that sign its codes and licenses.

A scanner or verifier that holds the list (and, ideally, the root key's fingerprint, learned
out of band) checks signatures offline. The document, as served by `GET /api/v1/trust-list`:

    {"format": "tongban-trust-list/1", "region_code": "310000", "region_name": "上海市",
     "issued_at": "...Z", "next_update": "...Z",
     "root": {"key_id": "...", "alg": "SM2-SM3", "public_key_pem": "-----BEGIN PUBLIC KEY-----..."},
     "keys": [{"key_id": "...", "alg": "SM2-SM3", "owner": "region:310000", "use": "code",
               "public_key_pem": "...", "status": "active", "not_before": "...Z",
               "not_after": null, "revoked_at": null}, ...],
     "signature": "<hex r|s over the canonical JSON of every other member>"}

`use` says what a key may sign (`code`, `license`); a key is trusted only for its own use.
`owner` says whose it is (the region, or a department `dept:<key>`). `not_before` and
`not_after` bound when it signed (`not_after` is set when it retires).

Canonical JSON: keys sorted, no spaces, UTF-8 (not \\u escapes).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tongban.crypto import es256, sm2
from tongban.errors import DomainError


class TrustListRefused(DomainError):
    def __init__(self, code: str, detail: str) -> None:
        titles = {
            "trust_list_invalid": ("信任列表无效或签名不符", "The trust list is invalid"),
            "trust_list_expired": ("信任列表已过期，请更新", "The trust list is out of date"),
        }
        title, title_en = titles[code]
        super().__init__(code=code, title=title, title_en=title_en, status=422, detail=detail)


FORMAT = "tongban-trust-list/1"


@dataclass(frozen=True)
class TrustedKey:
    kid: str
    public_key: bytes
    status: str  # active | retired | revoked
    activated_at: int
    retired_at: int | None = None
    revoked_at: int | None = None
    use: str = "code"
    owner: str = ""
    alg: str = sm2.ALGORITHM  # or "ES256" for selective-disclosure credentials


@dataclass(frozen=True)
class TrustList:
    region_code: str
    region_name: str
    issued_at: int
    next_update: int
    root_kid: str
    keys: Mapping[str, TrustedKey]
    root_key: bytes = b""  # what signs the list itself (and the license status list)


def canonical(document: Mapping[str, Any]) -> bytes:
    body = {k: v for k, v in document.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _iso(ts: int | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _epoch(text: str | None) -> int | None:
    if text is None:
        return None
    return int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp())


def build_document(
    *,
    region_code: str,
    region_name: str,
    keys: Iterable[TrustedKey],
    root: sm2.Signer,
    issued_at: int,
    next_update: int,
) -> dict[str, Any]:
    """A trust list signed by the region's root key."""
    document: dict[str, Any] = {
        "format": FORMAT,
        "region_code": region_code,
        "region_name": region_name,
        "issued_at": _iso(issued_at),
        "next_update": _iso(next_update),
        "root": {
            "key_id": sm2.key_id(root.public_key),
            "alg": sm2.ALGORITHM,
            "public_key_pem": sm2.public_key_pem(root.public_key),
        },
        "keys": [
            {
                "key_id": k.kid,
                "alg": k.alg,
                "owner": k.owner,
                "use": k.use,
                "public_key_pem": _pem(k.alg, k.public_key),
                "status": k.status,
                "not_before": _iso(k.activated_at),
                "not_after": _iso(k.retired_at),
                "revoked_at": _iso(k.revoked_at),
            }
            for k in keys
        ],
    }
    document["signature"] = root.sign(canonical(document)).hex()
    return document


def load_document(
    document: Mapping[str, Any], *, now: int, root_fingerprint: str | None = None
) -> TrustList:
    """Check a trust list's form, root signature, pinned root (if given) and freshness."""
    try:
        if document.get("format") != FORMAT:
            raise ValueError("unknown format")
        root_key = sm2.public_key_from_pem(document["root"]["public_key_pem"])
        signature = bytes.fromhex(document["signature"])
        keys = {
            entry["key_id"]: TrustedKey(
                kid=entry["key_id"],
                public_key=_point(str(entry["alg"]), entry["public_key_pem"]),
                status=entry["status"],
                activated_at=_epoch(entry["not_before"]) or 0,
                retired_at=_epoch(entry.get("not_after")),
                revoked_at=_epoch(entry.get("revoked_at")),
                use=str(entry.get("use", "")),
                owner=str(entry.get("owner", "")),
                alg=str(entry["alg"]),
            )
            for entry in document["keys"]
        }
        region_code = str(document["region_code"])
        issued_at = _epoch(document["issued_at"]) or 0
        next_update = _epoch(document["next_update"]) or 0
        region_name = str(document["region_name"])
        signed = canonical(document)  # a lone surrogate has no UTF-8: UnicodeEncodeError
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise TrustListRefused("trust_list_invalid", f"malformed trust list: {exc}") from exc
    if any(k.kid != sm2.key_id(k.public_key) for k in keys.values()):
        raise TrustListRefused("trust_list_invalid", "a key id does not match its key")
    root_kid = sm2.key_id(root_key)
    if root_fingerprint is not None and root_fingerprint.lower() != root_fingerprint_of(root_key):
        raise TrustListRefused("trust_list_invalid", "the root key is not the pinned one")
    if not sm2.verify(root_key, signed, signature):
        raise TrustListRefused("trust_list_invalid", "the root signature does not verify")
    if now > next_update:
        raise TrustListRefused(
            "trust_list_expired", f"the list was due for update at {_iso(next_update)}"
        )
    return TrustList(
        region_code=region_code,
        region_name=region_name,
        issued_at=issued_at,
        next_update=next_update,
        root_kid=root_kid,
        keys=keys,
        root_key=root_key,
    )


def root_fingerprint_of(public_key: bytes) -> str:
    """What an operator compares out of band: SM3 of the root public key, in hex."""
    return sm2.sm3(public_key).hex()


def _pem(alg: str, point: bytes) -> str:
    return es256.public_key_pem(point) if alg == es256.ALGORITHM else sm2.public_key_pem(point)


def _point(alg: str, pem: str) -> bytes:
    if alg == es256.ALGORITHM:
        return es256.public_key_from_pem(pem)
    if alg != sm2.ALGORITHM:
        raise ValueError(f"unknown algorithm {alg}")
    return sm2.public_key_from_pem(pem)
