"""The signed message regions exchange, and the receipt that acknowledges it (pure: no
database, no network).

    {"format": "tongban-message/1", "id": "<32 hex>", "from": "310000", "to": "320000",
     "type": "case.forward", "stream": "case:<ref>", "seq": 1, "created_at": "...Z",
     "signed_at": "...Z", "body": {...},
     "signature": {"alg": "SM2-SM3", "key_id": "...", "value": "<base64 DER>"}}

The signature follows the rule of licenses (`crypto.jsonsig`): SM2-SM3 over the RFC 8785 form
without `signature`, by the sender's `federation` key, which its trust list publishes with
owner `region:<code>`. A receiver trusts a key only while the sender's current list holds it,
only if it was active when the message was signed, and never once it is revoked. A message is
signed when it is sent, each time, by the key active then: `created_at` is when it was
written (its age), `signed_at` when this copy was signed (a message written before a key
rotation and sent after it is signed by the new key).

`id` makes receipt idempotent (a retry is answered "duplicate"); `stream` and `seq` order the
messages about one thing (a case): the receiver applies seq n only after n-1. A request (a
question answered at once: a license check, a data look-up) has the same form with stream ""
and seq 0, and its answer is a message of type `reply` naming it in `body.in_reply_to`.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tongban.crypto import jsonsig, sm2
from tongban.crypto.trustlist import TrustList
from tongban.errors import DomainError

FORMAT = "tongban-message/1"
RECEIPT_FORMAT = "tongban-receipt/1"
FEDERATION = "federation"  # the signing keys' purpose
# Matched whole (fullmatch): `$` would let a trailing newline through.
_ID_RE = re.compile(r"[0-9a-f]{32}")
_TYPE_RE = re.compile(r"[a-z][a-z_]*(\.[a-z][a-z_]*)*")
_REGION_RE = re.compile(r"[0-9]{6}")  # not isdigit(): that takes full-width digits too
# Keys were active within this much of what a message says (clocks differ a little).
KEY_PERIOD_SLACK = 300


# code -> (status, title, English title, whether a retry can ever succeed)
REFUSALS: dict[str, tuple[int, str, str, bool]] = {
    "message_malformed": (422, "消息格式不正确", "The message is malformed", False),
    "message_misaddressed": (
        422,
        "消息不是发给本地区的",
        "The message is for another region",
        False,
    ),
    "message_too_old": (422, "消息已超过有效期", "The message is too old to accept", False),
    "message_from_future": (
        422,
        "消息时间晚于本地时钟",
        "The message is dated in the future",
        True,
    ),
    "message_too_large": (413, "消息过大", "The message is too large", False),
    "message_duplicate": (409, "该请求已答复过", "This request was answered already", False),
    "peer_unknown": (403, "未与该地区建立互信", "This region does not trust the sender", True),
    "peer_trust_expired": (
        503,
        "对方地区的信任列表已过期，正在更新",
        "The sender's trust list is out of date",
        True,
    ),
    "message_key_unknown": (
        401,
        "签名密钥不在对方地区现行信任列表中",
        "The signing key is not in the sender's current trust list",
        True,
    ),
    "message_key_revoked": (401, "签名密钥已被吊销", "The signing key was revoked", False),
    "message_signature_invalid": (401, "消息签名无效", "The message's signature is invalid", False),
}


class MessageRefused(DomainError):
    """Why a message was not taken; `permanent` says whether the sender should stop trying."""

    def __init__(self, code: str, detail: str = "") -> None:
        status, title, title_en, retryable = REFUSALS[code]
        super().__init__(code=code, title=title, title_en=title_en, status=status, detail=detail)
        self.permanent = not retryable


def is_permanent(code: str) -> bool:
    """Whether a refusal a peer answered with can never turn into acceptance by retrying."""
    found = REFUSALS.get(code)
    return found is not None and not found[3]


@dataclass(frozen=True)
class Envelope:
    id: str
    sender: str
    recipient: str
    type: str
    stream: str
    seq: int
    created_at: int
    body: dict[str, Any]
    key_id: str
    signed_at: int = 0

    @property
    def is_request(self) -> bool:
        return self.seq == 0


def new_id() -> str:
    return secrets.token_hex(16)


def iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch(text: Any) -> int | None:
    try:
        return int(
            datetime.strptime(str(text), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
        )
    except ValueError:
        return None


def build(
    *,
    message_id: str,
    sender: str,
    recipient: str,
    type: str,
    stream: str,
    seq: int,
    created_at: int,
    body: Mapping[str, Any],
    kid: str,
    signer: sm2.Signer,
    signed_at: int | None = None,
) -> dict[str, Any]:
    document = {
        "format": FORMAT,
        "id": message_id,
        "from": sender,
        "to": recipient,
        "type": type,
        "stream": stream,
        "seq": seq,
        "created_at": iso(created_at),
        "signed_at": iso(signed_at if signed_at is not None else int(time.time())),
        "body": dict(body),
    }
    return jsonsig.sign(document, kid, signer)


def parse(document: Any) -> Envelope:
    """The envelope's members, checked for form only (no signature yet)."""
    if not isinstance(document, Mapping) or document.get("format") != FORMAT:
        raise MessageRefused("message_malformed", "not a tongban-message/1 document")
    message_id, sender, recipient = document.get("id"), document.get("from"), document.get("to")
    kind, stream, seq = document.get("type"), document.get("stream"), document.get("seq")
    created_at = epoch(document.get("created_at"))
    signed_at = epoch(document.get("signed_at"))
    body = document.get("body")
    found = jsonsig.signature_of(document)
    problems = [
        name
        for name, ok in (
            ("id", isinstance(message_id, str) and bool(_ID_RE.fullmatch(message_id))),
            ("from", isinstance(sender, str) and bool(_REGION_RE.fullmatch(sender))),
            ("to", isinstance(recipient, str) and bool(_REGION_RE.fullmatch(recipient))),
            ("type", isinstance(kind, str) and bool(_TYPE_RE.fullmatch(kind)) and len(kind) <= 40),
            ("stream", isinstance(stream, str) and len(stream) <= 100),
            ("seq", isinstance(seq, int) and not isinstance(seq, bool) and 0 <= seq < 2**31),
            ("created_at", created_at is not None),
            ("signed_at", signed_at is not None),
            ("body", isinstance(body, Mapping)),
            ("signature", found is not None),
        )
        if not ok
    ]
    if problems:
        raise MessageRefused("message_malformed", "bad members: " + ", ".join(problems))
    assert found is not None
    assert created_at is not None
    assert signed_at is not None
    assert isinstance(body, Mapping)
    return Envelope(
        id=str(message_id),
        sender=str(sender),
        recipient=str(recipient),
        type=str(kind),
        stream=str(stream),
        seq=int(str(seq)),
        created_at=created_at,
        body=dict(body),
        key_id=found[0],
        signed_at=signed_at,
    )


