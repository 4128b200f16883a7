"""The signed license document and the checks that make it genuine — anywhere, offline.

The rule (docs/licenses.md says the same): a license is a JSON object with a member
`"signature": {"alg": "SM2-SM3", "key_id": ..., "value": base64 of the DER-encoded signature}`;
the signed bytes are the RFC 8785 canonical JSON of the document with `signature` removed; the
signer id is the default `1234567812345678`. The key is the issuing department's `license` key
in the region's trust list, and it must belong to the department the document names.

Status is not part of the signed document (a license is suspended or revoked after it was
signed): it comes from the registry, or offline from the region's signed status list.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from tongban.common.regions import region_of_uscc
from tongban.crypto import jsonsig, sm2
from tongban.crypto.trustlist import TrustedKey, TrustList
from tongban.licenses.identifier import InvalidIdentifier, parse_identifier
from tongban.portal.i18n import N_

FORMAT = "tongban-license/1"
STATUS_FORMAT = "tongban-license-status/1"

# GB/T 36903 status codes.
STATUS_LABELS = {
    "01": N_("有效"),
    "02": N_("暂扣"),
    "03": N_("撤销"),
    "04": N_("注销"),
    "05": N_("失效"),
    "06": N_("转出"),
    "07": N_("吊销"),
    "99": N_("其他"),
}
# Why a license in each status is not valid, as a verification reason.
STATUS_REASONS = {
    "02": "license_suspended",
    "03": "license_revoked",
    "04": "license_cancelled",
    "05": "license_expired",
    "06": "license_transferred",
    "07": "license_revoked",
    "99": "license_superseded",
}


signed_bytes = jsonsig.signed_bytes
sign_document = jsonsig.sign


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class Verification:
    """What a verifier learns: valid or not, the status, each check and the first failure."""

    valid: bool = True
    status: str | None = None
    reason: str | None = None
    checks: list[Check] = field(default_factory=list)
    region: str | None = None  # whose trust list holds the signing key: the issuing region

    def check(self, name: str, ok: bool, reason: str, detail: str = "") -> bool:
        self.checks.append(Check(name, ok, detail))
        if not ok and self.valid:
            self.valid, self.reason = False, reason
        return ok

    def as_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "status": self.status,
            "reason": self.reason,
            "region": self.region,
            "checks": [{"check": c.name, "ok": c.ok, "detail": c.detail} for c in self.checks],
        }


def _key_for(
    document: Mapping[str, Any], lists: Mapping[str, TrustList], issuer_code: str
) -> tuple[TrustedKey, str] | None:
    """The signing key and the region whose list holds it. With several regions' lists, a key
    counts only in the list of the region that registered the issuer (its credit code says
    which), so one region's key cannot vouch for a department of another."""
    key_id = str(document.get("signature", {}).get("key_id"))
    issuing = region_of_uscc(issuer_code)
    for region, trust in lists.items():
        key = trust.keys.get(key_id)
        if key is not None and (len(lists) == 1 or issuing in (None, region)):
            return key, region
    return None


