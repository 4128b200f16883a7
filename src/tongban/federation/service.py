"""Messages between regions: written to the outbox with the change they tell of, sent by the
worker until the peer's signed receipt is in (at least once), taken once by the receiver
(message ids), applied in order per stream, and kept as dead letters an administrator can
replay when they cannot be delivered or applied. Requests (questions answered at once) go
the same signed way and their answers are kept, so a repeated request gets the same answer.

Sending never holds a transaction open while on the wire: a message is claimed (its attempt
counted, committed), posted, and its outcome recorded in a second transaction. A sender that
dies between the two leaves a claim that runs out, and the message goes again; the receiver
answers "duplicate" and applies nothing twice.
"""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, func, literal, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from tongban.audit.service import record
from tongban.common.logging import mask_text
from tongban.common.regions import region_name
from tongban.crypto.trustlist import TrustList
from tongban.db import utcnow
from tongban.errors import DomainError, NotFound
from tongban.federation import envelope as env
from tongban.federation import handlers
from tongban.federation.envelope import Envelope, MessageRefused
from tongban.federation.models import InboxMessage, InStream, OutboxMessage, OutStream, Peer
from tongban.federation.peers import (
    Federation,
    PeerUnavailable,
    Sessions,
    active_peer,
    fetch_trust_list,
    peer_trust,
    refresh_for_unknown_key,
)
from tongban.federation.transport import TransportError
from tongban.licenses.service import Registry

log = logging.getLogger("tongban.federation")

OUTBOX_FIELD = "federation.outbox"
INBOX_FIELD = "federation.inbox"
REPLY_FIELD = "federation.reply"
MAX_APPLY_ATTEMPTS = 10  # with the backoff, a few minutes before a message is a dead letter
REQUEST_FRESH_SECONDS = 300  # a request is answered at once; an older one is a replay


# -- writing -----------------------------------------------------------------------------------


def enqueue(
    session: Session,
    reg: Registry,
    peer_region: str,
    kind: str,
    stream: str,
    body: Any,
    *,
    inline_bytes: int = 0,
) -> OutboxMessage:
    """A message to a peer, in the caller's transaction: it goes if and only if the change
    it tells of is committed. Messages of one stream are numbered in the order written. A
    peer we stopped trusting still gets its messages written (they wait, and die of age, unless
    it is trusted again): what happens here must not fail because of it. `inline_bytes`: the
    files the message will carry inline when it is sent (base64 makes them a third larger)."""
    if session.get(Peer, peer_region) is None:
        raise DomainError(
            code="peer_not_trusted",
            title=f"未与{region_name(peer_region)}建立互信，暂不能跨省转交",
            title_en=f"Region {peer_region} is not a trusted peer: nothing can be sent to it",
            status=409,
        )
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    size = len(text.encode())
    if size + inline_bytes * 4 // 3 > reg.settings.federation_max_message_mb << 20:
        raise DomainError(
            code="message_too_large",
            title="材料过大，无法网上转交，请联系窗口",
            title_en="Too large to send to the other region (its papers included)",
            status=413,
            detail=f"{size + inline_bytes} bytes",
        )
    row = OutboxMessage(
        id=env.new_id(),
        peer_region=peer_region,
        type=kind,
        stream=stream,
        seq=_next_seq(session, peer_region, stream),
        body_enc=reg.keyring.encrypt(session, OUTBOX_FIELD, text),
        size=size,
        status="pending",
        attempts=0,
        next_attempt_at=utcnow(),
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    from tongban.federation.worker import wake_after_commit  # the worker imports this module

    wake_after_commit(session)
    return row


def _next_seq(session: Session, peer_region: str, stream: str) -> int:
    for _ in range(3):
        value = session.execute(
            update(OutStream)
            .where(OutStream.peer_region == peer_region, OutStream.stream == stream)
            .values(last_seq=OutStream.last_seq + 1)
            .returning(OutStream.last_seq)
        ).scalar()
        if value is not None:
            return int(value)
        try:
            with session.begin_nested():
                session.add(OutStream(peer_region=peer_region, stream=stream, last_seq=1))
                session.flush()
            return 1
        except IntegrityError:
            continue  # another transaction opened the stream a moment ago
    raise RuntimeError("could not number a message")


# -- sending -----------------------------------------------------------------------------------


@dataclass
class SendReport:
    sent: int = 0
    retried: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)


# Messages to one peer posted together: one request, one transaction each side to store them.
BATCH = 50


@dataclass(frozen=True)
class _Batch:
    peer_region: str
    url: str
    documents: list[dict[str, Any]]  # signed, in the order they were written
    given_up: list[str]  # claimed for a peer no longer trusted: dead at once


Outcome = tuple[str, str | None, dict[str, Any] | None]  # outcome, what went wrong, receipt


