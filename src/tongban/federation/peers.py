"""The regions this node trusts: added by an administrator (fetching and pinning the peer's
trust list), refreshed by the worker (trust list and license status list), and the agreed
list of license types each side recognizes (互认目录)."""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tongban.audit.service import record
from tongban.cases.files import FileStore
from tongban.catalog.service import license_type_codes
from tongban.common.regions import is_region_code, region_name
from tongban.crypto import sm2
from tongban.crypto.trustlist import TrustList, TrustListRefused, load_document, root_fingerprint_of
from tongban.db import utcnow
from tongban.errors import DomainError, FieldError, NotFound, validation_failed
from tongban.federation.envelope import FEDERATION, MessageRefused
from tongban.federation.models import Agreement, Peer
from tongban.federation.transport import Transport, TransportError
from tongban.identity.models import Account
from tongban.identity.schemas import Role
from tongban.identity.service import Principal, create_account, principal_of
from tongban.licenses import recognized
from tongban.licenses import service as licenses
from tongban.licenses.service import Registry
from tongban.settings import Settings

log = logging.getLogger("tongban.federation")
Sessions = Callable[[], AbstractContextManager[Session]]


@dataclass
class Federation:
    """What the federation needs at run time, made once per process."""

    settings: Settings
    registry: Registry
    files: FileStore
    transport: Transport
    # When this node last fetched a peer's list because of a key it did not know (by region).
    forced_refresh: dict[str, float] = field(default_factory=dict)

    @property
    def region(self) -> str:
        return self.settings.region_code

    @property
    def owner(self) -> str:
        return f"region:{self.region}"

    def signer(self, session: Session) -> tuple[str, sm2.Sm2Signer]:
        """This region's active federation key (made on first use)."""
        return self.registry.signing.signer(session, FEDERATION, self.owner)


def make_federation(
    settings: Settings, registry: Registry, files: FileStore, transport: Transport | None = None
) -> Federation:
    from tongban.federation.transport import HttpTransport

    return Federation(settings, registry, files, transport or HttpTransport())


class PeerUnavailable(DomainError):
    def __init__(self, region: str, detail: str) -> None:
        super().__init__(
            code="peer_unavailable",
            title=f"暂时无法连接{region_name(region)}政务服务平台，请稍后再试",
            title_en=f"The platform of region {region} cannot be reached now; try again later",
            status=503,
            detail=detail,
        )


def _peer_not_found(region: str) -> NotFound:
    return NotFound("peer_not_found", "未与该地区建立互信", "No such peer region", region)


# -- reading what is pinned --------------------------------------------------------------------

_TRUST_CACHE: dict[tuple[str, str], TrustList] = {}
_TRUST_LOCK = threading.Lock()


def peer_trust(peer: Peer, now: int) -> TrustList:
    """The peer's last fetched trust list, checked against its pinned root; it must still be
    current (a list past its next update, not refreshed, verifies nothing)."""
    # By the list's own signature: two lists issued in the same second (a key made between
    # them) are different lists.
    cache_key = (peer.region_code, str(peer.trust_list.get("signature")) + peer.root_fingerprint)
    trust = _TRUST_CACHE.get(cache_key)
    if trust is None:
        try:
            trust = load_document(peer.trust_list, now=0, root_fingerprint=peer.root_fingerprint)
        except TrustListRefused as exc:
            raise MessageRefused("peer_trust_expired", exc.detail or exc.code) from exc
        with _TRUST_LOCK:
            if len(_TRUST_CACHE) > 64:  # lists of peers long replaced
                _TRUST_CACHE.clear()
            _TRUST_CACHE[cache_key] = trust
    if now > trust.next_update:
        raise MessageRefused("peer_trust_expired", f"{peer.region_code}'s list is out of date")
    return trust


def active_peer(session: Session, region: str) -> Peer:
    peer = session.get(Peer, region)
    if peer is None or not peer.active:
        raise _peer_not_found(region)
    return peer


def peers(session: Session) -> list[Peer]:
    return list(session.scalars(select(Peer).order_by(Peer.region_code)))


