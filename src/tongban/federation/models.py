"""Tables of the federation: the peer regions we trust, what we agreed to recognize, the
messages we owe them (outbox) and have from them (inbox), and the consents behind data
shared between regions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tongban.crypto.service import register_encrypted
from tongban.db import Base, UTCDateTime, utcnow


class Peer(Base):
    """A peer region's node: where it answers, its pinned root key, and the last trust list
    (and license status list) fetched from it and checked."""

    __tablename__ = "federation_peers"

    region_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    url: Mapped[str] = mapped_column(String(500))
    # SM3 of the peer's root public key, compared out of band by the two administrators.
    root_fingerprint: Mapped[str] = mapped_column(String(64))
    trust_list: Mapped[dict[str, Any]] = mapped_column(JSON)
    trust_next_update: Mapped[datetime] = mapped_column(UTCDateTime)
    trust_fetched_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status_list: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    status_fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The worker's last attempt to fetch its lists (None: due now, e.g. after trust.changed).
    refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Whether we answer the peer's look-ups of a person's base record (人口库), not only of
    # licenses of the agreed types: an agreement of its own.
    share_records: Mapped[bool] = mapped_column(Boolean, default=False)
    # The peer as a principal here: the cases it hands in are made by this account, which
    # cannot log in.
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Agreement(Base):
    """互认: a license type of the peer that counts here as one of ours (and that we share
    with the peer for the same use): one row per pair of the agreed list."""

    __tablename__ = "federation_agreements"
    __table_args__ = (
        UniqueConstraint("peer_region", "local_type_key", name="uq_federation_agreements_local"),
        UniqueConstraint("peer_region", "peer_type_code", name="uq_federation_agreements_peer"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    peer_region: Mapped[str] = mapped_column(ForeignKey("federation_peers.region_code"))
    local_type_key: Mapped[str] = mapped_column(String(80))
    peer_type_code: Mapped[str] = mapped_column(String(21))
    peer_type_name: Mapped[str] = mapped_column(String(200))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutboxMessage(Base):
    """A message owed to a peer, written in the transaction of the change it tells of, and
    signed when sent. pending -> sent (the peer's signed receipt kept) | dead."""

    __tablename__ = "federation_outbox"
    __table_args__ = (
        UniqueConstraint("peer_region", "stream", "seq"),
        Index("ix_federation_outbox_due", "status", "next_attempt_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # the message id
    peer_region: Mapped[str] = mapped_column(String(6), index=True)
    type: Mapped[str] = mapped_column(String(40))
    stream: Mapped[str] = mapped_column(String(100))
    seq: Mapped[int] = mapped_column(Integer)
    body_enc: Mapped[str] = mapped_column(Text)  # personal data: encrypted at rest
    size: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A sender holds a message while it is on the wire; a crashed sender's claim runs out.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    receipt: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutStream(Base):
    """The last sequence number given to a stream of messages to a peer."""

    __tablename__ = "federation_out_streams"

    peer_region: Mapped[str] = mapped_column(String(6), primary_key=True)
    stream: Mapped[str] = mapped_column(String(100), primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)


class InboxMessage(Base):
    """A message (or request) received from a peer, stored as signed before it is applied.
    message: pending -> applied | failed (a dead letter); request: answered."""

    __tablename__ = "federation_inbox"
    __table_args__ = (
        UniqueConstraint("peer_region", "message_id"),
        Index("ix_federation_inbox_order", "status", "peer_region", "stream", "seq"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    peer_region: Mapped[str] = mapped_column(String(6))
    message_id: Mapped[str] = mapped_column(String(32))
    type: Mapped[str] = mapped_column(String(40))
    stream: Mapped[str] = mapped_column(String(100))
    seq: Mapped[int] = mapped_column(Integer)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the sender's created_at
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    envelope_enc: Mapped[str] = mapped_column(Text)  # the signed message: evidence
    # pending -> applied | failed (a dead letter) | skipped (an administrator moved past it);
    # a request: answered
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # after a failure
    last_error: Mapped[str | None] = mapped_column(Text)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reply_enc: Mapped[str | None] = mapped_column(Text)  # a request's signed answer


class InStream(Base):
    """How far a stream from a peer has been applied: seq n waits until n-1 is."""

    __tablename__ = "federation_in_streams"

    peer_region: Mapped[str] = mapped_column(String(6), primary_key=True)
    stream: Mapped[str] = mapped_column(String(100), primary_key=True)
    applied_seq: Mapped[int] = mapped_column(Integer, default=0)


class SharingConsent(Base):
    """A person's consent, given here, that this region fetch their licenses (and record)
    from a peer region for a purpose until a date; sent with every such request."""

    __tablename__ = "federation_consents"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    peer_region: Mapped[str] = mapped_column(String(6))
    with_record: Mapped[bool] = mapped_column(Boolean, default=False)
    purpose: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReceivedConsent(Base):
    """A peer's person's consent as this region has seen it: counted on each use, and
    refused once the peer says the person withdrew it."""

    __tablename__ = "federation_received_consents"
    __table_args__ = (UniqueConstraint("peer_region", "consent_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    peer_region: Mapped[str] = mapped_column(String(6))
    consent_id: Mapped[str] = mapped_column(String(32))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


register_encrypted(OutboxMessage, "body_enc", "federation.outbox")
register_encrypted(InboxMessage, "envelope_enc", "federation.inbox")
register_encrypted(InboxMessage, "reply_enc", "federation.reply")