def send_pending(sessions: Sessions, fed: Federation, limit: int = 2000) -> SendReport:
    """One pass over the due messages, oldest first, in batches per peer. A peer that cannot
    be reached is left alone for the rest of the pass (its messages wait their backoff)."""
    report = SendReport(dead=_expire(sessions, fed))
    tried: set[str] = set()
    down: set[str] = set()
    while len(tried) < limit:
        batch = _claim_batch(sessions, fed, tried, down)
        if batch is None:
            break
        outcomes: dict[str, Outcome] = dict.fromkeys(
            batch.given_up, ("dead", "the peer is no longer trusted", None)
        )
        if batch.documents:
            outcomes.update(_post_batch(sessions, fed, batch))
        tried.update(outcomes)
        if any(o[0] == "unreachable" for o in outcomes.values()):
            down.add(batch.peer_region)
        for message_id, final in _record_outcomes(sessions, fed, outcomes).items():
            if final == "sent":
                report.sent += 1
            elif final == "dead":
                report.dead += 1
            else:
                report.retried += 1
            detail = outcomes[message_id][1]
            if detail:
                report.errors.append(f"{batch.peer_region} {message_id[:8]}: {detail}")
    return report


def _expire(sessions: Sessions, fed: Federation) -> int:
    """Messages still owed after the dead-letter age (to a peer away that long, or one we no
    longer trust) become dead letters, visible and replayable."""
    limit = utcnow() - timedelta(hours=fed.settings.federation_dead_after_hours)
    with sessions() as session:
        old = select(OutboxMessage.id).where(
            OutboxMessage.status == "pending", OutboxMessage.created_at < limit
        )
        if session.scalar(old.limit(1)) is None:
            return 0  # the usual pass: read only (no write lock taken every second)
        expired = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status == "pending", OutboxMessage.created_at < limit)
            .values(
                status="dead",
                last_error=literal("not taken within the dead-letter age; last: ")
                + func.coalesce(OutboxMessage.last_error, "no answer"),
            )
            .execution_options(synchronize_session=False)
        )
        return int(getattr(expired, "rowcount", 0) or 0)


def _due(now: datetime) -> Any:
    return (
        (OutboxMessage.status == "pending")
        & (OutboxMessage.next_attempt_at <= now)
        & (OutboxMessage.claimed_until.is_(None) | (OutboxMessage.claimed_until < now))
    )


def _claim_batch(
    sessions: Sessions, fed: Federation, tried: set[str], down: set[str]
) -> _Batch | None:
    """The oldest due message's peer, and up to BATCH of its due messages, claimed (their
    attempt counted, committed) and signed; the batch stops short of the body limit."""
    now = utcnow()
    with sessions() as session:
        first = (
            select(OutboxMessage.peer_region)
            .join(Peer, Peer.region_code == OutboxMessage.peer_region)
            .where(_due(now), Peer.active.is_(True))
        )
        if tried:
            first = first.where(OutboxMessage.id.not_in(tried))
        if down:
            first = first.where(OutboxMessage.peer_region.not_in(down))
        peer_region = session.scalars(
            first.order_by(OutboxMessage.created_at, OutboxMessage.seq).limit(1)
        ).first()
        if peer_region is None:
            return None
        query = select(OutboxMessage).where(_due(now), OutboxMessage.peer_region == peer_region)
        if tried:
            query = query.where(OutboxMessage.id.not_in(tried))
        rows = list(
            session.scalars(
                query.order_by(OutboxMessage.created_at, OutboxMessage.seq)
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            )
        )
        if not rows:  # another worker holds them: leave this peer to it for this pass
            down.add(peer_region)
            return _Batch(peer_region, "", [], [])
        peer = active_peer(session, peer_region)
        until = now + timedelta(seconds=fed.settings.federation_timeout_seconds + 30)
        kid, signer = fed.signer(session)
        budget = (fed.settings.federation_max_message_mb << 20) // 2
        documents: list[dict[str, Any]] = []
        broken: list[str] = []
        for row in rows:
            try:
                with session.begin_nested():
                    document = _signed(session, fed, row, kid, signer)
            except Exception as exc:  # it can never be sent (a file it names is gone)
                row.status, row.last_error = "dead", f"cannot be prepared: {describe(exc)}"
                log.error("message %s to %s cannot be prepared: %s", row.id, peer_region, exc)
                broken.append(row.id)
                continue
            budget -= len(json.dumps(document, ensure_ascii=False).encode())
            if documents and budget < 0:
                break  # the next batch takes it
            row.attempts += 1
            row.claimed_until = until
            documents.append(document)
        tried.update(broken)
        return _Batch(peer_region, peer.url, documents, [])


def _signed(
    session: Session, fed: Federation, row: OutboxMessage, kid: str, signer: Any
) -> dict[str, Any]:
    body = json.loads(fed.registry.keyring.decrypt(session, OUTBOX_FIELD, row.body_enc))
    return env.build(
        message_id=row.id,
        sender=fed.region,
        recipient=row.peer_region,
        type=row.type,
        stream=row.stream,
        seq=row.seq,
        created_at=int(row.created_at.timestamp()),
        body=handlers.prepare(session, fed, row.type, body),
        kid=kid,
        signer=signer,
    )


