"""The peers an administrator trusts: pinned to the root key they were added with, refreshed
(a license the peer revokes stops counting here), agreed types replaced whole, and a peer no
longer trusted verifies nothing."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import select, update

from tests.federation.conftest import (
    JS,
    SH,
    Regions,
    consent_to_jiangsu,
    fetch_with,
    fetched_from_jiangsu,
    staff,
)
from tongban.federation.models import Peer
from tongban.federation.peers import peer_trust
from tongban.identity.schemas import Role
from tongban.licenses.models import License, PeerLicense

BIRTH_REGISTRATION = "20P006000001"


@pytest.fixture
def regions(own_regions: Regions) -> Regions:
    """This module removes a peer and revokes a license: a pair of its own."""
    return own_regions


def _admin(regions: Regions) -> dict[str, str]:
    return regions.sh.auth("admin")


def _resolution(regions: Regions, material: str) -> dict[str, Any]:
    form = regions.sh.client.get(
        f"/api/v1/matters/{BIRTH_REGISTRATION}/form", headers=regions.sh.auth("citizen3")
    ).json()
    return dict(next(m for m in form["materials"] if m["key"] == material))


def test_only_an_administrator_manages_peers(regions: Regions) -> None:
    sh = regions.sh
    assert sh.client.get("/api/v1/federation/peers").status_code == 401
    assert sh.client.get("/api/v1/federation/peers", headers=sh.auth("citizen3")).status_code == 403
    listed = sh.client.get("/api/v1/federation/peers", headers=_admin(regions))
    assert listed.status_code == 200
    peer = next(p for p in listed.json() if p["region_code"] == JS)
    assert peer["name"] == "江苏省"
    assert len(peer["root_fingerprint"]) == 64
    assert {a["local_type"] for a in peer["agreements"]} >= {"marriage_certificate"}


def test_bad_input_is_a_clear_4xx_and_changes_nothing(regions: Regions) -> None:
    sh, admin = regions.sh, _admin(regions)
    cases = [
        sh.client.post("/api/v1/federation/peers", json={}, headers=admin),
        sh.client.post("/api/v1/federation/peers", json={"url": "ftp://x.example"}, headers=admin),
        sh.client.post(
            "/api/v1/federation/peers",
            json={"url": regions.js.url, "fingerprint": "zz"},
            headers=admin,
        ),
        sh.client.post("/api/v1/federation/peers/99/refresh", headers=admin),
        sh.client.post("/api/v1/federation/peers/330000/refresh", headers=admin),
        sh.client.post(
            "/api/v1/federation/dead-letters/out/" + "0" * 32 + "/replay", headers=admin
        ),
        sh.client.put(
            f"/api/v1/federation/peers/{JS}/agreements",
            json={"agree": ["no_such_type"]},
            headers=admin,
        ),
    ]
    assert [r.status_code for r in cases] == [422, 422, 422, 422, 404, 404, 422]
    assert all(r.headers["content-type"].startswith("application/problem+json") for r in cases)
    peer = next(
        p
        for p in sh.client.get("/api/v1/federation/peers", headers=admin).json()
        if p["region_code"] == JS
    )
    assert len(peer["agreements"]) >= 6  # the refused change left the list as it was


def test_a_trust_list_not_signed_by_the_pinned_root_is_refused(regions: Regions) -> None:
    r = regions.sh.client.post(
        "/api/v1/federation/peers",
        json={"url": regions.js.url, "fingerprint": "0" * 64},
        headers=_admin(regions),
    )
    assert r.status_code == 422
    assert r.json()["code"] == "peer_trust_invalid"


def test_a_peer_whose_root_changed_is_not_trusted_again_silently(regions: Regions) -> None:
    with regions.sh.session() as session:
        pinned = session.get(Peer, JS)
        assert pinned is not None
        real = pinned.root_fingerprint
        pinned.root_fingerprint = "a" * 64  # as if the root we pinned were another one
        session.commit()
    try:
        r = regions.sh.client.post(
            "/api/v1/federation/peers", json={"url": regions.js.url}, headers=_admin(regions)
        )
        assert r.status_code == 409
        assert r.json()["code"] == "peer_root_changed"
        assert r.json()["fingerprint"] == real  # what to compare out of band
        again = regions.sh.client.post(
            "/api/v1/federation/peers",
            json={"url": regions.js.url, "fingerprint": real, "agree_shared": True},
            headers=_admin(regions),
        )
        assert again.status_code == 201, again.text
    finally:
        with regions.sh.session() as session:
            session.execute(
                update(Peer).where(Peer.region_code == JS).values(root_fingerprint=real)
            )
            session.commit()


def test_licenses_follow_the_agreed_list(regions: Regions) -> None:
    fetched_from_jiangsu(regions, "办理生育登记")
    assert _resolution(regions, "household_register")["reason"] == "found_peer"
    admin = _admin(regions)
    narrowed = regions.sh.client.put(
        f"/api/v1/federation/peers/{JS}/agreements",
        json={"agree": ["marriage_certificate", "resident_id_card"]},
        headers=admin,
    )
    assert narrowed.status_code == 200, narrowed.text
    assert _resolution(regions, "household_register")["resolution"] == "upload"
    assert _resolution(regions, "marriage_certificate")["reason"] == "found_peer"
    mine = regions.sh.client.get(
        "/api/v1/me/peer-licenses", headers=regions.sh.auth("citizen3")
    ).json()
    register = next(m for m in mine if m["type_name"] == "居民户口簿")
    assert register["counts_as"] is None  # kept for its holder, no longer counted
    shared = [
        "birth_medical_certificate", "business_license", "household_register",
        "marriage_certificate", "no_criminal_record_certificate", "resident_id_card",
    ]  # fmt: skip
    restored = regions.sh.client.put(
        f"/api/v1/federation/peers/{JS}/agreements", json={"agree": shared}, headers=admin
    )
    assert restored.status_code == 200
    assert _resolution(regions, "household_register")["reason"] == "found_peer"


def test_a_license_the_peer_revokes_stops_counting_at_the_next_refresh(
    regions: Regions,
) -> None:
    fetched_from_jiangsu(regions, "办理生育登记")
    with regions.sh.session() as session:
        kept = session.scalars(
            select(PeerLicense).where(PeerLicense.local_type_key == "marriage_certificate")
        ).first()
        assert kept is not None
        identifier = kept.identifier
    with regions.js.session() as session:
        row = session.scalars(select(License).where(License.identifier == identifier)).one()
        assert row.status == "01"
    issuer = staff(regions.js, "iss_sz-mzj", Role.ISSUER, "sz-mzj")
    r = regions.js.client.post(
        f"/api/v1/licenses/{identifier}/status",
        json={"action": "revoke", "reason": "登记错误"},
        headers=regions.js.auth(issuer),
    )
    assert r.status_code == 200, r.text
    assert _resolution(regions, "marriage_certificate")["reason"] == "found_peer"  # not yet known
    refreshed = regions.sh.client.post(
        f"/api/v1/federation/peers/{JS}/refresh", headers=_admin(regions)
    )
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["last_error"] is None
    marriage = _resolution(regions, "marriage_certificate")
    assert marriage["resolution"] == "upload"
    verified = regions.sh.client.get(f"/api/v1/licenses/{identifier}/verify").json()
    assert verified["valid"] is False
    assert verified["reason"] == "license_revoked"


def test_an_out_of_date_list_verifies_nothing(regions: Regions) -> None:
    from tongban.federation.envelope import MessageRefused

    with regions.sh.session() as session:
        peer = session.get(Peer, JS)
        assert peer is not None
        peer_trust(peer, int(time.time()))
        with pytest.raises(MessageRefused) as stale:
            peer_trust(peer, int(time.time()) + 8 * 86400)  # a week past its next update
    assert stale.value.code == "peer_trust_expired"


def test_a_peer_no_longer_trusted_is_refused(regions: Regions) -> None:
    removed = regions.js.client.delete(
        f"/api/v1/federation/peers/{SH}", headers=regions.js.auth("admin")
    )
    assert removed.status_code == 200
    assert removed.json()["active"] is False
    r = fetch_with(regions, consent_to_jiangsu(regions, "办理生育登记"))
    assert r.status_code == 503  # Jiangsu answers peer_unknown: we cannot reach its data
    assert r.json()["code"] == "peer_unavailable"
