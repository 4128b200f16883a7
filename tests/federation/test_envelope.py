"""The signed message between regions, checked without a database or a network: every
refusal has its reason, and a receipt proves receipt only for its own message."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tongban.crypto import sm2
from tongban.crypto.trustlist import TrustedKey, TrustList, build_document, load_document
from tongban.federation import envelope as env
from tongban.federation.envelope import MessageRefused

NOW = int(time.time())
SENDER, RECEIVER = "310000", "320000"


def _trust(keys: list[TrustedKey], region: str = SENDER) -> TrustList:
    root = sm2.Sm2Signer(sm2.KeyPair.generate())
    document = build_document(
        region_code=region,
        region_name="上海市",
        keys=keys,
        root=root,
        issued_at=NOW - 10,
        next_update=NOW + 86400,
    )
    return load_document(document, now=NOW)


def _key(pair: sm2.KeyPair, **changes: Any) -> TrustedKey:
    fields: dict[str, Any] = {
        "kid": sm2.key_id(pair.public_key),
        "public_key": pair.public_key,
        "status": "active",
        "activated_at": NOW - 3600,
        "use": "federation",
        "owner": f"region:{SENDER}",
    }
    fields.update(changes)
    return TrustedKey(**fields)


@pytest.fixture(scope="module")
def pair() -> sm2.KeyPair:
    return sm2.KeyPair.generate()


def _message(pair: sm2.KeyPair, **changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "message_id": env.new_id(),
        "sender": SENDER,
        "recipient": RECEIVER,
        "type": "case.forward",
        "stream": "case:1",
        "seq": 1,
        "created_at": NOW,
        "signed_at": NOW,  # the module's clock, however long the run before it took
        "body": {"id": "1", "applicant": {"name": "周晓东"}},
    }
    fields.update(changes)
    return env.build(**fields, kid=sm2.key_id(pair.public_key), signer=sm2.Sm2Signer(pair))


def _refusal(document: dict[str, Any], trust: TrustList, **kw: Any) -> str:
    with pytest.raises(MessageRefused) as caught:
        env.verify(document, trust, recipient=kw.get("recipient", RECEIVER), now=NOW, max_age=3600)
    return caught.value.code


def test_a_signed_message_verifies_with_all_its_members(pair: sm2.KeyPair) -> None:
    document = _message(pair)
    got = env.verify(document, _trust([_key(pair)]), recipient=RECEIVER, now=NOW, max_age=3600)
    assert (got.sender, got.recipient, got.type, got.stream, got.seq) == (
        SENDER,
        RECEIVER,
        "case.forward",
        "case:1",
        1,
    )
    assert got.body["applicant"]["name"] == "周晓东"
    assert not got.is_request


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"body": {"id": "2"}}, "message_signature_invalid"),
        ({"seq": 2}, "message_signature_invalid"),
        ({"stream": "case:9"}, "message_signature_invalid"),
        ({"type": "case.status"}, "message_signature_invalid"),
    ],
)
def test_any_member_changed_after_signing_is_refused(
    pair: sm2.KeyPair, change: dict[str, Any], reason: str
) -> None:
    document = {**_message(pair), **change}
    assert _refusal(document, _trust([_key(pair)])) == reason


def test_a_message_for_another_region_is_refused(pair: sm2.KeyPair) -> None:
    assert _refusal(_message(pair), _trust([_key(pair)]), recipient="330000") == (
        "message_misaddressed"
    )


def test_a_message_checked_against_another_regions_list_is_refused(pair: sm2.KeyPair) -> None:
    assert _refusal(_message(pair), _trust([_key(pair)], region="340000")) == "peer_unknown"


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ({}, None),
        ({"use": "code"}, "message_key_unknown"),  # a code key signs codes, not messages
        ({"owner": "dept:sh-gaj"}, "message_key_unknown"),
        ({"status": "revoked", "revoked_at": NOW - 60}, "message_key_revoked"),
        ({"activated_at": NOW + 3600}, "message_key_unknown"),  # made before the key existed
        ({"status": "retired", "retired_at": NOW - 3600}, "message_key_unknown"),
        ({"status": "retired", "retired_at": NOW - 10}, None),  # made while it was active
    ],
)
def test_the_key_must_be_a_current_federation_key_of_the_sender(
    pair: sm2.KeyPair, key: dict[str, Any], reason: str | None
) -> None:
    trust = _trust([_key(pair, **key)])
    if reason is None:
        env.verify(_message(pair), trust, recipient=RECEIVER, now=NOW, max_age=3600)
    else:
        assert _refusal(_message(pair), trust) == reason


def test_a_key_missing_from_the_current_list_stops_verifying(pair: sm2.KeyPair) -> None:
    other = sm2.KeyPair.generate()
    assert _refusal(_message(pair), _trust([_key(other)])) == "message_key_unknown"


@pytest.mark.parametrize(
    ("created", "signed", "reason"),
    [
        (NOW - 7200, NOW, "message_too_old"),
        (NOW + 900, NOW + 900, "message_from_future"),
        (NOW, NOW - 900, "message_malformed"),  # signed before it was written
    ],
)
def test_messages_outside_their_time_are_refused(
    pair: sm2.KeyPair, created: int, signed: int, reason: str
) -> None:
    trust = _trust([_key(pair, activated_at=NOW - 10_000)])
    assert _refusal(_message(pair, created_at=created, signed_at=signed), trust) == reason


def test_a_message_written_before_a_rotation_is_checked_by_when_it_was_signed(
    pair: sm2.KeyPair,
) -> None:
    """Written an hour ago under the old key, signed now by the new one: taken."""
    new_key = _key(pair, activated_at=NOW - 60)
    document = _message(pair, created_at=NOW - 3600, signed_at=NOW)
    env.verify(document, _trust([new_key]), recipient=RECEIVER, now=NOW, max_age=7200)


@pytest.mark.parametrize(
    "change",
    [
        {"id": "not-hex"},
        {"seq": True},
        {"seq": -1},
        {"seq": "1"},
        {"body": ["a", "list"]},
        {"from": "31000"},
        {"type": "Case.Forward"},
        {"created_at": "yesterday"},
        {"signature": {"alg": "RSA", "key_id": "x", "value": "AA=="}},
        {"format": "tongban-message/2"},
    ],
)
def test_malformed_messages_are_refused_before_any_signature_check(
    pair: sm2.KeyPair, change: dict[str, Any]
) -> None:
    document = {**_message(pair), **change}
    assert _refusal(document, _trust([_key(pair)])) == "message_malformed"


def test_a_receipt_proves_receipt_of_its_own_message_only(pair: sm2.KeyPair) -> None:
    receiver_key = sm2.KeyPair.generate()
    receiver_trust = _trust([_key(receiver_key, owner=f"region:{RECEIVER}")], region=RECEIVER)
    message = env.parse(_message(pair))
    receipt = env.receipt(
        message,
        result="accepted",
        at=NOW,
        kid=sm2.key_id(receiver_key.public_key),
        signer=sm2.Sm2Signer(receiver_key),
    )
    assert env.receipt_valid(receipt, receiver_trust, message_id=message.id, receiver=RECEIVER)
    assert not env.receipt_valid(
        receipt, receiver_trust, message_id=env.new_id(), receiver=RECEIVER
    )
    assert not env.receipt_valid(
        {**receipt, "result": "duplicate"},
        receiver_trust,
        message_id=message.id,
        receiver=RECEIVER,
    )
    forged = env.receipt(
        message,
        result="accepted",
        at=NOW,
        kid=sm2.key_id(pair.public_key),
        signer=sm2.Sm2Signer(pair),
    )  # the sender cannot acknowledge its own message
    assert not env.receipt_valid(forged, receiver_trust, message_id=message.id, receiver=RECEIVER)


def test_which_refusals_are_worth_retrying() -> None:
    assert env.is_permanent("message_signature_invalid")
    assert env.is_permanent("message_malformed")
    assert not env.is_permanent("message_key_unknown")  # the receiver may not have our new key
    assert not env.is_permanent("peer_unknown")  # its administrator may add us yet
    assert not env.is_permanent("validation_failed")  # not a refusal of ours: retried