def _post_batch(sessions: Sessions, fed: Federation, batch: _Batch) -> dict[str, Outcome]:
    """Post the batch; each message's outcome: sent (its receipt checks), retry,
    unreachable, or refused (a refusal no retry can change)."""
    ids = [str(d["id"]) for d in batch.documents]
    body = json.dumps(
        {"messages": batch.documents}, ensure_ascii=False, separators=(",", ":")
    ).encode()
    try:
        status, answer = fed.transport.post(
            f"{batch.url}/api/v1/federation/messages",
            body,
            timeout=fed.settings.federation_timeout_seconds,
        )
    except TransportError as exc:
        return dict.fromkeys(ids, ("unreachable", str(exc), None))
    results = answer.get("results") if isinstance(answer, dict) else None
    if status != 200 or not isinstance(results, list):
        return dict.fromkeys(ids, _refusal_outcome(status, answer))
    by_id = {str(r.get("id")): r for r in results if isinstance(r, dict)}
    out: dict[str, Outcome] = {}
    refreshed = False
    trust = _trust_of(sessions, batch.peer_region)
    for message_id in ids:
        result = by_id.get(message_id) or {}
        receipt = result.get("receipt")
        if isinstance(receipt, dict):
            ok = trust is not None and env.receipt_valid(
                receipt, trust, message_id=message_id, receiver=batch.peer_region
            )
            if not ok and not refreshed:
                # Signed by a key our copy of the peer's list lacks (it rotated): fetch it, once.
                refreshed = refresh_for_unknown_key(sessions, fed, batch.peer_region)
                trust = _trust_of(sessions, batch.peer_region)
                ok = trust is not None and env.receipt_valid(
                    receipt, trust, message_id=message_id, receiver=batch.peer_region
                )
            out[message_id] = (
                ("sent", None, receipt) if ok else ("retry", "the receipt does not verify", None)
            )
        else:
            error = result.get("error")
            said = error.get("status") if isinstance(error, dict) else None
            out[message_id] = _refusal_outcome(
                said if isinstance(said, int) and 400 <= said <= 599 else 500, error
            )
    return out


def _refusal_outcome(status: int, answer: Any) -> Outcome:
    code = str(answer.get("code")) if isinstance(answer, dict) else ""
    detail = str(answer.get("detail") or "") if isinstance(answer, dict) else ""
    said = f"HTTP {status} {code} {detail}".strip()
    if status == 413 or (status < 500 and env.is_permanent(code)):
        return "refused", said, None
    return ("unreachable" if status >= 500 else "retry"), said, None


def _trust_of(sessions: Sessions, peer_region: str) -> TrustList | None:
    try:
        with sessions() as session:
            return peer_trust(active_peer(session, peer_region), int(time.time()))
    except DomainError:  # the peer's list is out of date: the worker refreshes it
        return None


def _record_outcomes(
    sessions: Sessions, fed: Federation, outcomes: dict[str, Outcome]
) -> dict[str, str]:
    """Each message's outcome, in one transaction: its status after it."""
    finals: dict[str, str] = {}
    if not outcomes:
        return finals
    give_up_after = timedelta(hours=fed.settings.federation_dead_after_hours)
    with sessions() as session:
        rows = session.scalars(
            select(OutboxMessage).where(OutboxMessage.id.in_(list(outcomes))).with_for_update()
        )
        for row in rows:
            outcome, detail, receipt = outcomes[row.id]
            row.claimed_until = None
            row.last_error = detail[:1000] if detail else None
            if row.status != "pending":  # already given up
                finals[row.id] = row.status
            elif outcome == "sent":
                row.status, row.sent_at, row.receipt = "sent", utcnow(), receipt
                finals[row.id] = "sent"
            elif outcome in ("refused", "dead") or utcnow() - row.created_at > give_up_after:
                row.status = "dead"
                log.error("message %s to %s is a dead letter: %s", row.id, row.peer_region, detail)
                finals[row.id] = "dead"
            else:
                row.next_attempt_at = utcnow() + timedelta(seconds=backoff(fed, row.attempts))
                finals[row.id] = "pending"
    return finals


def describe(exc: BaseException) -> str:
    """What went wrong, for a dead letter's note and the log: the kind of error and where,
    never the values (a body's fields, a statement's parameters hold personal data)."""
    if isinstance(exc, ValidationError):
        where = "; ".join(
            ".".join(str(p) for p in e["loc"]) + f" {e['type']}" for e in exc.errors()
        )
        return f"ValidationError: {where}"[:500]
    if isinstance(exc, SQLAlchemyError):
        return f"{type(exc).__name__}: {type(getattr(exc, 'orig', None) or exc).__name__}"
    if isinstance(exc, DomainError):
        return f"{exc.code}: {exc.title_en}"[:500]
    return mask_text(f"{type(exc).__name__}: {exc}")[:500]


def backoff(fed: Federation, attempts: int) -> float:
    """1, 2, 4 ... seconds up to the cap, each shortened by up to a fifth at random so that
    the messages held back by an outage do not all come back at the same moment."""
    wait = min(float(fed.settings.federation_retry_cap_seconds), 2.0 ** max(0, attempts - 1))
    return wait * (1 - 0.2 * random.random())