def peer_trust_lists(session: Session, now: int) -> dict[str, TrustList]:
    """Every active peer's current trust list, by region (a stale one is left out)."""
    lists = {}
    for peer in session.scalars(select(Peer).where(Peer.active.is_(True))):
        try:
            lists[peer.region_code] = peer_trust(peer, now)
        except MessageRefused:
            continue
    return lists


def peer_principal(session: Session, peer: Peer) -> Principal:
    """The peer region as a principal of this node (what it hands in is made by it)."""
    account = session.get(Account, peer.account_id)
    assert account is not None
    return principal_of(account)


# -- adding and refreshing ---------------------------------------------------------------------


def _base_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        raise validation_failed(
            [FieldError("url", "请填写对方平台的地址，如 https://zwfw.example.gov.cn", "invalid")]
        )
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def fetch_trust_list(
    fed: Federation, url: str, fingerprint: str | None
) -> tuple[dict[str, Any], TrustList]:
    """A peer's trust list from its node, checked (and, with a fingerprint, pinned to it)."""
    document = _published(fed, url, "/api/v1/trust-list", dict)
    trust = load_document(document, now=int(time.time()), root_fingerprint=fingerprint)
    return document, trust


def _published(fed: Federation, url: str, path: str, kind: type) -> Any:
    """What a peer publishes for anyone (its lists, its catalog), as JSON of the kind."""
    try:
        status, found = fed.transport.get(
            f"{url}{path}", timeout=fed.settings.federation_timeout_seconds
        )
    except TransportError as exc:
        raise PeerUnavailable("?", str(exc)) from exc
    if status != 200 or not isinstance(found, kind):
        raise PeerUnavailable("?", f"{path}: HTTP {status}")
    return found


def _peer_license_types(fed: Federation, url: str) -> dict[str, dict[str, str]]:
    found = _published(fed, url, "/api/v1/license-types", list)
    return {
        t["key"]: {"key": t["key"], "code": t["code"], "name": str(t.get("name") or t["key"])}
        for t in found
        if isinstance(t, dict) and isinstance(t.get("key"), str) and isinstance(t.get("code"), str)
    }


@dataclass(frozen=True)
class PeerRequest:
    url: str
    fingerprint: str | None  # the root key's SM3, compared out of band; None: trust on first use
    agree: tuple[str, ...] = ()  # our type keys (KEY, or KEY=PEER_CODE)
    agree_shared: bool = False  # every type both catalogs have under the same key
    share_records: bool = False  # answer its look-ups of a person's base record too


def add_peer(session: Session, fed: Federation, actor: str, req: PeerRequest) -> Peer:
    """Trust a peer region: fetch its trust list, pin its root, record the agreed types. The
    same peer again updates its address, list and agreements."""
    url = _base_url(req.url)
    fingerprint = req.fingerprint.strip().lower() if req.fingerprint else None
    try:
        document, trust = fetch_trust_list(fed, url, fingerprint)
    except TrustListRefused as exc:
        raise DomainError(
            code="peer_trust_invalid",
            title="对方平台的信任列表无效或与登记的根密钥指纹不符",
            title_en="The peer's trust list is invalid or not signed by the pinned root",
            status=422,
            detail=exc.detail,
        ) from exc
    region = trust.region_code
    if region == fed.region or not is_region_code(region):
        raise validation_failed([FieldError("url", f"对方地区代码 {region} 无效", "invalid")])
    # Everything asked of the peer before anything is written here (on SQLite a write would
    # hold the database while we wait for it).
    offered = _peer_license_types(fed, url) if req.agree or req.agree_shared else {}
    pinned = root_fingerprint_of(trust.root_key)
    peer = session.get(Peer, region)
    if peer is None:
        peer = Peer(
            region_code=region,
            account_id=_peer_account(session, region).id,
            added_at=utcnow(),
        )
        session.add(peer)
    elif peer.root_fingerprint != pinned and fingerprint is None:
        raise DomainError(
            code="peer_root_changed",
            title="对方平台的根密钥已变更，请核对新指纹后重新登记",
            title_en="The peer's root key changed: confirm the new fingerprint and add it again",
            status=409,
            extra={"fingerprint": pinned},
        )
    peer.name = trust.region_name or region_name(region)
    peer.url = url
    peer.root_fingerprint = pinned
    peer.share_records = req.share_records
    _store_trust(peer, document, trust, force=True)
    peer.active = True
    peer.refreshed_at = None  # its status list: fetched by the worker's next pass
    session.flush()
    if req.agree or req.agree_shared:
        set_agreements(session, peer, _agreed_pairs(session, offered, req.agree, req.agree_shared))
    fed.registry.signing.ensure(session, FEDERATION, fed.owner)
    record(
        session,
        actor=actor,
        action="federation.peer_added",
        subject_type="region",
        subject_id=region,
        details={
            "url": url,
            "fingerprint": pinned,
            "pinned_by": "operator" if fingerprint else "tofu",
        },
    )
    return peer


