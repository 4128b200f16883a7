"""Two regions' nodes in one process (Shanghai and Jiangsu, each with its own database, keys,
catalog and demo people), joined by a loopback transport that can take a node off the
network. The worker's passes run when a test pumps them, so every step is deterministic."""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from tests.conftest import migrated_engine
from tests.fixtures_identity import login
from tongban.app import create_app
from tongban.crypto.keys import keyring_for
from tongban.db import make_sessionmaker, transaction
from tongban.demodata import load_demo
from tongban.federation import peers, worker
from tongban.federation.peers import Federation, PeerRequest
from tongban.federation.transport import TransportError
from tongban.identity.demo import DEMO_PASSWORD
from tongban.identity.service import claim_region
from tongban.settings import Settings

SH, JS = "310000", "320000"


class Loopback:
    """The network between the nodes: a base URL per node, and the nodes that are down."""

    def __init__(self) -> None:
        self.clients: dict[str, TestClient] = {}
        self.down: set[str] = set()
        self.posts: list[tuple[str, str]] = []  # (host, path) of every post that got through

    def _client(self, url: str) -> tuple[TestClient, str]:
        parts = urlsplit(url)
        if parts.netloc in self.down or parts.netloc not in self.clients:
            raise TransportError(f"ConnectError: {parts.netloc} is unreachable")
        return self.clients[parts.netloc], parts.path

    def get(self, url: str, *, timeout: float) -> tuple[int, Any]:
        client, path = self._client(url)
        r = client.get(path)
        return r.status_code, r.json()

    def post(self, url: str, body: bytes, *, timeout: float) -> tuple[int, Any]:
        client, path = self._client(url)
        r = client.post(path, content=body, headers={"content-type": "application/json"})
        self.posts.append((urlsplit(url).netloc, path))
        return r.status_code, r.json()


@dataclass
class Node:
    region: str
    host: str
    settings: Settings
    engine: Engine
    client: TestClient
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    @property
    def fed(self) -> Federation:
        fed: Federation = self.client.app.state.federation  # type: ignore[attr-defined]
        return fed

    def sessions(self) -> Any:
        factory = make_sessionmaker(self.engine)
        return lambda: transaction(factory)

    def session(self) -> Session:
        return make_sessionmaker(self.engine)()

    def auth(self, user: str) -> dict[str, str]:
        if user not in self.tokens:
            self.tokens[user] = login(self.client, user, DEMO_PASSWORD)["access_token"]
        return {"authorization": f"Bearer {self.tokens[user]}"}

    def work(self) -> worker.PassReport:
        return worker.run_pass(self.sessions(), self.fed)

    def waiting(self) -> bool:
        """Whether a message to a reachable peer still waits to be sent."""
        from sqlalchemy import func, select

        from tongban.federation.models import OutboxMessage

        with self.session() as session:
            pending = session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.status == "pending")
            )
        return bool(pending)


@dataclass
class Regions:
    sh: Node
    js: Node
    net: Loopback

    def pump(self, rounds: int = 20) -> None:
        """Worker passes on both nodes until nothing is left to send or apply (a message
        waiting out its backoff is waited for: the nodes' retry cap is one second)."""
        for _ in range(rounds):
            moved = [n.work() for n in (self.sh, self.js)]
            if any(r.sent or r.applied for r in moved):
                continue
            if not any(n.waiting() for n in (self.sh, self.js)):
                return
            time.sleep(0.3)


def make_node(region: str, engine: Engine, folder: Path, net: Loopback) -> Node:
    settings = Settings(
        database_url=engine.url.render_as_string(hide_password=False),
        region_code=region,
        kek=SecretStr(base64.b64encode(os.urandom(32)).decode()),
        files_dir=folder / f"files-{region}",
        login_rate_per_minute=10_000,
        require_staff_otp=False,
        federation_retry_cap_seconds=1,
    )
    ring = keyring_for(settings)
    with transaction(make_sessionmaker(engine)) as session:
        claim_region(session, region)
        ring.ensure_keys(session)
        load_demo(session, settings, ring, applications=False)
    client = TestClient(create_app(settings, engine), raise_server_exceptions=False)
    host = f"{region}.test"
    client.app.state.federation.transport = net  # type: ignore[attr-defined]
    net.clients[host] = client
    return Node(region, host, settings, engine, client)


