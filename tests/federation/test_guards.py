"""What a peer cannot make this node do, and what one bad message cannot stop: consents
bounded and bound to one person, no record without its own agreement, no oracle of who lives
here; a status only for a case forwarded to that peer, and never backwards; a result only for
the applicant; a message that cannot be prepared, applied or ordered set aside visibly while
the rest goes on; a key rotation between writing and sending; a peer's input that does not
read answered with a 4xx."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from tests.cases.helpers import filled, move
from tests.federation.conftest import (
    JS,
    SH,
    Node,
    Regions,
    consent_to_jiangsu,
    fetched_from_jiangsu,
    forwarded_to,
)
from tongban.cases.models import Case, CaseFile
from tongban.db import utcnow
from tongban.errors import DomainError
from tongban.federation import envelope as env
from tongban.federation import handlers, peers, service
from tongban.federation.demo import FAMILY
from tongban.federation.envelope import Envelope
from tongban.federation.models import InboxMessage, OutboxMessage, Peer

NO_RECORD = "20P901000001"
CITIZEN3 = FAMILY[0]


@pytest.fixture
def regions(own_regions: Regions) -> Regions:
    """This module rotates keys and removes a peer: a pair of its own."""
    return own_regions


def _lookup(regions: Regions, consent: dict[str, Any], **body: Any) -> Any:
    """Jiangsu asks Shanghai directly, as a peer could, with a consent of its own making."""
    with regions.js.session() as session:
        return service.request(
            session,
            regions.js.fed,
            SH,
            "data.lookup",
            {"consent": consent, "types": [], "record": True, **body},
        )


def _consent(name: str, id_number: str, **changes: Any) -> dict[str, Any]:
    now = utcnow()
    return {
        "id": env.new_id(),
        "person": {"name": name, "id_number": id_number},
        "purpose": "核验",
        "given_at": now.isoformat(),
        "expires_at": (now + timedelta(days=30)).isoformat(),
        **changes,
    }


def test_a_made_up_consent_is_bounded_and_bound_to_one_person(regions: Regions) -> None:
    far = (utcnow() + timedelta(days=5000)).isoformat()
    with pytest.raises(DomainError) as refused:
        _lookup(regions, _consent(CITIZEN3.name, CITIZEN3.id_number, expires_at=far))
    assert refused.value.code == "consent_expired"  # more than a year: not a consent
    # Within bounds, but records are an agreement of their own: none was made.
    first = _consent(CITIZEN3.name, CITIZEN3.id_number)
    answer = _lookup(regions, first)
    assert answer["record"] is None
    # The same consent id for someone else is refused.
    other = FAMILY[1]
    with pytest.raises(DomainError) as mismatch:
        _lookup(regions, {**first, "person": {"name": other.name, "id_number": other.id_number}})
    assert mismatch.value.code == "consent_mismatch"


def test_a_lookup_of_someone_not_here_looks_like_nothing_to_share(regions: Regions) -> None:
    nobody = _lookup(regions, _consent("无此人", "11010119900307001X"))
    wrong_name = _lookup(regions, _consent("张三", CITIZEN3.id_number))
    for answer in (nobody, wrong_name):
        assert {k: v for k, v in answer.items() if k != "in_reply_to"} == {
            "licenses": [],
            "not_shared": [],
            "record": None,
        }


def test_a_consent_without_its_time_zone_is_a_4xx_not_a_fault(regions: Regions) -> None:
    naive = _consent(CITIZEN3.name, CITIZEN3.id_number, given_at="2026-12-01T08:00:00")
    with pytest.raises(DomainError) as refused:
        _lookup(regions, naive)
    assert refused.value.code == "validation_failed"
    assert refused.value.status == 422


def _status(regions: Regions, ref: str, status: str, seq: int) -> Any:
    """A case.status as Jiangsu could sign it, posted to Shanghai."""
    with regions.js.session() as session:
        kid, signer = regions.js.fed.signer(session)
    document = env.build(
        message_id=env.new_id(),
        sender=JS,
        recipient=SH,
        type="case.status",
        stream=f"case:{ref}",
        seq=seq,
        created_at=int(time.time()),
        body={"case": ref, "action": "approve", "status": status, "results": {}},
        kid=kid,
        signer=signer,
    )
    return regions.sh.client.post("/api/v1/federation/messages", json=document), document


def test_a_peer_moves_only_a_case_forwarded_to_it_and_never_backwards(regions: Regions) -> None:
    sh = regions.sh
    draft = sh.client.post(
        "/api/v1/cases",
        json={"matter": NO_RECORD, "form": filled(sh, NO_RECORD, "citizen3"), "submit": False},
        headers=sh.auth("citizen3"),
    ).json()
    with sh.session() as session:  # a reference for a case never handed in
        session.execute(update(Case).where(Case.id == draft["id"]).values(exchange_ref="f" * 32))
        session.commit()
    answered, document = _status(regions, "f" * 32, "approved", 1)
    assert answered.status_code == 200  # taken (it is genuine) ...
    with sh.session() as session:
        case = session.get(Case, draft["id"])
        assert case is not None
        assert case.status == "draft"  # ... but it moves nothing
        row = session.scalars(
            select(InboxMessage).where(InboxMessage.message_id == document["id"])
        ).one()
        assert row.status == "pending"
        assert "remote_step_refused" in (row.last_error or "")


def _count_files_dead(node: Node) -> int:
    with node.session() as session:
        return len(
            list(
                session.scalars(
                    select(OutboxMessage).where(
                        OutboxMessage.status == "dead",
                        OutboxMessage.last_error.like("cannot be prepared%"),
                    )
                )
            )
        )


def test_a_message_that_cannot_be_prepared_is_set_aside_and_the_rest_goes(
    regions: Regions,
) -> None:
    sh = regions.sh
    fetched_from_jiangsu(regions)
    regions.net.down.add(regions.js.host)  # held here while we break one of them
    try:
        made = sh.client.post(
            "/api/v1/cases",
            json={
                "matter": NO_RECORD,
                "form": filled(sh, NO_RECORD, "citizen3"),
                "submit": False,
                "delivery": "pickup",
            },
            headers=sh.auth("citizen3"),
        ).json()
        sh.client.post(
            f"/api/v1/cases/{made['id']}/materials/power_of_attorney",
            files={"file": ("poa.pdf", b"%PDF-1.4\n% poa\n", "application/pdf")},
            headers=sh.auth("citizen3"),
        )
        submitted = move(sh, made["id"], "citizen3", "submit")
        assert submitted.status_code == 200, submitted.text
        with sh.session() as session:  # the file is gone before the message could go
            session.execute(CaseFile.__table__.delete().where(CaseFile.case_id == made["id"]))
            session.commit()
        healthy = service.enqueue  # and another message waits behind it
        with sh.sessions()() as session:
            healthy(session, sh.fed.registry, JS, "trust.changed", "trust", {"why": "t"})
    finally:
        regions.net.down.discard(regions.js.host)
    time.sleep(1.1)
    regions.pump()
    assert _count_files_dead(sh) == 1
    with sh.session() as session:
        pending = session.scalars(
            select(OutboxMessage).where(OutboxMessage.status == "pending")
        ).all()
    assert pending == []  # the other message went


def test_a_message_written_before_a_key_rotation_goes_after_it(regions: Regions) -> None:
    sh = regions.sh
    got: list[str] = []
    handlers.HANDLERS["test.note"] = lambda s, f, p, e: got.append(e.key_id)
    try:
        regions.net.down.add(regions.js.host)
        with sh.sessions()() as session:
            service.enqueue(session, sh.fed.registry, JS, "test.note", "rotation:1", {})
        with sh.sessions()() as session:
            old, _ = sh.fed.signer(session)
            sh.fed.registry.signing.rotate(session, "federation", sh.fed.owner)
        regions.net.down.discard(regions.js.host)
        regions.js.fed.forced_refresh.clear()
        time.sleep(1.1)
        regions.pump()
    finally:
        regions.net.down.discard(regions.js.host)
        del handlers.HANDLERS["test.note"]
    assert len(got) == 1
    assert got[0] != old  # signed by the new key when it went, and taken


def _note_at(regions: Regions, stream: str, seq: int) -> dict[str, Any]:
    with regions.sh.session() as session:
        kid, signer = regions.sh.fed.signer(session)
    return env.build(
        message_id=env.new_id(),
        sender=SH,
        recipient=JS,
        type="test.note",
        stream=stream,
        seq=seq,
        created_at=int(time.time()),
        body={"seq": seq},
        kid=kid,
        signer=signer,
    )


def test_a_message_out_of_sequence_is_a_dead_letter_to_apply_anyway_or_skip(
    regions: Regions,
) -> None:
    got: list[int] = []

    def note(session: Any, fed: Any, peer: Peer, envelope: Envelope) -> None:
        got.append(int(envelope.body["seq"]))

    handlers.HANDLERS["test.note"] = note
    js = regions.js
    try:
        for seq in (1, 2):
            js.client.post("/api/v1/federation/messages", json=_note_at(regions, "restored", seq))
        # Shanghai restored a backup: it numbers a new message 2 again.
        again = _note_at(regions, "restored", 2)
        js.client.post("/api/v1/federation/messages", json=again)
        with js.session() as session:
            row = session.scalars(
                select(InboxMessage).where(InboxMessage.message_id == again["id"])
            ).one()
            assert row.status == "failed"
            assert "out of sequence" in (row.last_error or "")
        admin = js.auth("admin")
        assert (
            js.client.post(
                f"/api/v1/federation/dead-letters/in/{again['id']}/replay", headers=admin
            ).status_code
            == 200
        )
        assert got == [1, 2, 2]  # applied anyway, as the administrator decided
        # A message that cannot be applied at all is skipped, and its stream goes on.
        stuck = _note_at(regions, "skipped", 1)
        handlers.HANDLERS["test.note"] = lambda *a: (_ for _ in ()).throw(RuntimeError("no"))
        js.client.post("/api/v1/federation/messages", json=stuck)
        with js.session() as session:
            session.execute(
                update(InboxMessage)
                .where(InboxMessage.message_id == stuck["id"])
                .values(status="failed")
            )
            session.commit()
        handlers.HANDLERS["test.note"] = note
        after = _note_at(regions, "skipped", 2)
        js.client.post("/api/v1/federation/messages", json=after)
        assert got == [1, 2, 2]  # waits behind the stuck one
        assert (
            js.client.post(
                f"/api/v1/federation/dead-letters/in/{stuck['id']}/skip", headers=admin
            ).status_code
            == 200
        )
        js.work()
        assert got == [1, 2, 2, 2]  # seq 2 of the other stream went on
    finally:
        handlers.HANDLERS.pop("test.note", None)


def test_a_result_issued_to_someone_else_is_refused(regions: Regions) -> None:
    sh, js = regions.sh, regions.js
    fetched_from_jiangsu(regions)
    made = sh.client.post(
        "/api/v1/cases",
        json={"matter": NO_RECORD, "form": filled(sh, NO_RECORD, "citizen3")},
        headers=sh.auth("citizen3") | {"idempotency-key": "guard-result"},
    )
    assert made.status_code == 201, made.text
    regions.pump()
    there = forwarded_to(regions, made.json()["id"])
    assert there is not None
    # Jiangsu's step carrying 陈雪梅's license as if it were the applicant's result.
    other = next((d for d in _documents(js) if d["holder"]["id"] != CITIZEN3.id_number), None)
    assert other is not None
    with js.sessions()() as session:
        service.enqueue(
            session,
            js.fed.registry,
            SH,
            "case.status",
            f"case:{there.origin_case}",
            {
                "case": there.origin_case,
                "action": "approve",
                "status": "submitted",
                "license": other,
                "results": {},
            },
        )
    regions.pump()
    with sh.session() as session:
        case = session.get(Case, made.json()["id"])
        assert case is not None
        assert case.license_identifier is None
        row = session.scalars(
            select(InboxMessage).where(InboxMessage.last_error.like("%result_not_applicants%"))
        ).first()
        assert row is not None  # refused, kept for an administrator to see


def _documents(node: Node) -> list[dict[str, Any]]:
    from tongban.licenses import service as licenses
    from tongban.licenses.models import License

    with node.session() as session:
        return [
            licenses.document_of(session, node.fed.registry, r)
            for r in session.scalars(select(License).where(License.holder_kind == "person"))
        ]


def test_a_peer_removed_does_not_stop_what_happens_here(regions: Regions) -> None:
    sh = regions.sh
    consent = consent_to_jiangsu(regions, "撤回测试")
    removed = sh.client.delete(f"/api/v1/federation/peers/{JS}", headers=sh.auth("admin"))
    assert removed.status_code == 200
    try:
        withdrawn = sh.client.delete(
            f"/api/v1/me/peer-consents/{consent}", headers=sh.auth("citizen3")
        )
        assert withdrawn.status_code == 200  # the message to Jiangsu waits, in case it returns
        with sh.session() as session:
            waiting = session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.type == "consent.withdrawn", OutboxMessage.status == "pending"
                )
            ).all()
        assert len(waiting) == 1
        assert sh.work().sent == 0  # nothing goes to a peer we no longer trust
    finally:
        with sh.session() as session:
            session.execute(update(Peer).where(Peer.region_code == JS).values(active=True))
            session.commit()
    regions.pump()  # trusted again: it goes
    with sh.session() as session:
        assert not session.scalars(
            select(OutboxMessage).where(OutboxMessage.status == "pending")
        ).all()


def test_verifying_another_regions_license_by_identifier_is_rate_limited(
    regions: Regions,
) -> None:
    identifier = "1.2.156.3005.2.11320500T00000001C001.11320500T00000001C.00000001.001.F"
    limit = regions.sh.settings.peer_verify_rate_per_minute
    answers = [
        regions.sh.client.get(f"/api/v1/licenses/{identifier}/verify").status_code
        for _ in range(limit + 2)
    ]
    assert answers[-1] == 429
    assert answers.count(429) <= 2


def test_an_older_trust_list_is_not_taken_back(regions: Regions) -> None:
    sh = regions.sh
    with sh.session() as session:
        peer = session.get(Peer, JS)
        assert peer is not None
        kept = dict(peer.trust_list)
    _, fresh = peers.fetch_trust_list(sh.fed, regions.js.url, None)
    older = {**kept, "issued_at": "2020-01-01T00:00:00Z"}
    with sh.session() as session:
        peer = session.get(Peer, JS)
        assert peer is not None
        with pytest.raises(DomainError):
            peers._store_trust(peer, older, fresh)