def _peer_account(session: Session, region: str) -> Account:
    username = f"peer-{region}"
    found = session.scalars(select(Account).where(Account.username == username)).first()
    if found is not None:
        return found
    # It never logs in: a random password nobody knows, and the account is inactive.
    account = create_account(
        session,
        username,
        secrets.token_urlsafe(24),
        [(Role.REGION_PEER, region)],
        display_name=f"{region_name(region)}政务服务平台",
    )
    account.active = False
    return account


def _store_trust(
    peer: Peer, document: dict[str, Any], trust: TrustList, *, force: bool = False
) -> None:
    """Keep a fetched list, unless it is older than the one we have: an old list replayed by
    a cache or a proxy (still within its validity) must not bring back a key since revoked."""
    kept = peer.trust_list.get("issued_at") if peer.trust_list else None
    if not force and kept and str(document.get("issued_at")) < str(kept):
        raise TrustListRefused("trust_list_invalid", "older than the list already kept")
    peer.trust_list = document
    peer.trust_next_update = datetime.fromtimestamp(trust.next_update, UTC)
    peer.trust_fetched_at = utcnow()


def _agreed_pairs(
    session: Session,
    offered: dict[str, dict[str, str]],
    agree: tuple[str, ...],
    shared: bool,
) -> list[tuple[str, str, str]]:
    ours = license_type_codes(session)
    wanted: dict[str, str | None] = {k: None for k in ours if shared and k in offered}
    for item in agree:
        key, _, given = item.partition("=")
        wanted[key.strip()] = given.strip() or None
    pairs: list[tuple[str, str, str]] = []
    problems: list[FieldError] = []
    for key, code in wanted.items():
        if key not in ours:
            problems.append(FieldError("agree", f"本地没有证照类型 {key}", "unknown_type"))
            continue
        # KEY=CODE names the peer's type by its code; KEY alone, the peer's type of that key.
        if code is None:
            peer_type = offered.get(key)
        else:
            peer_type = next((t for t in offered.values() if t["code"] == code), None)
        if peer_type is None:
            problems.append(FieldError("agree", f"对方证照目录中没有对应 {key} 的类型", "unknown"))
            continue
        pairs.append((key, peer_type["code"], peer_type["name"]))
    if problems:
        raise validation_failed(problems)
    return pairs


def set_agreements(session: Session, peer: Peer, pairs: list[tuple[str, str, str]]) -> None:
    """The agreed list with a peer, replaced whole; the peer's licenses we hold follow it."""
    session.execute(delete(Agreement).where(Agreement.peer_region == peer.region_code))
    session.flush()
    for local, code, name in pairs:
        session.add(
            Agreement(
                peer_region=peer.region_code,
                local_type_key=local,
                peer_type_code=code,
                peer_type_name=name,
            )
        )
    session.flush()
    recognized.recognize_types(session, peer.region_code, agreed_types(session, peer.region_code))


def replace_agreements(
    session: Session, fed: Federation, peer: Peer, agree: tuple[str, ...], shared: bool = False
) -> None:
    """A new agreed list, each of our types paired with the peer's as its catalog says now."""
    offered = _peer_license_types(fed, peer.url)
    set_agreements(session, peer, _agreed_pairs(session, offered, agree, shared))


