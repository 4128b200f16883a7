"""Properties of SD-JWT verification: any string is refused with SdJwtRefused or is a genuine
presentation; issue -> present -> verify shows exactly the fields disclosed; a presentation that
verifies is the issuer's credential, character for character, with some of its disclosures."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from tests.strategies import (
    FAST,
    SLOW,
    STRUCTURED,
    any_text,
    attempt,
    json_values,
    shanghai_trusting,
)
from tongban.crypto import es256, sm2
from tongban.licenses import sdjwt

NOW = 1_800_000_000
PRIVATE, PUBLIC = es256.generate()
KEY = es256.private_key(PRIVATE)
KID = sm2.key_id(PUBLIC)
LISTS = shanghai_trusting(PUBLIC, NOW, NOW - 60, use="sdjwt", owner="dept:sh-gaj", alg="ES256")
HEADER = {"alg": "ES256", "typ": "dc+sd-jwt", "kid": KID}


def b64(value: Any) -> str:
    return sdjwt.b64url(json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass"))


def signed_jwt(payload: Any, header: Any = HEADER) -> str:
    signing_input = b64(header) + "." + b64(payload)
    return signing_input + "." + sdjwt.b64url(es256.sign(KEY, signing_input.encode()))


def refused_or_result(presentation: str) -> dict[str, Any] | None:
    result, refused = attempt(
        sdjwt.SdJwtRefused, lambda: sdjwt.verify(presentation, LISTS, now=NOW)
    )
    assert refused is None or refused.code.startswith("sd_jwt_")
    return result


# A field may not be called like a claim the issuer makes in the clear (verify refuses that).
CLEAR = {"holder_name", "holder_id", "iss", "iat", "exp", "vct", "license", "_sd", "_sd_alg"}
field_names = st.text("abcdefghijklmnopqrstuvwxyz_.", min_size=1, max_size=12).filter(
    lambda n: n not in CLEAR
)
documents = st.builds(
    lambda name, number, content: {
        "identifier": "1.2.156.3005.2.11310000T00000003L001.11310000T00000003L.00000009.001.X",
        "type": {"key": "resident_id_card", "name": "居民身份证"},
        "issuer": {"department": "sh-gaj", "name": "公安局"},
        "valid_until": None,
        "holder": {"name": name, "id": number},
        "content": content,
    },
    st.text(min_size=1, max_size=8),
    st.text("0123456789X", min_size=18, max_size=18),
    st.dictionaries(field_names, json_values(6), max_size=4),
)


def _encodable(document: Any) -> bool:
    """Lone surrogates cannot be issued (UTF-8 has no form for them); the registry holds none."""
    try:
        json.dumps(document, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return False
    return True


@SLOW
@given(documents, st.data())
def test_issue_present_verify_shows_exactly_what_was_disclosed(
    document: dict[str, Any], data: st.DataObject
) -> None:
    claims = {
        "holder_name": document["holder"]["name"],
        "holder_id": document["holder"]["id"],
        **document["content"],
    }
    assume(_encodable(document))
    shown = data.draw(st.sets(st.sampled_from(sorted(claims))))
    credential = sdjwt.issue(document, KID, KEY, now=NOW, ttl=600)
    result = sdjwt.verify(sdjwt.present(credential, shown), LISTS, now=NOW)
    assert result["disclosed"].keys() == shown
    for name in shown:
        # Through JSON and back: NaN stays NaN only by identity, so compare the JSON texts.
        assert json.dumps(result["disclosed"][name]) == json.dumps(claims[name])
    assert result["license"]["identifier"] == document["identifier"]
    assert result["issuer"] == "dept:sh-gaj" and result["key_id"] == KID


@SLOW
@given(documents, st.data())
def test_a_verified_presentation_is_the_issuers_credential(
    document: dict[str, Any], data: st.DataObject
) -> None:
    assume(_encodable(document))
    credential = sdjwt.issue(document, KID, KEY, now=NOW, ttl=600)
    presentation = sdjwt.present(credential, ["holder_name"])
    edit = data.draw(
        st.tuples(st.integers(0, len(presentation) - 1), st.sampled_from("!=.~ A_-\n中"))
        | st.tuples(st.integers(0, len(presentation) - 1), st.just(""))
    )
    i, new = edit
    changed = presentation[:i] + new + presentation[i + 1 :]
    assume(changed != presentation)
    result = refused_or_result(changed)
    if result is not None:
        # Only a disclosure dropped (a valid presentation of fewer fields) may still verify.
        jwt = changed.split("~")[0]
        assert jwt == presentation.split("~")[0]
        assert set(changed.split("~")[1:-1]) <= set(presentation.split("~")[1:-1])


@FAST
@given(any_text | st.builds("~".join, st.lists(any_text, max_size=4)))
@example("not a presentation")
@example("a.b.c~")
@example(
    sdjwt.b64url(b"[" * 5000) + ".e30.AA~"
)  # a header nested past the JSON decoder's recursion limit
def test_any_string_is_refused_with_sd_jwt_refused(text: str) -> None:
    assert refused_or_result(text) is None


@STRUCTURED
@given(
    json_values() | st.just(HEADER) | st.builds(lambda k: {**HEADER, "kid": k}, json_values(3)),
    json_values()
    | st.dictionaries(st.sampled_from(["iss", "exp", "_sd", "_sd_alg"]), json_values(3)),
    st.binary(max_size=70),
    st.lists(any_text, max_size=3),
)
def test_unsigned_structures_are_refused(
    header: Any, payload: Any, signature: bytes, disclosures: list[str]
) -> None:
    jwt = b64(header) + "." + b64(payload) + "." + sdjwt.b64url(signature)
    assert refused_or_result("~".join([jwt, *disclosures, ""])) is None


claims_members = st.fixed_dictionaries(
    {},
    optional={
        "iss": st.just("dept:sh-gaj") | json_values(2),
        "exp": st.just(NOW + 60) | json_values(2),
        "iat": st.just(NOW) | json_values(2),
        "_sd_alg": st.just("sha-256") | json_values(2),
        "_sd": json_values(4),
        "license": json_values(3),
    },
)


@SLOW
@given(
    claims_members, st.lists(json_values(5).map(json.dumps) | any_text, max_size=3), st.booleans()
)
@example({"iss": "dept:sh-gaj", "exp": NOW + 60, "_sd_alg": "sha-256", "_sd": 5}, [], True)
@example({"iss": "dept:sh-gaj", "exp": NOW + 60, "_sd_alg": "sha-256", "_sd": [[1]]}, [], True)
@example({"iss": "dept:sh-gaj", "exp": NOW + 60, "_sd_alg": "sha-256"}, ["[" * 5000], True)
def test_whatever_a_trusted_key_signs_is_read_or_refused(
    payload: dict[str, Any], disclosed: list[str], sign_digests: bool
) -> None:
    """Past the signature, too, only SdJwtRefused: the disclosures are any text (not always
    JSON [salt, name, value]) whose digests the issuer signed."""
    disclosures = [sdjwt.b64url(d.encode("utf-8", "surrogatepass")) for d in disclosed]
    if sign_digests and "_sd" not in payload:
        payload = {**payload, "_sd": [sdjwt._digest(d) for d in disclosures]}
    refused_or_result("~".join([signed_jwt(payload), *disclosures, ""]))


def test_a_signature_with_characters_added_is_refused() -> None:
    credential = sdjwt.issue(
        {
            "identifier": "x",
            "type": {"key": "k", "name": "n"},
            "issuer": {"department": "sh-gaj", "name": "公安局"},
            "valid_until": None,
            "holder": {"name": "王芳", "id": "310101194803124297"},
            "content": {},
        },
        KID,
        KEY,
        now=NOW,
        ttl=600,
    )
    jwt = credential.split("~")[0]
    assert sdjwt.verify(jwt + "~", LISTS, now=NOW)
    # The lenient base64url decoder dropped characters outside its alphabet, so these were
    # taken as the genuine signature.
    for forged in (jwt[:-5] + "!" + jwt[-5:], jwt + "=", jwt[:-5] + "\n" + jwt[-5:]):
        with pytest.raises(sdjwt.SdJwtRefused):
            sdjwt.verify(forged + "~", LISTS, now=NOW)


@FAST
@given(st.binary(max_size=80))
def test_base64url_round_trips_with_one_spelling(data: bytes) -> None:
    text = sdjwt.b64url(data)
    assert sdjwt.unb64url(text) == data
    assert base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)) == data
