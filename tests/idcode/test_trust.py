"""Offline verification with nothing but a trust list: every refusal has its own code."""

from __future__ import annotations

import copy
import secrets
import time
from typing import Any

import pytest

from tongban.crypto import sm2
from tongban.crypto.trustlist import (
    TrustedKey,
    TrustListRefused,
    build_document,
    load_document,
    root_fingerprint_of,
)
from tongban.idcode.errors import CodeRefused
from tongban.idcode.token import Channel, Claims, SubjectType, signed_part, to_text
from tongban.idcode.trust import verify_token

NOW = int(time.time())
ROOT = sm2.Sm2Signer(sm2.KeyPair.generate())
CODE_KEY = sm2.Sm2Signer(sm2.KeyPair.generate())
OLD_KEY = sm2.Sm2Signer(sm2.KeyPair.generate())


def trusted(signer: sm2.Sm2Signer, status: str = "active", **times: int | None) -> TrustedKey:
    return TrustedKey(
        kid=sm2.key_id(signer.public_key),
        public_key=signer.public_key,
        status=status,
        activated_at=int(times.get("activated_at") or NOW - 86400),
        retired_at=times.get("retired_at"),
        revoked_at=times.get("revoked_at"),
        owner="region:310000",
    )


def document(*keys: TrustedKey, region: str = "310000", next_update: int = NOW + 3600) -> Any:
    return build_document(
        region_code=region,
        region_name="上海市",
        keys=keys,
        root=ROOT,
        issued_at=NOW,
        next_update=next_update,
    )


def code(
    signer: sm2.Sm2Signer = CODE_KEY,
    *,
    issued_at: int = NOW,
    validity: int = 60,
    region: str = "310000",
    kid: str | None = None,
) -> str:
    claims = Claims(
        subject_type=SubjectType.PERSON,
        region_code=region,
        ref=secrets.token_hex(12),
        issued_at=issued_at,
        validity=validity,
        paper=False,
        kid=kid or sm2.key_id(signer.public_key),
        channel=Channel.APP,
    )
    signed = signed_part(claims)
    return to_text(signed, signer.sign(signed))


def lists(*keys: TrustedKey) -> Any:
    loaded = load_document(document(*keys), now=NOW)
    return {loaded.region_code: loaded}


def refusal(text: str, trust: Any, now: int = NOW) -> str:
    with pytest.raises(CodeRefused) as caught:
        verify_token(text, trust, now=now, skew=5)
    return caught.value.code


def test_a_genuine_code_verifies_offline() -> None:
    verified = verify_token(code(), lists(trusted(CODE_KEY)), now=NOW + 30)
    assert verified.claims.region_code == "310000"
    assert verified.key.kid == sm2.key_id(CODE_KEY.public_key)


def test_each_failure_has_its_own_code() -> None:
    trust = lists(trusted(CODE_KEY))
    genuine = code()
    stranger = sm2.Sm2Signer(sm2.KeyPair.generate())
    flipped = genuine[:20] + ("A" if genuine[20] != "A" else "B") + genuine[21:]
    assert refusal("not a code", trust) == "code_malformed"
    assert refusal(code(region="320000"), trust) == "code_wrong_region"
    assert refusal(code(stranger), trust) == "code_forged"
    # A forger who names a trusted key cannot sign under it: the signature fails.
    assert refusal(code(stranger, kid=sm2.key_id(CODE_KEY.public_key)), trust) == "code_altered"
    assert refusal(flipped, trust) == "code_altered"
    assert refusal(genuine, trust, now=NOW + 66) == "code_expired"
    assert refusal(code(issued_at=NOW + 60), trust) == "code_not_yet_valid"


def test_within_the_clock_skew_a_code_still_verifies() -> None:
    trust = lists(trusted(CODE_KEY))
    verify_token(code(), trust, now=NOW + 64, skew=5)
    verify_token(code(issued_at=NOW + 4), trust, now=NOW, skew=5)


def test_revoked_key() -> None:
    trust = lists(trusted(CODE_KEY, "revoked", revoked_at=NOW - 10))
    assert refusal(code(), trust) == "code_key_revoked"


def test_codes_of_the_previous_key_verify_until_it_leaves_the_list() -> None:
    old_code = code(OLD_KEY, issued_at=NOW - 20)
    during = lists(
        trusted(CODE_KEY, activated_at=NOW - 10), trusted(OLD_KEY, "retired", retired_at=NOW - 10)
    )
    assert verify_token(old_code, during, now=NOW).key.status == "retired"
    after = lists(trusted(CODE_KEY, activated_at=NOW - 10))
    assert refusal(old_code, after) == "code_forged"


def test_a_retired_key_cannot_sign_new_codes() -> None:
    trust = lists(trusted(OLD_KEY, "retired", retired_at=NOW - 600))
    assert refusal(code(OLD_KEY), trust) == "code_forged"


def test_trust_list_signature_pin_and_freshness() -> None:
    good = document(trusted(CODE_KEY))
    fingerprint = root_fingerprint_of(ROOT.public_key)
    assert load_document(good, now=NOW, root_fingerprint=fingerprint).root_kid
    tampered = copy.deepcopy(good)
    tampered["keys"][0]["status"] = "revoked"
    with pytest.raises(TrustListRefused) as caught:
        load_document(tampered, now=NOW)
    assert caught.value.code == "trust_list_invalid"
    with pytest.raises(TrustListRefused) as caught:
        load_document(good, now=NOW, root_fingerprint="00" * 32)
    assert caught.value.code == "trust_list_invalid"
    with pytest.raises(TrustListRefused) as caught:
        load_document(good, now=NOW + 7200)
    assert caught.value.code == "trust_list_expired"


def test_a_swapped_key_is_noticed_even_when_re_signed_by_a_rogue_root() -> None:
    rogue = document(trusted(CODE_KEY))
    rogue["keys"][0]["key_id"] = "deadbeef"
    with pytest.raises(TrustListRefused) as caught:
        load_document(rogue, now=NOW)
    assert caught.value.code == "trust_list_invalid"


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: d.pop("keys"),
        lambda d: d.update(format="other/1"),
        lambda d: d["root"].update(
            public_key_pem="-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"
        ),
        lambda d: d.update(signature="zz"),
        lambda d: d.update(issued_at="yesterday"),
    ],
)
def test_malformed_trust_lists_are_refused(damage: Any) -> None:
    broken = copy.deepcopy(document(trusted(CODE_KEY)))
    damage(broken)
    with pytest.raises(TrustListRefused) as caught:
        load_document(broken, now=NOW)
    assert caught.value.code == "trust_list_invalid"


def test_a_key_is_trusted_only_for_its_own_use() -> None:
    license_key = TrustedKey(
        kid=sm2.key_id(CODE_KEY.public_key),
        public_key=CODE_KEY.public_key,
        status="active",
        activated_at=NOW - 60,
        use="license",
        owner="dept:sh-scjgj",
    )
    assert refusal(code(), lists(license_key)) == "code_forged"


def test_public_keys_travel_as_standard_pem() -> None:
    from tongsuopy.crypto.serialization import load_pem_public_key

    entry = document(trusted(CODE_KEY))["keys"][0]
    assert entry["public_key_pem"].startswith("-----BEGIN PUBLIC KEY-----")
    load_pem_public_key(entry["public_key_pem"].encode())  # a second implementation reads it
    assert sm2.public_key_from_pem(entry["public_key_pem"]) == CODE_KEY.public_key