# -- receiving ---------------------------------------------------------------------------------


def _checked(
    sessions: Sessions, fed: Federation, document: Any, known: dict[str, Peer] | None = None
) -> tuple[Envelope, Peer]:
    """The message checked against its sender's current trust list; a key we do not know
    makes us fetch the sender's list once before refusing. `known`: the peers already read
    for this batch."""
    parsed = env.parse(document)
    peer = (known or {}).get(parsed.sender)
    if peer is None:
        with sessions() as session:
            peer = session.get(Peer, parsed.sender)
            if peer is None or not peer.active:
                raise MessageRefused("peer_unknown", f"region {parsed.sender}")
        if known is not None:
            known[parsed.sender] = peer
    now = int(time.time())
    max_age = fed.settings.federation_message_max_age_days * 86400
    try:
        return env.verify(
            document, peer_trust(peer, now), recipient=fed.region, now=now, max_age=max_age
        ), peer
    except MessageRefused as exc:
        if exc.code not in ("message_key_unknown", "peer_trust_expired"):
            raise
        if not refresh_for_unknown_key(sessions, fed, peer.region_code):
            raise
    with sessions() as session:
        peer = active_peer(session, parsed.sender)
    return env.verify(
        document, peer_trust(peer, now), recipient=fed.region, now=now, max_age=max_age
    ), peer


def receive(sessions: Sessions, fed: Federation, document: Any) -> dict[str, Any]:
    """Take one message: checked, stored once, acknowledged with a signed receipt; a refusal
    raises (and is answered with its HTTP status)."""
    envelope, _ = _checked(sessions, fed, document)
    if envelope.is_request:
        raise MessageRefused("message_malformed", "a request goes to /federation/requests")
    return _take(sessions, fed, [(envelope, document)])[envelope.id]


def receive_many(sessions: Sessions, fed: Federation, documents: list[Any]) -> list[dict[str, Any]]:
    """Take a batch: each message checked on its own (a refusal is its own result), the
    taken ones stored in one transaction and acknowledged with signed receipts."""
    results: list[dict[str, Any]] = []
    taken: list[tuple[Envelope, Any]] = []
    known: dict[str, Peer] = {}
    for document in documents:
        try:
            envelope, peer = _checked(sessions, fed, document, known)
            known[peer.region_code] = peer  # refreshed if its list was fetched for this one
            if envelope.is_request:
                raise MessageRefused("message_malformed", "a request goes to /federation/requests")
        except DomainError as exc:  # this one refused: the others are taken on their own
            results.append({"id": _id_of(document), "error": _error_of(exc)})
            continue
        taken.append((envelope, document))
        results.append({"id": envelope.id})
    receipts = _take(sessions, fed, taken)
    for result in results:
        if "error" not in result:
            result["receipt"] = receipts[str(result["id"])]
    return results


def _take(
    sessions: Sessions, fed: Federation, taken: list[tuple[Envelope, Any]]
) -> dict[str, dict[str, Any]]:
    """Store, acknowledge (a receipt per message, by id), then apply the streams as far as
    they are in order (what cannot be applied yet, the worker applies later)."""
    stored = _store_all(sessions, fed, taken)
    with sessions() as session:
        kid, signer = fed.signer(session)
    now = int(time.time())
    receipts = {
        message_id: env.receipt(envelope, result=outcome, at=now, kid=kid, signer=signer)
        for message_id, (envelope, outcome) in stored.items()
    }
    streams = sorted({(e.sender, e.stream) for e, _ in taken})
    try:
        apply_ready(sessions, fed, streams)
    except Exception:  # stored and acknowledged: the worker applies it later
        log.exception("applying %d streams failed", len(streams))
    return receipts


def _id_of(document: Any) -> str | None:
    found = document.get("id") if isinstance(document, dict) else None
    return str(found)[:32] if found is not None else None


def _error_of(exc: DomainError) -> dict[str, Any]:
    return {"code": exc.code, "status": exc.status, "title_en": exc.title_en, "detail": exc.detail}


def _store_all(
    sessions: Sessions, fed: Federation, taken: list[tuple[Envelope, Any]]
) -> dict[str, tuple[Envelope, str]]:
    """Store the messages not seen before, in one transaction; (envelope, accepted |
    duplicate) by id. A race with another request taking the same message falls back to
    storing them one by one."""
    if not taken:
        return {}
    try:
        with sessions() as session:
            return _store(session, fed, taken)
    except IntegrityError:
        out: dict[str, tuple[Envelope, str]] = {}
        for item in taken:
            try:
                with sessions() as session:
                    out.update(_store(session, fed, [item]))
            except IntegrityError:
                out[item[0].id] = (item[0], "duplicate")
        return out