def verify_document(
    document: Mapping[str, Any],
    lists: Mapping[str, TrustList],
    *,
    today: date,
    status: str | None = None,
) -> Verification:
    """Every check of a license, in order; the first failure is the reason.

    `status` is the GB/T 36903 status from the registry or a status list ("01" valid); None
    means it could not be checked (offline without a status list), which is said, not hidden.
    """
    result = Verification(status=status)
    if not result.check(
        "format",
        isinstance(document, Mapping) and document.get("format") == FORMAT,
        "license_malformed",
        "a tongban-license/1 document",
    ):
        return result
    try:
        identifier = parse_identifier(str(document.get("identifier", "")))
    except InvalidIdentifier as exc:
        result.check("identifier", False, "license_identifier_invalid", str(exc))
        return result
    result.check("identifier", True, "license_identifier_invalid", "GB/T 36904 check character")
    signature = document.get("signature")
    if not isinstance(signature, Mapping) or signature.get("alg") != sm2.ALGORITHM:
        result.check("signature_form", False, "license_malformed", "alg SM2-SM3, key_id, value")
        return result
    found = _key_for(document, lists, identifier.issuer)
    if not result.check(
        "key_known",
        found is not None and found[0].use == "license",
        "license_unknown_key",
        f"key {signature.get('key_id')} in the trust list as a license key",
    ):
        return result
    assert found is not None
    key, result.region = found
    issuer = document.get("issuer")
    if not isinstance(issuer, Mapping):
        result.check("issuer", False, "license_malformed", "issuer is an object")
        return result
    result.check(
        "key_owner",
        key.owner == f"dept:{issuer.get('department')}" and issuer.get("code") == identifier.issuer,
        "license_wrong_issuer",
        f"the key belongs to {key.owner}",
    )
    result.check("key_not_revoked", key.status != "revoked", "license_key_revoked")
    try:
        der = base64.b64decode(str(signature.get("value", "")), validate=True)
        raw = sm2.der_to_raw(der)
    except (binascii.Error, ValueError):
        raw = b""
    result.check(
        "signature",
        bool(raw) and sm2.verify(key.public_key, jsonsig.signed_or_empty(document), raw),
        "license_signature_invalid",
        "SM2-SM3 over the RFC 8785 form without the signature",
    )
    signed_at = epoch_of(document.get("signed_at"))
    result.check(
        "signed_while_key_active",
        signed_at is not None
        and signed_at >= key.activated_at - 300
        and (key.retired_at is None or signed_at <= key.retired_at + 300),
        "license_unknown_key",
        "signed_at within the key's period",
    )
    valid_from = _date(document.get("valid_from"))
    valid_until = _date(document.get("valid_until"))
    result.check(
        "in_validity",
        valid_from is not None
        and valid_from <= today
        and (valid_until is None or today <= valid_until),
        "license_expired"
        if valid_until is not None and today > valid_until
        else "license_not_yet_valid",
        f"{document.get('valid_from')} .. {document.get('valid_until') or '长期'}",
    )
    if status is None:
        result.checks.append(Check("status", True, "not checked: no status list"))
    else:
        result.check(
            "status",
            status == "01",
            STATUS_REASONS.get(status, "license_status_invalid"),
            STATUS_LABELS.get(status, status),
        )
    return result


def epoch_of(text: Any) -> int | None:
    try:
        return int(
            datetime.strptime(str(text), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
        )
    except ValueError:
        return None


def _date(text: Any) -> date | None:
    try:
        return date.fromisoformat(str(text)) if text else None
    except ValueError:
        return None


def status_from_list(document: Mapping[str, Any], status_list: Mapping[str, Any]) -> str:
    """The status a checked status list gives a license: listed, or else valid ("01")."""
    entries = status_list.get("entries", {})
    entry = entries.get(str(document.get("identifier")))
    return str(entry["status"]) if entry else "01"


QR_PREFIX = "TBL1:"
_QR_CONTEXT = b"tongban-license-qr/1\n"


def qr_payload(identifier: str, kid: str, signer: sm2.Signer) -> str:
    """What a printed license's QR carries: its identifier, signed by the issuing department's
    key, so a scan proves the identifier genuine offline (its status comes from the registry or
    the status list). Upper-case letters, digits, '.' and ':' only: QR alphanumeric mode."""
    signature = signer.sign(_QR_CONTEXT + identifier.encode())
    body = base64.b32encode(signature).decode().rstrip("=")
    return f"{QR_PREFIX}{identifier}:{kid.upper()}:{body}"


def verify_qr_payload(text: str, lists: Mapping[str, TrustList]) -> tuple[str, TrustedKey]:
    """The identifier a license QR vouches for, and the key that signed it; ValueError if not
    genuine."""
    if not text.startswith(QR_PREFIX) or text.count(":") != 3:
        raise ValueError("not a license QR")
    identifier, kid, body = text[len(QR_PREFIX) :].split(":")
    parse_identifier(identifier)
    key = next((t.keys[kid.lower()] for t in lists.values() if kid.lower() in t.keys), None)
    if key is None or key.use != "license" or key.status == "revoked":
        raise ValueError("not signed by a trusted license key")
    try:
        signature = base64.b32decode(body + "=" * (-len(body) % 8))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("bad signature encoding") from exc
    if not sm2.verify(key.public_key, _QR_CONTEXT + identifier.encode(), signature):
        raise ValueError("the signature does not match")
    return identifier, key
