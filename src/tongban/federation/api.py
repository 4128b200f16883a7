"""HTTP API of the federation: what peers post (signed messages and requests), what the
administrator manages (peers, agreed types, dead letters), and a person's consents and the
licenses of other regions kept for them."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from tongban.access import AUTHENTICATED, PUBLIC, allow
from tongban.common.ratelimit import rate_limited
from tongban.db import transaction
from tongban.deps import DbSession
from tongban.errors import DomainError
from tongban.federation import peers, service, sharing
from tongban.federation.models import Peer, SharingConsent
from tongban.federation.peers import Federation, PeerRequest
from tongban.federation.schemas import AgreementsPut, ConsentCreate, PeerAdd
from tongban.identity.api import client_address
from tongban.identity.schemas import Role
from tongban.identity.service import Principal
from tongban.licenses import recognized
from tongban.licenses import service as licenses
from tongban.licenses.models import PeerLicense

router = APIRouter(prefix="/api/v1", tags=["federation 跨省通办"])
ADMINS = allow(Role.ADMIN)
Region = Annotated[str, Path(pattern=r"^[1-8][0-9]0000$")]
MessageId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]


def federation_of(request: Request) -> Federation:
    fed: Federation | None = getattr(request.app.state, "federation", None)
    if fed is None:
        raise DomainError(
            code="keys_unavailable",
            title="跨省通办服务暂不可用",
            title_en="The federation is unavailable: no key-encryption key is configured",
            status=503,
        )
    return fed


def _sessions(request: Request) -> Callable[[], AbstractContextManager[Session]]:
    factory = request.app.state.sessions
    return lambda: transaction(factory)


# -- what peers post ---------------------------------------------------------------------------


def _limit(request: Request) -> None:
    """Posts per client address: a peer's worker sends batches, a flood is not a peer."""
    wait = request.app.state.federation_limiter.allow(client_address(request))
    if wait is not None:
        raise rate_limited(wait)