def _store(
    session: Session, fed: Federation, taken: list[tuple[Envelope, Any]]
) -> dict[str, tuple[Envelope, str]]:
    seen = set(
        session.execute(
            select(InboxMessage.peer_region, InboxMessage.message_id).where(
                InboxMessage.message_id.in_([e.id for e, _ in taken])
            )
        ).all()
    )
    out: dict[str, tuple[Envelope, str]] = {}
    rows = []
    for envelope, document in taken:
        if (envelope.sender, envelope.id) in seen or envelope.id in out:
            out[envelope.id] = (envelope, "duplicate")
            continue
        sealed = fed.registry.keyring.encrypt(
            session, INBOX_FIELD, json.dumps(document, ensure_ascii=False)
        )
        rows.append(
            InboxMessage(
                peer_region=envelope.sender,
                message_id=envelope.id,
                type=envelope.type,
                stream=envelope.stream,
                seq=envelope.seq,
                sent_at=datetime.fromtimestamp(envelope.created_at, UTC),
                received_at=utcnow(),
                envelope_enc=sealed,
                status="pending",
                attempts=0,
            )
        )
        out[envelope.id] = (envelope, "accepted")
    session.add_all(rows)
    session.flush()
    return out


def _inbox_row(session: Session, peer_region: str, message_id: str) -> InboxMessage | None:
    return session.scalars(
        select(InboxMessage).where(
            InboxMessage.peer_region == peer_region, InboxMessage.message_id == message_id
        )
    ).first()


# -- applying ----------------------------------------------------------------------------------


def apply_stream(sessions: Sessions, fed: Federation, peer_region: str, stream: str) -> int:
    """Apply one stream's messages that are next in order."""
    return apply_ready(sessions, fed, [(peer_region, stream)])


def apply_ready(sessions: Sessions, fed: Federation, streams: list[tuple[str, str]]) -> int:
    """Apply what is next in order on each stream, in one transaction: the streams' cursors
    locked together (in one order, so two appliers never wait on each other in a circle),
    each message in a savepoint of its own. A message that fails is counted and stops its
    stream (the next ones wait for it); after MAX_APPLY_ATTEMPTS it is a dead letter."""
    applied = 0
    by_peer: dict[str, set[str]] = {}
    for peer_region, stream in streams:
        by_peer.setdefault(peer_region, set()).add(stream)
    for attempt in range(2):
        try:
            with sessions() as session:
                for peer_region in sorted(by_peer):
                    applied += _apply_peer(session, fed, peer_region, sorted(by_peer[peer_region]))
            return applied
        except RefreshNeeded as needed:  # rolled back: fetch the list, then once more
            applied = 0
            if attempt or not refresh_for_unknown_key(sessions, fed, needed.region):
                return 0  # the worker tries again on its next pass
    return applied


def _apply_peer(session: Session, fed: Federation, peer_region: str, names: list[str]) -> int:
    peer = active_peer(session, peer_region)
    cursors = _locked_cursors(session, peer_region, names)
    waiting: dict[str, list[InboxMessage]] = {}
    for row in session.scalars(
        select(InboxMessage)
        .where(
            InboxMessage.peer_region == peer_region,
            InboxMessage.stream.in_(names),
            InboxMessage.status == "pending",
            InboxMessage.seq > 0,
        )
        .order_by(InboxMessage.stream, InboxMessage.seq)
    ):
        waiting.setdefault(row.stream, []).append(row)
    applied = 0
    now = utcnow()
    for stream in names:
        cursor = cursors[stream]
        for row in waiting.get(stream, []):
            unordered = handlers.is_unordered(row.type)
            if row.retry_at is not None and row.retry_at > now:
                if unordered:
                    continue
                break  # failed a moment ago: it (and what follows it) waits its backoff
            if unordered:
                if _apply_one(session, fed, peer, row):
                    cursor.applied_seq = max(cursor.applied_seq, row.seq)
                    applied += 1
                continue  # a notice: its neighbours do not wait for it
            if row.seq <= cursor.applied_seq:
                _out_of_sequence(row, cursor.applied_seq)
                continue
            if row.seq != cursor.applied_seq + 1:
                break  # a gap: the one before it is still on its way
            if not _apply_one(session, fed, peer, row):
                break  # a failure: the rest of the stream waits for it
            cursor.applied_seq = row.seq
            applied += 1
    return applied


def _out_of_sequence(row: InboxMessage, applied_seq: int) -> None:
    """A new message numbered as one already applied: the sender's numbering went back (its
    database restored from a backup). Applying it could undo a later step: a dead letter for
    an administrator to apply anyway or skip."""
    row.status = "failed"
    row.last_error = (
        f"out of sequence: {row.seq} after {applied_seq} already applied "
        "(the sender restored from a backup?)"
    )
    log.error("message %s from %s: %s", row.message_id, row.peer_region, row.last_error)


class RefreshNeeded(Exception):
    """A handler met a key of the peer that our copy of its list lacks: the list is fetched
    after the transaction (never during it: on SQLite that would hold the write lock while
    waiting for the peer), then the message is applied again."""

    def __init__(self, region: str) -> None:
        super().__init__(f"the trust list of {region} is to be fetched")
        self.region = region


