"""Properties of trust lists and signed JSON: build -> load is the identity, any JSON value or
changed list is refused with TrustListRefused (never another error), and a signed document
verifies exactly when its signed members are the ones signed."""

from __future__ import annotations

from typing import Any

from hypothesis import assume, example, given
from hypothesis import strategies as st

from tests.strategies import SLOW, STRUCTURED, any_text, attempt, json_values, mutated
from tongban.crypto import es256, jsonsig, sm2
from tongban.crypto.trustlist import (
    TrustedKey,
    TrustListRefused,
    build_document,
    canonical,
    load_document,
)

NOW = 1_800_000_000
ROOT = sm2.Sm2Signer(sm2.KeyPair.generate())
CODE = sm2.KeyPair.generate()
_, P256 = es256.generate()
KEYS = (
    TrustedKey(
        sm2.key_id(CODE.public_key), CODE.public_key, "active", NOW - 3600, owner="region:310000"
    ),
    TrustedKey(
        sm2.key_id(P256),
        P256,
        "retired",
        NOW - 7200,
        NOW - 3600,
        use="sdjwt",
        owner="dept:sh-gaj",
        alg="ES256",
    ),
)
DOCUMENT = build_document(
    region_code="310000",
    region_name="上海市",
    keys=KEYS,
    root=ROOT,
    issued_at=NOW - 60,
    next_update=NOW + 3600,
)


def load(document: Any) -> Any:
    loaded, refused = attempt(TrustListRefused, lambda: load_document(document, now=NOW))
    assert refused is None or refused.code in ("trust_list_invalid", "trust_list_expired")
    return loaded


def test_build_then_load_is_the_identity() -> None:
    loaded = load_document(DOCUMENT, now=NOW)
    assert dict(loaded.keys) == {k.kid: k for k in KEYS}
    assert (loaded.region_code, loaded.region_name) == ("310000", "上海市")
    assert loaded.root_key == ROOT.public_key


@STRUCTURED
@given(json_values() | st.dictionaries(st.sampled_from(list(DOCUMENT)), json_values(4)))
def test_any_json_value_is_refused(document: Any) -> None:
    assert load(document) is None


def with_member(**members: Any) -> dict[str, Any]:
    return {**DOCUMENT, **members}


@SLOW
@given(mutated(DOCUMENT))
# A lone surrogate (JSON "\ud800") cannot be encoded as UTF-8 for the signature check: it was a
# UnicodeEncodeError; an SM2 key labelled ES256 was cryptography's UnsupportedAlgorithm.
@example(with_member(region_name="\ud800"))
@example(with_member(keys=[{**DOCUMENT["keys"][0], "alg": "ES256"}]))
@example(with_member(keys=[{**DOCUMENT["keys"][1], "alg": "SM2-SM3"}]))
@example(with_member(signature="zz"))
def test_a_changed_trust_list_is_refused(document: Any) -> None:
    loaded = load(document)
    if loaded is not None:
        # Loaded: then nothing that was signed changed.
        assert canonical(document) == canonical(DOCUMENT)


# -- signed JSON (licenses, status lists, federation messages) ------------------------------


SIGNED = jsonsig.sign({"format": "x/1", "body": {"a": [1, "二", None]}, "n": 7}, "k1", ROOT)


@SLOW
@given(st.dictionaries(any_text, json_values(6), max_size=5))
def test_sign_then_verify(document: dict[str, Any]) -> None:
    try:
        signed = jsonsig.sign(document, "kid", ROOT)
    except ValueError:  # RFC 8785 cannot write it (NaN, 2^53, a lone surrogate): no signature
        assert jsonsig.signed_or_empty(document) == b""
        return
    assert jsonsig.verifies(signed, ROOT.public_key)
    assert jsonsig.signature_of(signed) is not None
    assert not jsonsig.verifies(signed, CODE.public_key)


@SLOW
@given(mutated(SIGNED))
@example({**SIGNED, "signature": {**SIGNED["signature"], "value": "MAYCAQECAQE="}})
def test_signed_json_verifies_only_as_signed(document: Any) -> None:
    assume(isinstance(document, dict))
    found = jsonsig.signature_of(document)
    assert found is None or (isinstance(found[0], str) and len(found[1]) == 64)
    ok = jsonsig.verifies(document, ROOT.public_key)
    body = {k: v for k, v in document.items() if k != "signature"}
    if body != {k: v for k, v in SIGNED.items() if k != "signature"}:
        assert not ok


@STRUCTURED
@given(json_values())
def test_signature_of_anything_is_a_pair_or_none(document: Any) -> None:
    if isinstance(document, dict):
        assert jsonsig.signature_of(document) is None
        assert jsonsig.verifies(document, ROOT.public_key) is False
