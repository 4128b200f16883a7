"""Properties of license verification: any JSON value gets a Verification (never an exception),
a genuine license verifies, any change to what was signed makes it invalid, and a license QR is
genuine or a ValueError."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from hypothesis import assume, example, given
from hypothesis import strategies as st

from tests.strategies import (
    FAST,
    SLOW,
    STRUCTURED,
    any_text,
    attempt,
    json_values,
    mutated,
    shanghai_trusting,
)
from tongban.crypto import jsonsig, sm2
from tongban.licenses.document import (
    FORMAT,
    epoch_of,
    qr_payload,
    verify_document,
    verify_qr_payload,
)
from tongban.licenses.identifier import LicenseIdentifier

TODAY = date(2027, 1, 1)
NOW = int(datetime(2027, 1, 1, tzinfo=UTC).timestamp())
SIGNER = sm2.Sm2Signer(sm2.KeyPair.generate())
KID = sm2.key_id(SIGNER.public_key)
LISTS = shanghai_trusting(
    SIGNER.public_key, NOW, NOW - 86400 * 400, use="license", owner="dept:sh-gaj"
)
IDENTIFIER = LicenseIdentifier("11310000T00000003L001", "11310000T00000003L", "00000009", 1)


def license_document(content: Any = None, valid_until: str | None = None) -> dict[str, Any]:
    return jsonsig.sign(
        {
            "format": FORMAT,
            "identifier": str(IDENTIFIER),
            "type": {"key": "resident_id_card", "name": "居民身份证"},
            "issuer": {"department": "sh-gaj", "name": "公安局", "code": IDENTIFIER.issuer},
            "holder": {"name": "王芳", "id": "310101194803124297"},
            "content": content or {},
            "signed_at": "2026-06-01T00:00:00Z",
            "valid_from": "2026-06-01",
            "valid_until": valid_until,
        },
        KID,
        SIGNER,
    )


GENUINE = license_document({"person.address": "上海市某路1号"}, "2030-12-31")


def _body(document: Any) -> Any:
    return {k: v for k, v in document.items() if k != "signature"}


def with_signature_value(value: str) -> dict[str, Any]:
    return {**GENUINE, "signature": {**GENUINE["signature"], "value": value}}


def der_b64(r: int, s: int) -> str:
    return base64.b64encode(encode_dss_signature(r, s)).decode()


@STRUCTURED
@given(
    json_values()
    | st.builds(lambda d: {"format": FORMAT, **d}, st.dictionaries(any_text, json_values(4)))
)
def test_any_json_value_gets_a_verification(document: Any) -> None:
    result = verify_document(document, LISTS, today=TODAY)
    assert not result.valid and result.reason


@SLOW
@given(st.dictionaries(st.text(max_size=10), json_values(4), max_size=3), st.data())
def test_a_genuine_license_verifies(content: dict[str, Any], data: st.DataObject) -> None:
    try:
        document = license_document(content)
    except ValueError:  # rfc8785's domain errors: what JCS cannot write (NaN, 2^53 and past)
        assume(False)
    status = data.draw(st.sampled_from([None, "01"]))
    result = verify_document(document, LISTS, today=TODAY, status=status)
    assert result.valid, result.as_dict()
    assert all(c.ok for c in result.checks) and result.region == "310000"


@SLOW
@given(mutated(GENUINE))
# A DER integer past 256 bits: der_to_raw raised OverflowError, which nothing caught.
@example(with_signature_value(der_b64(2**300, 1)))
@example(with_signature_value(der_b64(1, 2**256)))
@example(with_signature_value("not base64!"))
@example({**GENUINE, "signature": None})
def test_any_change_to_a_signed_license_is_noticed(document: Any) -> None:
    result = verify_document(document, LISTS, today=TODAY, status="01")
    assert isinstance(result.as_dict(), dict)
    if isinstance(document, dict) and _body(document) != _body(GENUINE):
        assert not result.valid


@FAST
@given(st.integers(0, 253402300799))
def test_signed_at_round_trips(ts: int) -> None:
    text = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert epoch_of(text) == ts


@STRUCTURED
@given(json_values())
def test_epoch_of_anything_is_a_number_or_none(value: Any) -> None:
    assert epoch_of(value) is None or isinstance(epoch_of(value), int)


@SLOW
@given(st.data())
def test_a_license_qr_is_genuine_or_a_value_error(data: st.DataObject) -> None:
    payload = qr_payload(str(IDENTIFIER), KID, SIGNER)
    assert payload.isascii() and payload == payload.upper()  # QR alphanumeric mode
    assert verify_qr_payload(payload, LISTS) == (str(IDENTIFIER), LISTS["310000"].keys[KID])
    i = data.draw(st.integers(0, len(payload) - 1))
    other = data.draw(st.characters().filter(lambda c: c != payload[i]))
    changed = payload[:i] + other + payload[i + 1 :]
    try:
        identifier, _ = verify_qr_payload(changed, LISTS)
    except ValueError:
        return
    # Only the key id's case is free (it is looked up in lower case).
    assert identifier == str(IDENTIFIER) and changed.lower() == payload.lower()


@FAST
@given(any_text | st.builds(lambda a, b: f"TBL1:{a}:{b}:", any_text, any_text))
def test_any_qr_text_is_a_value_error(text: str) -> None:
    genuine, refused = attempt(ValueError, lambda: verify_qr_payload(text, LISTS))
    assert genuine is None and refused is not None