def _apply_one(session: Session, fed: Federation, peer: Peer, row: InboxMessage) -> bool:
    document = json.loads(fed.registry.keyring.decrypt(session, INBOX_FIELD, row.envelope_enc))
    handler = handlers.handler_for(row.type)
    try:
        if handler is None:
            raise LookupError(f"no handler for message type {row.type!r}")
        with session.begin_nested():
            handler(session, fed, peer, env.parse(document))
    except RefreshNeeded:
        raise
    except Exception as exc:  # kept, counted, retried with backoff, then a dead letter
        row.attempts += 1
        row.last_error = describe(exc)
        row.retry_at = utcnow() + timedelta(seconds=backoff(fed, row.attempts))
        if row.attempts >= MAX_APPLY_ATTEMPTS or handler is None:
            row.status = "failed"
            log.error("message %s from %s failed: %s", row.message_id, peer.region_code, exc)
            with session.begin_nested():
                handlers.dead(session, fed, peer, env.parse(document))
        return False
    row.status, row.applied_at, row.last_error, row.retry_at = "applied", utcnow(), None, None
    return True


def _locked_cursors(session: Session, peer_region: str, names: list[str]) -> dict[str, InStream]:
    """The streams' cursors under their write locks (one applier per stream at a time); a
    stream seen for the first time gets its cursor."""
    for _ in range(3):
        session.execute(
            update(InStream)
            .where(InStream.peer_region == peer_region, InStream.stream.in_(names))
            .values(applied_seq=InStream.applied_seq)
            .execution_options(synchronize_session=False)
        )
        found = {
            c.stream: c
            for c in session.scalars(
                select(InStream)
                .where(InStream.peer_region == peer_region, InStream.stream.in_(names))
                .order_by(InStream.stream)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        }
        missing = [n for n in names if n not in found]
        if not missing:
            return found
        try:
            with session.begin_nested():
                session.add_all(
                    InStream(peer_region=peer_region, stream=n, applied_seq=0) for n in missing
                )
                session.flush()
        except IntegrityError:
            continue  # another applier opened one of them a moment ago: read again
    raise RuntimeError("could not lock the streams")


def apply_pending(sessions: Sessions, fed: Federation) -> int:
    """The worker's pass over every stream with a message waiting (one transaction per peer;
    a pass that fails is logged and the next tries again)."""
    with sessions() as session:
        streams = session.execute(
            select(InboxMessage.peer_region, InboxMessage.stream)
            .where(InboxMessage.status == "pending", InboxMessage.seq > 0)
            .group_by(InboxMessage.peer_region, InboxMessage.stream)
        ).all()
    applied = 0
    for peer_region in sorted({p for p, _ in streams}):
        try:
            applied += apply_ready(sessions, fed, [(p, s) for p, s in streams if p == peer_region])
        except Exception:  # one peer's trouble does not stop the others
            log.exception("applying the messages of %s failed", peer_region)
    return applied


# -- requests answered at once ------------------------------------------------------------------


def request(
    session: Session, fed: Federation, peer_region: str, kind: str, body: dict[str, Any]
) -> dict[str, Any]:
    """Ask a peer and wait for its signed answer. The caller's transaction should not have
    written yet: the peer may take seconds (on SQLite a write lock would wait with it)."""
    peer = active_peer(session, peer_region)
    kid, signer = fed.signer(session)
    message_id = env.new_id()
    document = env.build(
        message_id=message_id,
        sender=fed.region,
        recipient=peer_region,
        type=kind,
        stream="",
        seq=0,
        created_at=int(time.time()),
        body=body,
        kid=kid,
        signer=signer,
    )
    payload = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    try:
        status, answer = fed.transport.post(
            f"{peer.url}/api/v1/federation/requests",
            payload,
            timeout=fed.settings.federation_timeout_seconds,
        )
    except TransportError as exc:
        raise PeerUnavailable(peer_region, str(exc)) from exc
    if status != 200 or not isinstance(answer, dict):
        code = answer.get("code") if isinstance(answer, dict) else None
        raise PeerUnavailable(peer_region, f"HTTP {status} {code or ''}".strip())
    now = int(time.time())
    try:
        reply = env.verify(
            answer,
            peer_trust(peer, now),
            recipient=fed.region,
            now=now,
            max_age=REQUEST_FRESH_SECONDS,
        )
    except MessageRefused as exc:
        if exc.code not in ("message_key_unknown", "peer_trust_expired"):
            raise
        # The peer signed with a key our copy of its list does not have yet (it rotated):
        # its current list, pinned to the same root, decides; the worker stores it later
        # (writing it here would wait for this request's own transaction on SQLite).
        _, fresh = fetch_trust_list(fed, peer.url, peer.root_fingerprint)
        if fresh.region_code != peer_region:
            raise
        reply = env.verify(
            answer, fresh, recipient=fed.region, now=now, max_age=REQUEST_FRESH_SECONDS
        )
    if reply.type != "reply" or reply.body.get("in_reply_to") != message_id:
        raise PeerUnavailable(peer_region, "the answer is not to this request")
    refused = reply.body.get("refused")
    if isinstance(refused, dict):
        said = refused.get("status")
        raise DomainError(
            code=str(refused.get("code", "peer_refused"))[:60],
            title=str(refused.get("title", "对方地区拒绝了该请求"))[:200],
            title_en=str(refused.get("title_en", "The peer region refused the request"))[:200],
            # The peer's word, but never a 5xx of ours nor a 2xx.
            status=said if isinstance(said, int) and 400 <= said <= 499 else 409,
            detail=(str(refused.get("detail") or "") or None),
        )
    answer_body: dict[str, Any] = reply.body
    return answer_body


def answer(sessions: Sessions, fed: Federation, document: Any) -> dict[str, Any]:
    """Answer a peer's request, signed; the same request again gets the same answer."""
    parsed = env.parse(document)
    if abs(time.time() - parsed.created_at) > REQUEST_FRESH_SECONDS:
        raise MessageRefused("message_too_old", "a request is answered within five minutes")
    envelope, peer = _checked(sessions, fed, document)
    if not envelope.is_request or envelope.stream:
        raise MessageRefused("message_malformed", "a message goes to /federation/messages")
    handler = handlers.request_handler_for(envelope.type)
    if handler is None:
        raise MessageRefused("message_malformed", f"unknown request type {envelope.type}")
    with sessions() as session:
        if _inbox_row(session, envelope.sender, envelope.id) is not None:
            # Answered once. The answer may carry personal data: a copy of the request seen
            # again is a replay (a requester makes a new one for each question), not a retry.
            raise MessageRefused("message_duplicate", f"request {envelope.id}")
    with sessions() as session:
        try:
            with session.begin_nested():
                body = handler(session, fed, active_peer(session, peer.region_code), envelope)
        except DomainError as exc:  # a refusal is an answer too, signed and kept
            body = {
                "refused": {
                    "code": exc.code,
                    "title": exc.title,
                    "title_en": exc.title_en,
                    "status": exc.status,
                    "detail": exc.detail,
                }
            }
        kid, signer = fed.signer(session)
        reply = env.build(
            message_id=env.new_id(),
            sender=fed.region,
            recipient=envelope.sender,
            type="reply",
            stream="",
            seq=0,
            created_at=int(time.time()),
            body={"in_reply_to": envelope.id, **body},
            kid=kid,
            signer=signer,
        )
        session.add(
            InboxMessage(
                peer_region=envelope.sender,
                message_id=envelope.id,
                type=envelope.type,
                stream="",
                seq=0,
                sent_at=datetime.fromtimestamp(envelope.created_at, UTC),
                received_at=utcnow(),
                envelope_enc=fed.registry.keyring.encrypt(
                    session, INBOX_FIELD, json.dumps(document, ensure_ascii=False)
                ),
                status="answered",
                attempts=0,
                applied_at=utcnow(),
                reply_enc=fed.registry.keyring.encrypt(
                    session, REPLY_FIELD, json.dumps(reply, ensure_ascii=False)
                ),
            )
        )
        return reply


# -- a change of our keys, told -----------------------------------------------------------------


def announce_trust_change(session: Session, reg: Registry, why: str) -> int:
    """Our keys changed (one revoked or rotated): every peer is told at once. The message is
    signed by our current key, which a peer that has not seen it yet fetches our list for, so
    it stops trusting a revoked key now rather than at its next hourly refresh."""
    told = 0
    for region in session.scalars(select(Peer.region_code).where(Peer.active.is_(True))):
        enqueue(session, reg, region, "trust.changed", "trust", {"why": why[:200]})
        told += 1
    return told


@handlers.on_message("trust.changed", ordered=False)
def _on_trust_changed(session: Session, fed: Federation, peer: Peer, envelope: Envelope) -> None:
    # Its list was fetched to check this message if the key was new to us; either way the
    # worker fetches it (and its status list) again on its next pass.
    peer.refreshed_at = None


# -- what the administrator sees and does ------------------------------------------------------


@dataclass(frozen=True)
class Overview:
    peer_region: str
    outbox: dict[str, int]
    inbox: dict[str, int]
    oldest_pending: datetime | None


def overview(session: Session) -> list[Overview]:
    """Per peer: messages by status each way, and how old the oldest one waiting is."""
    out = session.execute(
        select(OutboxMessage.peer_region, OutboxMessage.status, func.count()).group_by(
            OutboxMessage.peer_region, OutboxMessage.status
        )
    ).all()
    inbox = session.execute(
        select(InboxMessage.peer_region, InboxMessage.status, func.count()).group_by(
            InboxMessage.peer_region, InboxMessage.status
        )
    ).all()
    oldest = dict(
        session.execute(
            select(OutboxMessage.peer_region, func.min(OutboxMessage.created_at))
            .where(OutboxMessage.status == "pending")
            .group_by(OutboxMessage.peer_region)
        ).all()
    )
    regions = sorted({r for r, _, _ in out} | {r for r, _, _ in inbox} | set(_peer_codes(session)))
    return [
        Overview(
            region,
            {s: int(n) for r, s, n in out if r == region},
            {s: int(n) for r, s, n in inbox if r == region},
            oldest.get(region),
        )
        for region in regions
    ]


def _peer_codes(session: Session) -> list[str]:
    return list(session.scalars(select(Peer.region_code)))


@dataclass(frozen=True)
class DeadLetter:
    direction: str  # out: we could not deliver it; in: we could not apply it
    id: str
    peer_region: str
    type: str
    stream: str
    seq: int
    attempts: int
    last_error: str | None
    at: datetime


def dead_letters(session: Session) -> list[DeadLetter]:
    out = [
        DeadLetter(
            "out",
            m.id,
            m.peer_region,
            m.type,
            m.stream,
            m.seq,
            m.attempts,
            m.last_error,
            m.created_at,
        )
        for m in session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.status == "dead")
            .order_by(OutboxMessage.created_at)
        )
    ]
    inbox = [
        DeadLetter(
            "in",
            m.message_id,
            m.peer_region,
            m.type,
            m.stream,
            m.seq,
            m.attempts,
            m.last_error,
            m.received_at,
        )
        for m in session.scalars(
            select(InboxMessage)
            .where(InboxMessage.status == "failed")
            .order_by(InboxMessage.received_at)
        )
    ]
    return out + inbox


