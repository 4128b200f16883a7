"""The signed license document, checked by an independent SM2 implementation, and each reason a
verification fails."""

from __future__ import annotations

import base64
import copy
import time
from datetime import date
from typing import Any

import rfc8785
from tongsuopy.crypto import hashes
from tongsuopy.crypto.asymciphers import ec
from tongsuopy.crypto.serialization import load_pem_public_key

from tongban.crypto import sm2
from tongban.crypto.trustlist import TrustedKey, TrustList
from tongban.licenses.document import FORMAT, sign_document, verify_document
from tongban.licenses.identifier import LicenseIdentifier

NOW = int(time.time())
TODAY = date(2026, 11, 28)
KEY = sm2.Sm2Signer(sm2.KeyPair.generate())
OTHER = sm2.Sm2Signer(sm2.KeyPair.generate())


def a_document(**changes: Any) -> dict[str, Any]:
    identifier = LicenseIdentifier("11310000T00000002H001", "11310000T00000002H", "00000001", 1)
    document = {
        "format": FORMAT,
        "identifier": str(identifier),
        "version": 1,
        "type": {"key": "business_license", "code": "11310000T00000002H001", "name": "营业执照"},
        "issuer": {"department": "sh-scjgj", "name": "市场监管局", "code": "11310000T00000002H"},
        "issued_on": "2026-11-01",
        "valid_from": "2026-11-01",
        "valid_until": "2027-10-31",
        "holder": {
            "kind": "enterprise",
            "name": "上海浦江便利店有限公司",
            "id": "x",
            "id_type": "uscc",
        },
        "content": {"enterprise.name": "上海浦江便利店有限公司"},
        "signed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW)),
        **changes,
    }
    return sign_document(document, sm2.key_id(KEY.public_key), KEY)


def trust(status: str = "active", use: str = "license", owner: str = "dept:sh-scjgj") -> Any:
    key = TrustedKey(
        kid=sm2.key_id(KEY.public_key),
        public_key=KEY.public_key,
        status=status,
        activated_at=NOW - 86400,
        use=use,
        owner=owner,
    )
    return {"310000": TrustList("310000", "上海市", NOW, NOW + 3600, "-", {key.kid: key})}


def reason(document: dict[str, Any], lists: Any = None, status: str | None = "01") -> str | None:
    return verify_document(document, lists or trust(), today=TODAY, status=status).reason


def test_a_signature_checks_with_a_second_implementation() -> None:
    document = a_document()
    body = {k: v for k, v in document.items() if k != "signature"}
    der = base64.b64decode(document["signature"]["value"])
    public = load_pem_public_key(sm2.public_key_pem(KEY.public_key).encode())
    public.verify(der, rfc8785.dumps(body), ec.ECDSA(hashes.SM3()))  # raises if not valid
    assert verify_document(document, trust(), today=TODAY, status="01").valid


def test_each_failure_has_its_own_reason() -> None:
    altered = copy.deepcopy(a_document())
    altered["content"]["enterprise.name"] = "别的公司"
    wrong_key = sign_document(
        {k: v for k, v in a_document().items() if k != "signature"},
        sm2.key_id(OTHER.public_key),
        OTHER,
    )
    forged_under_real_id = sign_document(
        {k: v for k, v in a_document().items() if k != "signature"},
        sm2.key_id(KEY.public_key),
        OTHER,
    )
    assert reason(a_document()) is None
    assert reason(altered) == "license_signature_invalid"
    assert reason(wrong_key) == "license_unknown_key"
    assert reason(forged_under_real_id) == "license_signature_invalid"
    assert reason(a_document(valid_until="2026-11-27")) == "license_expired"
    assert reason(a_document(valid_from="2026-12-01")) == "license_not_yet_valid"
    assert reason(a_document(), status="03") == "license_revoked"
    assert reason(a_document(), status="02") == "license_suspended"
    assert reason(a_document(), status="99") == "license_superseded"
    assert reason(a_document(), trust("revoked")) == "license_key_revoked"
    assert reason(a_document(), trust(use="code")) == "license_unknown_key"
    assert reason(a_document(), trust(owner="dept:sh-gaj")) == "license_wrong_issuer"
    assert reason(a_document(identifier="1.2.156.3005.2.X")) == "license_identifier_invalid"
    assert reason({"format": "other"}) == "license_malformed"


def test_without_a_status_the_answer_says_it_was_not_checked() -> None:
    result = verify_document(a_document(), trust(), today=TODAY, status=None)
    assert result.valid
    assert result.as_dict()["checks"][-1] == {
        "check": "status",
        "ok": True,
        "detail": "not checked: no status list",
    }


def test_the_signature_covers_every_member_but_itself() -> None:
    document = a_document()
    moved = {**document, "signature": {**document["signature"]}}
    assert reason(moved) is None  # same members, another object: still valid
    document["extra"] = "added after signing"
    assert reason(document) == "license_signature_invalid"
