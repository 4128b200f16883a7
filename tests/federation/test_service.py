"""Delivery between regions: at least once on the wire, exactly once in effect, in order per
stream; a peer that is away loses nothing; what cannot be delivered or applied becomes a dead
letter that an administrator replays; forged messages and removed keys are refused."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from tests.federation.conftest import JS, SH, Node, Regions
from tongban.crypto import sm2
from tongban.db import utcnow
from tongban.federation import envelope as env
from tongban.federation import handlers, peers, service
from tongban.federation.envelope import Envelope
from tongban.federation.models import InboxMessage, OutboxMessage, Peer

Note = tuple[str, str, int, dict[str, Any]]
IDENTIFIER = "1.2.156.3005.2.11320500T00000001C001.11320500T00000001C.00000001.001.F"


@pytest.fixture
def notes() -> Iterator[list[Note]]:
    """A message type that only records what it was given, in the order applied."""
    got: list[Note] = []

    def note(session: Any, fed: Any, peer: Peer, envelope: Envelope) -> None:
        if envelope.body.get("fail"):
            raise RuntimeError("the handler could not apply it")
        got.append((fed.region, envelope.stream, envelope.seq, envelope.body))

    handlers.HANDLERS["test.note"] = note
    yield got
    del handlers.HANDLERS["test.note"]


def _enqueue(
    node: Node, to: str, stream: str, body: dict[str, Any], kind: str = "test.note"
) -> str:
    with node.sessions()() as session:
        return service.enqueue(session, node.fed.registry, to, kind, stream, body).id


def _signed(node: Node, to: str, stream: str, seq: int, body: dict[str, Any]) -> dict[str, Any]:
    with node.session() as session:
        kid, signer = node.fed.signer(session)
    return env.build(
        message_id=env.new_id(),
        sender=node.region,
        recipient=to,
        type="test.note",
        stream=stream,
        seq=seq,
        created_at=int(time.time()),
        body=body,
        kid=kid,
        signer=signer,
    )


def _post(node: Node, document: dict[str, Any]) -> Any:
    return node.client.post("/api/v1/federation/messages", json=document)


def _inbox_count(node: Node) -> int:
    with node.session() as session:
        return int(session.scalar(select(func.count()).select_from(InboxMessage)) or 0)


def _outbox(node: Node, message_id: str) -> OutboxMessage:
    with node.session() as session:
        row = session.get(OutboxMessage, message_id)
        assert row is not None
        session.expunge(row)
        return row


def test_a_message_arrives_once_however_often_it_is_sent(
    regions: Regions, notes: list[Note]
) -> None:
    document = _signed(regions.sh, JS, "once:1", 1, {"n": 1})
    first = _post(regions.js, document)
    again = _post(regions.js, document)  # a retry after a lost receipt
    assert first.status_code == again.status_code == 200
    assert first.json()["result"] == "accepted"
    assert again.json()["result"] == "duplicate"
    _, trust = peers.fetch_trust_list(regions.sh.fed, regions.js.url, None)
    assert env.receipt_valid(first.json(), trust, message_id=document["id"], receiver=JS)
    assert notes == [(JS, "once:1", 1, {"n": 1})]


def test_messages_of_a_stream_are_applied_in_order(regions: Regions, notes: list[Note]) -> None:
    second = _signed(regions.sh, JS, "order:1", 2, {"n": 2})
    first = _signed(regions.sh, JS, "order:1", 1, {"n": 1})
    assert _post(regions.js, second).json()["result"] == "accepted"
    assert notes == []  # 2 waits for 1
    assert _post(regions.js, first).json()["result"] == "accepted"
    assert [n[2] for n in notes] == [1, 2]


def test_a_peer_away_loses_nothing_and_gets_everything_once_back(
    regions: Regions, notes: list[Note]
) -> None:
    regions.net.down.add(regions.js.host)
    try:
        ids = [_enqueue(regions.sh, JS, "away:1", {"n": n}) for n in range(1, 6)]
        report = regions.sh.work()
        assert report.sent == 0
        assert report.retried >= 1
        row = _outbox(regions.sh, ids[0])
        assert row.status == "pending"
        assert row.attempts == 1
        assert row.next_attempt_at > utcnow()  # backing off
        assert "unreachable" in (row.last_error or "")
        assert regions.sh.work().sent == 0  # still waiting its turn
    finally:
        regions.net.down.discard(regions.js.host)
    time.sleep(1.1)  # the retry cap in these nodes is one second
    regions.pump()
    assert [n[3]["n"] for n in notes if n[1] == "away:1"] == [1, 2, 3, 4, 5]
    assert all(_outbox(regions.sh, i).status == "sent" for i in ids)
    assert all(_outbox(regions.sh, i).receipt for i in ids)


def test_an_undeliverable_message_is_a_dead_letter_an_administrator_replays(
    regions: Regions, notes: list[Note]
) -> None:
    # Jiangsu stops trusting Shanghai; Shanghai keeps trying until the message is too old.
    with regions.js.session() as session:
        session.execute(update(Peer).where(Peer.region_code == SH).values(active=False))
        session.commit()
    try:
        message = _enqueue(regions.sh, JS, "dead:1", {"n": 1})
        regions.sh.work()
        assert _outbox(regions.sh, message).status == "pending"  # peer_unknown is retried
        with regions.sh.session() as session:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == message)
                .values(
                    created_at=utcnow() - timedelta(hours=80),
                    next_attempt_at=utcnow(),
                )
            )
            session.commit()
        regions.sh.work()
        dead = _outbox(regions.sh, message)
        assert dead.status == "dead"
        assert "peer_unknown" in (dead.last_error or "")
    finally:
        with regions.js.session() as session:
            session.execute(update(Peer).where(Peer.region_code == SH).values(active=True))
            session.commit()
    admin = regions.sh.auth("admin")
    listed = regions.sh.client.get("/api/v1/federation/dead-letters", headers=admin).json()
    assert message in [d["id"] for d in listed]
    replayed = regions.sh.client.post(
        f"/api/v1/federation/dead-letters/out/{message}/replay", headers=admin
    )
    assert replayed.status_code == 200
    regions.pump()
    assert _outbox(regions.sh, message).status == "sent"
    assert [n[3] for n in notes if n[1] == "dead:1"] == [{"n": 1}]


def test_a_message_that_cannot_be_applied_is_kept_retried_and_replayable(
    regions: Regions, notes: list[Note]
) -> None:
    message = _enqueue(regions.sh, JS, "flaky:1", {"n": 1, "fail": True})
    regions.pump()
    assert _outbox(regions.sh, message).status == "sent"  # delivered: the trouble is ours
    with regions.js.session() as session:
        row = session.scalars(select(InboxMessage).where(InboxMessage.message_id == message)).one()
        assert row.status == "pending"
        assert row.attempts == 1  # tried once on arrival ...
        assert row.retry_at is not None and row.retry_at > utcnow()  # ... and backing off
    for _ in range(service.MAX_APPLY_ATTEMPTS):
        with regions.js.session() as session:  # as if its backoff had passed
            session.execute(
                update(InboxMessage)
                .where(InboxMessage.message_id == message)
                .values(retry_at=utcnow() - timedelta(seconds=1))
            )
            session.commit()
        regions.js.work()
    with regions.js.session() as session:
        row = session.scalars(select(InboxMessage).where(InboxMessage.message_id == message)).one()
        assert row.status == "failed"
        assert row.attempts == service.MAX_APPLY_ATTEMPTS
        assert "could not apply" in (row.last_error or "")
    assert notes == []
    # Fixed (here: the handler no longer fails), an administrator applies it again.
    handlers.HANDLERS["test.note"] = lambda session, fed, peer, e: notes.append(
        (fed.region, e.stream, e.seq, {"fixed": True})
    )
    r = regions.js.client.post(
        f"/api/v1/federation/dead-letters/in/{message}/replay", headers=regions.js.auth("admin")
    )
    assert r.status_code == 200
    regions.js.work()
    assert notes == [(JS, "flaky:1", 1, {"fixed": True})]


def test_a_forged_message_is_refused_and_nothing_is_stored(
    regions: Regions, notes: list[Note]
) -> None:
    document = _signed(regions.sh, JS, "forged:1", 1, {"amount": 1})
    before = _inbox_count(regions.js)
    forged = {**document, "body": {"amount": 1_000_000}}
    r = _post(regions.js, forged)
    assert r.status_code == 401
    assert r.json()["code"] == "message_signature_invalid"
    # Signed by a key of nobody's: also refused (after fetching the sender's list once).
    stranger = sm2.KeyPair.generate()
    made_up = env.build(
        message_id=env.new_id(),
        sender=SH,
        recipient=JS,
        type="test.note",
        stream="forged:1",
        seq=1,
        created_at=int(time.time()),
        body={"amount": 1},
        kid=sm2.key_id(stranger.public_key),
        signer=sm2.Sm2Signer(stranger),
    )
    r = _post(regions.js, made_up)
    assert r.status_code == 401
    assert r.json()["code"] == "message_key_unknown"
    not_ours = _post(regions.js, {**document, "to": "330000"})
    assert not_ours.status_code in (401, 422)
    assert _inbox_count(regions.js) == before
    assert notes == []


def test_a_message_signed_by_a_key_the_sender_revoked_is_refused(
    regions: Regions, notes: list[Note]
) -> None:
    regions.js.fed.forced_refresh.clear()  # the made-up key a test ago used up Jiangsu's fetch
    old = _signed(regions.sh, JS, "revoked:1", 1, {"n": 1})
    with regions.sh.session() as session:
        regions.sh.fed.registry.signing.revoke(session, old["signature"]["key_id"])
        assert service.announce_trust_change(session, regions.sh.fed.registry, "leaked") == 1
        session.commit()
    # The news is signed by the new key: Jiangsu fetches Shanghai's list to check it, and
    # learns of the revocation with it.
    regions.pump()
    r = _post(regions.js, old)
    assert r.status_code == 401
    assert r.json()["code"] == "message_key_revoked"
    # What Shanghai sends now is signed by its new key and goes through.
    _enqueue(regions.sh, JS, "revoked:2", {"n": 2})
    regions.pump()
    assert [n[1] for n in notes] == ["revoked:2"]


def test_a_request_is_answered_once_and_neither_a_copy_nor_a_stale_one(regions: Regions) -> None:
    with regions.sh.session() as session:
        kid, signer = regions.sh.fed.signer(session)

    def request(created: int) -> dict[str, Any]:
        return env.build(
            message_id=env.new_id(),
            sender=SH,
            recipient=JS,
            type="license.verify",
            stream="",
            seq=0,
            created_at=created,
            body={"identifier": IDENTIFIER},
            kid=kid,
            signer=signer,
        )

    asked = request(int(time.time()))
    first = regions.js.client.post("/api/v1/federation/requests", json=asked)
    again = regions.js.client.post("/api/v1/federation/requests", json=asked)
    assert first.status_code == 200, first.text
    assert first.json()["body"]["in_reply_to"] == asked["id"]
    # A copy of a request seen again is a replay (its answer may carry personal data).
    assert again.status_code == 409
    assert again.json()["code"] == "message_duplicate"
    stale = regions.js.client.post(
        "/api/v1/federation/requests", json=request(int(time.time()) - 600)
    )
    assert stale.status_code == 422
    assert stale.json()["code"] == "message_too_old"
    as_message = regions.js.client.post("/api/v1/federation/messages", json=asked)
    assert as_message.status_code == 422


def test_the_queues_show_each_way_by_status(regions: Regions) -> None:
    admin = regions.sh.auth("admin")
    queues = regions.sh.client.get("/api/v1/federation/queues", headers=admin).json()
    js_line = next(q for q in queues if q["peer"] == JS)
    assert js_line["outbox"].get("sent", 0) >= 1
    assert (
        regions.sh.client.get(
            "/api/v1/federation/queues", headers=regions.sh.auth("citizen3")
        ).status_code
        == 403
    )
    assert json.loads(json.dumps(js_line))  # plain JSON