def replay(session: Session, fed: Federation, actor: str, direction: str, message_id: str) -> None:
    """A dead letter goes again: an undelivered one is sent anew (same id, so the peer still
    takes it once), an unapplied one is applied anew — one out of sequence at once, out of
    order, as the administrator decided; the replay is audited."""
    if direction == "out":
        row = session.get(OutboxMessage, message_id, with_for_update=True)
        if row is None or row.status != "dead":
            raise _no_dead_letter()
        row.status, row.attempts, row.next_attempt_at = "pending", 0, utcnow()
        row.created_at = utcnow()  # its age counts from the replay, or it would die again at once
        peer_region = row.peer_region
    else:
        found = _inbox_dead_letter(session, message_id)
        found.status, found.attempts, found.retry_at = "pending", 0, None
        peer_region = found.peer_region
        cursor = _locked_cursors(session, peer_region, [found.stream])[found.stream]
        if found.seq <= cursor.applied_seq:
            _apply_one(session, fed, active_peer(session, peer_region), found)
    record(
        session,
        actor=actor,
        action="federation.replayed",
        subject_type="message",
        subject_id=message_id,
        details={"direction": direction, "peer": peer_region},
    )


def skip(session: Session, actor: str, message_id: str) -> None:
    """An administrator gives up on a message received (its sender will not fix it): it is
    set aside, audited, and its stream goes on after it."""
    found = _inbox_dead_letter(session, message_id)
    found.status, found.retry_at = "skipped", None
    cursor = _locked_cursors(session, found.peer_region, [found.stream])[found.stream]
    if found.seq == cursor.applied_seq + 1:
        cursor.applied_seq = found.seq
    record(
        session,
        actor=actor,
        action="federation.skipped",
        subject_type="message",
        subject_id=message_id,
        details={"peer": found.peer_region, "stream": found.stream, "seq": found.seq},
    )