@router.post(
    "/federation/messages",
    dependencies=[Depends(PUBLIC)],
    summary="A peer region's signed message: stored once, answered with a signed receipt",
)
async def receive_message(
    request: Request, document: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    """One message (answered with its receipt, or refused with the refusal's status), or
    `{"messages": [...]}` as the worker sends them (answered `{"results": [{"id", "receipt"}
    | {"id", "error"}]}`, each message taken or refused on its own)."""
    fed = federation_of(request)
    _limit(request)
    batch = document.get("messages") if "format" not in document else None
    # The messaging core opens its own short transactions; it takes a database slot like any
    # request so that a burst of messages cannot starve the others of connections.
    async with request.app.state.db_slots.limiter():
        if isinstance(batch, list):
            results = await run_in_threadpool(
                service.receive_many, _sessions(request), fed, batch[: service.BATCH * 2]
            )
            return {"results": results}
        receipt: dict[str, Any] = await run_in_threadpool(
            service.receive, _sessions(request), fed, document
        )
    return receipt


@router.post(
    "/federation/requests",
    dependencies=[Depends(PUBLIC)],
    summary="A peer region's signed request, answered at once with a signed reply",
)
async def answer_request(
    request: Request, document: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    fed = federation_of(request)
    _limit(request)
    async with request.app.state.db_slots.limiter():
        reply: dict[str, Any] = await run_in_threadpool(
            service.answer, _sessions(request), fed, document
        )
    return reply


# -- the administrator -------------------------------------------------------------------------


def peer_out(db: Session, peer: Peer) -> dict[str, Any]:
    return {
        "region_code": peer.region_code,
        "name": peer.name,
        "url": peer.url,
        "root_fingerprint": peer.root_fingerprint,
        "active": peer.active,
        "trust_next_update": peer.trust_next_update.isoformat(),
        "trust_fetched_at": peer.trust_fetched_at.isoformat(),
        "status_fetched_at": peer.status_fetched_at.isoformat() if peer.status_fetched_at else None,
        "share_records": peer.share_records,
        "last_error": peer.last_error,
        "agreements": [
            {
                "local_type": a.local_type_key,
                "peer_type_code": a.peer_type_code,
                "peer_type_name": a.peer_type_name,
            }
            for a in peers.agreements(db, peer.region_code)
        ],
    }


@router.get("/federation/peers", summary="The peer regions this node trusts, with agreed types")
def list_peers(db: DbSession, _: Annotated[Principal, Depends(ADMINS)]) -> list[dict[str, Any]]:
    return [peer_out(db, p) for p in peers.peers(db)]


@router.post(
    "/federation/peers",
    status_code=201,
    summary="Trust a peer region: fetch and pin its trust list, record the agreed types",
)
def add_peer(
    request: Request,
    db: DbSession,
    body: PeerAdd,
    principal: Annotated[Principal, Depends(ADMINS)],
) -> dict[str, Any]:
    peer = peers.add_peer(
        db,
        federation_of(request),
        f"account:{principal.account_id}",
        PeerRequest(
            body.url, body.fingerprint, tuple(body.agree), body.agree_shared, body.share_records
        ),
    )
    return peer_out(db, peer)


@router.put("/federation/peers/{region}/agreements", summary="Replace the agreed list (互认目录)")
def put_agreements(
    request: Request,
    db: DbSession,
    region: Region,
    body: AgreementsPut,
    _: Annotated[Principal, Depends(ADMINS)],
) -> dict[str, Any]:
    fed = federation_of(request)
    peer = peers.active_peer(db, region)
    peers.replace_agreements(db, fed, peer, tuple(body.agree))
    return peer_out(db, peer)


@router.post("/federation/peers/{region}/refresh", summary="Fetch the peer's lists again now")
def refresh_peer(
    request: Request, db: DbSession, region: Region, _: Annotated[Principal, Depends(ADMINS)]
) -> dict[str, Any]:
    peers.active_peer(db, region)
    db.commit()  # the refresh runs in transactions of its own
    peers.refresh_peer(_sessions(request), federation_of(request), region)
    db.expire_all()  # read what the refresh wrote, not this session's copy
    return peer_out(db, peers.active_peer(db, region))


@router.delete("/federation/peers/{region}", summary="Stop trusting a peer region")
def remove_peer(
    db: DbSession, region: Region, principal: Annotated[Principal, Depends(ADMINS)]
) -> dict[str, Any]:
    return peer_out(db, peers.remove_peer(db, f"account:{principal.account_id}", region))


@router.get("/federation/queues", summary="Messages by peer and status, each way")
def queues(db: DbSession, _: Annotated[Principal, Depends(ADMINS)]) -> list[dict[str, Any]]:
    return [
        {
            "peer": o.peer_region,
            "outbox": o.outbox,
            "inbox": o.inbox,
            "oldest_pending": o.oldest_pending.isoformat() if o.oldest_pending else None,
        }
        for o in service.overview(db)
    ]


@router.get("/federation/dead-letters", summary="Messages that could not be delivered or applied")
def dead_letters(db: DbSession, _: Annotated[Principal, Depends(ADMINS)]) -> list[dict[str, Any]]:
    return [{**d.__dict__, "at": d.at.isoformat()} for d in service.dead_letters(db)]


@router.post(
    "/federation/dead-letters/{direction}/{message_id}/replay",
    summary="Send (out) or apply (in) a dead letter again",
)
def replay(
    request: Request,
    db: DbSession,
    direction: Annotated[str, Path(pattern=r"^(in|out)$")],
    message_id: MessageId,
    principal: Annotated[Principal, Depends(ADMINS)],
) -> dict[str, str]:
    actor = f"account:{principal.account_id}"
    service.replay(db, federation_of(request), actor, direction, message_id)
    return {"replayed": message_id}


@router.post(
    "/federation/dead-letters/in/{message_id}/skip",
    summary="Set aside a message received that cannot be applied; its stream goes on",
)
def skip(
    db: DbSession, message_id: MessageId, principal: Annotated[Principal, Depends(ADMINS)]
) -> dict[str, str]:
    service.skip(db, f"account:{principal.account_id}", message_id)
    return {"skipped": message_id}


# -- a person ----------------------------------------------------------------------------------


def consent_out(c: SharingConsent) -> dict[str, Any]:
    return {
        "id": c.id,
        "region": c.peer_region,
        "purpose": c.purpose,
        "with_record": c.with_record,
        "expires_at": c.expires_at.isoformat(),
        "withdrawn_at": c.withdrawn_at.isoformat() if c.withdrawn_at else None,
        "created_at": c.created_at.isoformat(),
    }


def peer_license_out(row: PeerLicense) -> dict[str, Any]:
    return {
        "identifier": row.identifier,
        "region": row.region_code,
        "type_code": row.type_code,
        "type_name": row.type_name,
        "counts_as": row.local_type_key,
        "issuer": row.issuer_name,
        "valid_from": row.valid_from.isoformat(),
        "valid_until": row.valid_until.isoformat() if row.valid_until else None,
        "status": row.status,
        "status_at": row.status_at.isoformat(),
        "usable": recognized.is_usable(row, licenses.today()),
        "source": row.source,
    }


@router.get("/me/peer-consents", summary="My consents to fetch my data from other regions")
def my_consents(
    db: DbSession, principal: Annotated[Principal, Depends(AUTHENTICATED)]
) -> list[dict[str, Any]]:
    return [consent_out(c) for c in sharing.consents_of(db, principal)]


@router.post(
    "/me/peer-consents",
    status_code=201,
    summary="Consent that this region fetch my licenses (and record) from another region",
)
def give_consent(
    db: DbSession, body: ConsentCreate, principal: Annotated[Principal, Depends(AUTHENTICATED)]
) -> dict[str, Any]:
    return consent_out(sharing.give_consent(db, principal, body))


@router.delete("/me/peer-consents/{consent_id}", summary="Withdraw a consent (the peer is told)")
def withdraw_consent(
    request: Request,
    db: DbSession,
    consent_id: MessageId,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
) -> dict[str, Any]:
    fed = federation_of(request)
    return consent_out(sharing.withdraw_consent(db, fed.registry, principal, consent_id))


@router.post(
    "/me/peer-consents/{consent_id}/fetch",
    summary="Fetch my licenses of the agreed types from the region, under this consent",
)
def fetch(
    request: Request,
    db: DbSession,
    consent_id: MessageId,
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
) -> dict[str, Any]:
    found = sharing.fetch_from_peer(db, federation_of(request), principal, consent_id)
    return {
        "licenses": [peer_license_out(r) for r in found.kept],
        "record": found.record,
        "not_shared": found.not_shared,
    }


@router.get("/me/peer-licenses", summary="Other regions' licenses kept for me (互认证照)")
def my_peer_licenses(
    db: DbSession, principal: Annotated[Principal, Depends(AUTHENTICATED)]
) -> list[dict[str, Any]]:
    enterprises = licenses.agent_enterprises(db, principal)
    return [peer_license_out(r) for r in recognized.held(db, principal.person_id, enterprises)]


@router.get("/me/peer-licenses/{identifier}", summary="One of them: the signed document")
def my_peer_license(
    request: Request,
    db: DbSession,
    identifier: Annotated[str, Path(max_length=120)],
    principal: Annotated[Principal, Depends(AUTHENTICATED)],
) -> JSONResponse:
    enterprises = licenses.agent_enterprises(db, principal)
    row = next(
        (
            r
            for r in recognized.held(db, principal.person_id, enterprises)
            if r.identifier == identifier
        ),
        None,
    )
    if row is None:
        raise DomainError(
            code="license_not_found", title="证照不存在", title_en="No such license", status=404
        )
    document = recognized.document_of(db, federation_of(request).registry, row)
    return JSONResponse(
        document, headers={"x-license-status": row.status, "cache-control": "no-store"}
    )