def agreed_types(session: Session, region: str) -> dict[str, str]:
    """The peer's type codes we recognize, each with our type key."""
    rows = session.execute(
        select(Agreement.peer_type_code, Agreement.local_type_key).where(
            Agreement.peer_region == region
        )
    )
    return {str(code): str(key) for code, key in rows}


def agreements(session: Session, region: str) -> list[Agreement]:
    return list(
        session.scalars(
            select(Agreement)
            .where(Agreement.peer_region == region)
            .order_by(Agreement.local_type_key)
        )
    )


def remove_peer(session: Session, actor: str, region: str) -> Peer:
    """Stop trusting a peer: its messages and licenses no longer verify here."""
    peer = session.get(Peer, region)
    if peer is None:
        raise _peer_not_found(region)
    peer.active = False
    record(
        session,
        actor=actor,
        action="federation.peer_removed",
        subject_type="region",
        subject_id=region,
    )
    return peer


def refresh_peer(sessions: Sessions, fed: Federation, region: str) -> bool:
    """Fetch the peer's trust list (pinned to its root) and license status list again; a
    failure is noted on the peer and the last good lists stay (until they expire). Whether
    the trust list was refreshed."""
    with sessions() as session:
        peer = active_peer(session, region)
        url, pin = peer.url, peer.root_fingerprint
        peer.refreshed_at = utcnow()  # tried now, whatever comes of it
    try:
        document, trust = fetch_trust_list(fed, url, pin)
        if trust.region_code != region:
            raise TrustListRefused("trust_list_invalid", "the list is of another region")
        with sessions() as session:
            _store_trust(active_peer(session, region), document, trust)
    except DomainError as exc:  # unreachable, or a list that does not check: keep the last
        _note_failure(sessions, region, exc)
        return False
    try:
        status_list = _fetch_status_list(fed, url, trust)
    except DomainError as exc:
        _note_failure(sessions, region, exc)
        return True
    with sessions() as session:
        peer = active_peer(session, region)
        peer.status_list = status_list
        peer.status_fetched_at = utcnow()
        peer.last_error = peer.last_error_at = None
        recognized.apply_status_list(session, region, status_list)
    return True


def _note_failure(sessions: Sessions, region: str, exc: DomainError) -> None:
    with sessions() as session:
        peer = active_peer(session, region)
        peer.last_error = f"{exc.code}: {exc.detail or exc.title_en}"[:500]
        peer.last_error_at = utcnow()
    log.warning("refreshing peer %s failed: %s", region, exc.detail or exc.code)


def _fetch_status_list(fed: Federation, url: str, trust: TrustList) -> dict[str, Any]:
    document = _published(fed, url, "/api/v1/licenses/status-list", dict)
    checked: dict[str, Any] = licenses.load_status_list(document, trust, now=int(time.time()))
    return checked


RETRY_FAILED_REFRESH_SECONDS = 300


def due_for_refresh(session: Session, fed: Federation) -> list[str]:
    """Peers whose lists are due: never tried (just added, or told us its keys changed), or
    last tried longer ago than the refresh interval — or than five minutes, if that try failed
    (a peer away is not asked on every pass)."""
    now = utcnow()
    every = timedelta(minutes=fed.settings.federation_refresh_minutes)
    due = []
    for peer in session.scalars(select(Peer).where(Peer.active.is_(True))):
        if peer.refreshed_at is None:
            due.append(peer.region_code)
            continue
        failed = peer.last_error_at is not None and peer.last_error_at >= peer.refreshed_at
        wait = min(every, timedelta(seconds=RETRY_FAILED_REFRESH_SECONDS)) if failed else every
        if now - peer.refreshed_at >= wait:
            due.append(peer.region_code)
    return due


FORCED_REFRESH_SECONDS = 30.0


def refresh_for_unknown_key(sessions: Sessions, fed: Federation, region: str) -> bool:
    """A message names a key we have not seen: the peer may have rotated. Fetch its list, at
    most once every 30 s per peer (a stream of made-up key ids cannot make us fetch)."""
    now = time.monotonic()
    if now - fed.forced_refresh.get(region, -FORCED_REFRESH_SECONDS) < FORCED_REFRESH_SECONDS:
        return False
    fed.forced_refresh[region] = now
    return refresh_peer(sessions, fed, region)