def _inbox_dead_letter(session: Session, message_id: str) -> InboxMessage:
    found = session.scalars(
        select(InboxMessage).where(
            InboxMessage.message_id == message_id, InboxMessage.status == "failed"
        )
    ).first()
    if found is None:
        raise _no_dead_letter()
    return found


def _no_dead_letter() -> NotFound:
    return NotFound("dead_letter_not_found", "没有这封死信", "No such dead letter")


def resend_since(session: Session, actor: str, peer_region: str, since: datetime) -> int:
    """After the peer restored its database from a backup it lacks what we sent since: every
    message to it written since then goes again (with its id: what it still has, it answers
    "duplicate"). Returns how many."""
    again = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.peer_region == peer_region,
            OutboxMessage.status == "sent",
            OutboxMessage.created_at >= since,
        )
        .values(status="pending", attempts=0, next_attempt_at=utcnow(), claimed_until=None)
        .execution_options(synchronize_session=False)
    )
    count = int(getattr(again, "rowcount", 0) or 0)
    record(
        session,
        actor=actor,
        action="federation.resent",
        subject_type="region",
        subject_id=peer_region,
        details={"since": since.isoformat(), "messages": count},
    )
    return count


def prune(session: Session, settings: Any) -> tuple[int, int]:
    """Forget delivered and applied messages older than the accepted age (a copy of one that
    old is refused anyway, so its id no longer needs remembering). Dead letters stay."""
    limit = utcnow() - timedelta(days=settings.federation_message_max_age_days)
    out = session.execute(
        delete(OutboxMessage).where(
            OutboxMessage.status == "sent", OutboxMessage.created_at < limit
        )
    )
    inbox = session.execute(
        delete(InboxMessage).where(
            InboxMessage.status.in_(("applied", "answered", "skipped")),
            InboxMessage.received_at < limit,
        )
    )
    return int(getattr(out, "rowcount", 0) or 0), int(getattr(inbox, "rowcount", 0) or 0)
