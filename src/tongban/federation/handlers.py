"""What each kind of message does when it arrives, and what each kind of request answers.

The features that speak across regions (forwarded cases, shared licenses) register here; the
messaging core looks a kind up and knows nothing of cases or licenses. A `prepare` hook turns
the outbox's small stored body into the one sent (files stored once here travel inline).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from tongban.federation.envelope import Envelope
    from tongban.federation.models import Peer
    from tongban.federation.peers import Federation

Handler = Callable[[Session, "Federation", "Peer", "Envelope"], None]
RequestHandler = Callable[[Session, "Federation", "Peer", "Envelope"], dict[str, Any]]
Preparer = Callable[[Session, "Federation", dict[str, Any]], dict[str, Any]]

HANDLERS: dict[str, Handler] = {}
REQUEST_HANDLERS: dict[str, RequestHandler] = {}
PREPARERS: dict[str, Preparer] = {}
# What a message that became a dead letter still does (tell the sender it was not taken).
DEAD: dict[str, Handler] = {}
# Kinds whose order does not matter (notices): applied as they come, whatever their number.
UNORDERED: set[str] = set()
# The modules that register kinds; imported on first look-up so that every process (web,
# worker, CLI) knows them all, whichever module it started from.
_FEATURES = ("tongban.federation.forwarding", "tongban.federation.sharing")


def _load() -> None:
    for name in _FEATURES:
        importlib.import_module(name)


def on_message(kind: str, *, ordered: bool = True) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        HANDLERS[kind] = fn
        if not ordered:
            UNORDERED.add(kind)
        return fn

    return register


def on_dead(kind: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        DEAD[kind] = fn
        return fn

    return register


def is_unordered(kind: str) -> bool:
    _load()
    return kind in UNORDERED


def dead(session: Session, fed: Federation, peer: Peer, envelope: Envelope) -> None:
    _load()
    fn = DEAD.get(envelope.type)
    if fn is not None:
        fn(session, fed, peer, envelope)


def on_request(kind: str) -> Callable[[RequestHandler], RequestHandler]:
    def register(fn: RequestHandler) -> RequestHandler:
        REQUEST_HANDLERS[kind] = fn
        return fn

    return register


def before_sending(kind: str) -> Callable[[Preparer], Preparer]:
    def register(fn: Preparer) -> Preparer:
        PREPARERS[kind] = fn
        return fn

    return register


def handler_for(kind: str) -> Handler | None:
    _load()
    return HANDLERS.get(kind)


def request_handler_for(kind: str) -> RequestHandler | None:
    _load()
    return REQUEST_HANDLERS.get(kind)


def prepare(session: Session, fed: Federation, kind: str, body: dict[str, Any]) -> dict[str, Any]:
    _load()
    fn = PREPARERS.get(kind)
    return fn(session, fed, body) if fn is not None else body