def link(a: Node, b: Node) -> None:
    """Each trusts the other: trust lists fetched and pinned, shared types agreed."""
    for me, other in ((a, b), (b, a)):
        with me.sessions()() as session:
            peers.add_peer(session, me.fed, "test", PeerRequest(other.url, None, (), True))


@contextmanager
def _pair(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Regions]:
    folder = tmp_path_factory.mktemp("regions")
    net = Loopback()
    with (
        migrated_engine(backend, folder) as sh_engine,
        migrated_engine(backend, folder) as js_engine,
    ):
        sh = make_node(SH, sh_engine, folder, net)
        js = make_node(JS, js_engine, folder, net)
        link(sh, js)
        with sh.client, js.client:
            yield Regions(sh, js, net)


@pytest.fixture(scope="session")
def regions(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Regions]:
    """One pair for the modules that leave the trust between them as they found it."""
    with _pair(backend, tmp_path_factory) as pair:
        yield pair


@pytest.fixture(scope="module")
def own_regions(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Regions]:
    """A pair of the module's own, for a module that changes the trust (removes a peer,
    revokes a license, narrows the agreed list)."""
    with _pair(backend, tmp_path_factory) as pair:
        yield pair


def consent_to_jiangsu(regions: Regions, purpose: str = "异地办事") -> str:
    """citizen3's consent, given in Shanghai, for Jiangsu's licenses of theirs to be used."""
    r = regions.sh.client.post(
        "/api/v1/me/peer-consents",
        json={"region": JS, "purpose": purpose, "days": 30},
        headers=regions.sh.auth("citizen3"),
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def fetch_with(regions: Regions, consent: str) -> Any:
    """citizen3 asks Shanghai to fetch their Jiangsu licenses under this consent."""
    return regions.sh.client.post(
        f"/api/v1/me/peer-consents/{consent}/fetch", headers=regions.sh.auth("citizen3")
    )


def fetched_from_jiangsu(regions: Regions, purpose: str = "异地办事") -> None:
    """citizen3's Jiangsu ID card and household register fetched, so they are 免提交 here."""
    got = fetch_with(regions, consent_to_jiangsu(regions, purpose))
    assert got.status_code == 200, got.text


def forwarded_to(regions: Regions, case_id: int) -> Any:
    """The case Jiangsu made for Shanghai's case (by the reference Shanghai gave it), or
    None if it has not arrived."""
    from sqlalchemy import select

    from tongban.cases.models import Case

    with regions.sh.session() as session:
        ref = session.scalar(select(Case.exchange_ref).where(Case.id == case_id))
    if ref is None:
        return None
    with regions.js.session() as session:
        found = session.scalars(
            select(Case).where(Case.origin_region == SH, Case.origin_case == ref)
        ).all()
        for row in found:
            session.expunge(row)
    assert len(found) <= 1
    return found[0] if found else None


def staff(node: Node, username: str, role: Any, binding: str) -> str:
    """A staff account of the node (made once), for the tests' steps."""
    from sqlalchemy import select

    from tongban.identity.models import Account
    from tongban.identity.service import create_account

    with node.session() as session:
        if session.scalars(select(Account).where(Account.username == username)).first() is None:
            shared = session.scalars(select(Account.password_hash).where(Account.demo)).first()
            create_account(
                session,
                username,
                None,
                [(role, binding)],
                password_hash=shared,
                display_name=username,
                demo=True,
            )
            session.commit()
    return username