def verify(
    document: Mapping[str, Any],
    trust: TrustList,
    *,
    recipient: str,
    now: int,
    max_age: int,
    skew: int = KEY_PERIOD_SLACK,
) -> Envelope:
    """Every check of a message against its sender's current trust list, in order; the first
    failure raises MessageRefused."""
    envelope = parse(document)
    if envelope.recipient != recipient:
        raise MessageRefused("message_misaddressed", f"for {envelope.recipient}")
    if envelope.sender != trust.region_code:
        raise MessageRefused("peer_unknown", f"no trust list for {envelope.sender}")
    if max(envelope.created_at, envelope.signed_at) > now + skew:
        raise MessageRefused("message_from_future", iso(envelope.signed_at))
    if envelope.created_at < now - max_age or envelope.signed_at < now - max_age:
        raise MessageRefused("message_too_old", iso(envelope.created_at))
    if envelope.signed_at < envelope.created_at - skew:
        raise MessageRefused("message_malformed", "signed before it was written")
    key = trust.keys.get(envelope.key_id)
    if key is None or key.use != FEDERATION or key.owner != f"region:{envelope.sender}":
        raise MessageRefused("message_key_unknown", f"key {envelope.key_id}")
    if key.status == "revoked":
        raise MessageRefused("message_key_revoked", f"key {envelope.key_id}")
    active = key.activated_at - KEY_PERIOD_SLACK <= envelope.signed_at and (
        key.retired_at is None or envelope.signed_at <= key.retired_at + KEY_PERIOD_SLACK
    )
    if not active:
        raise MessageRefused("message_key_unknown", f"key {envelope.key_id} was not active then")
    if not jsonsig.verifies(document, key.public_key):
        raise MessageRefused("message_signature_invalid", f"message {envelope.id}")
    return envelope


def receipt(
    envelope: Envelope, *, result: str, at: int, kid: str, signer: sm2.Signer
) -> dict[str, Any]:
    """The receiver's signed acknowledgement: this message is stored here (or already was)."""
    document = {
        "format": RECEIPT_FORMAT,
        "message_id": envelope.id,
        "from": envelope.recipient,
        "to": envelope.sender,
        "received_at": iso(at),
        "result": result,
    }
    return jsonsig.sign(document, kid, signer)


def receipt_valid(document: Any, trust: TrustList, *, message_id: str, receiver: str) -> bool:
    """Whether a receipt is the receiver's, for this message, signed by a federation key."""
    if not isinstance(document, Mapping) or document.get("format") != RECEIPT_FORMAT:
        return False
    if document.get("message_id") != message_id or document.get("from") != receiver:
        return False
    found = jsonsig.signature_of(document)
    key = trust.keys.get(found[0]) if found else None
    return (
        key is not None
        and key.use == FEDERATION
        and key.owner == f"region:{receiver}"
        and key.status != "revoked"
        and jsonsig.verifies(document, key.public_key)
    )
