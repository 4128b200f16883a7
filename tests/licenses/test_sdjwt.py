"""Selective disclosure (SD-JWT, ES256): the holder shows some fields; undisclosed ones cannot be
recovered; tampering, expiry and foreign keys are refused whole."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from tests.idcode.conftest import World
from tongban.crypto import es256, sm2
from tongban.crypto.trustlist import TrustedKey, TrustList
from tongban.licenses import sdjwt


def credential(world: World, user: str = "citizen1", type_name: str = "居民身份证") -> Any:
    items = world.client.get("/api/v1/me/licenses", headers=world.auth(user)).json()["items"]
    document = next(d for d in items if d["type"]["name"] == type_name)
    r = world.client.post(
        f"/api/v1/me/licenses/{document['identifier']}/sd-jwt", headers=world.auth(user)
    )
    assert r.status_code == 200, r.text
    return document, r.json()


def verify(world: World, presentation: str) -> Any:
    return world.client.post("/api/v1/licenses/sd-jwt/verify", json={"presentation": presentation})


def test_a_hotel_sees_the_name_and_not_the_id_number(world: World) -> None:
    document, issued = credential(world)
    shown = sdjwt.present(issued["credential"], ["holder_name"])
    r = verify(world, shown)
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["valid"] is True
    assert result["disclosed"] == {"holder_name": document["holder"]["name"]}
    assert result["license"]["identifier"] == document["identifier"]
    # The ID number is nowhere in what the hotel received, nor derivable from the digests.
    id_number = document["holder"]["id"]
    assert id_number not in shown
    decoded = "".join(
        base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)).decode("utf-8", "replace")
        for p in shown.split("~")[0].split(".")[:2]
    )
    assert id_number not in decoded
    naive = (
        base64.urlsafe_b64encode(
            hashlib.sha256(json.dumps(["", "holder_id", id_number]).encode()).digest()
        )
        .decode()
        .rstrip("=")
    )
    assert naive not in shown


def test_the_issuer_signature_checks_with_plain_cryptography(world: World) -> None:
    _, issued = credential(world)
    jwt = issued["credential"].split("~")[0]
    head, body, sig = jwt.split(".")
    header = json.loads(base64.urlsafe_b64decode(head + "=="))
    keys = world.client.get("/api/v1/trust-list").json()["keys"]
    entry = next(k for k in keys if k["key_id"] == header["kid"])
    assert entry["alg"] == "ES256"
    assert entry["use"] == "sdjwt"
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    public = load_pem_public_key(entry["public_key_pem"].encode())
    assert isinstance(public, ec.EllipticCurvePublicKey)
    raw = base64.urlsafe_b64decode(sig + "==")
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    public.verify(der, f"{head}.{body}".encode(), ec.ECDSA(hashes.SHA256()))


def test_a_tampered_disclosure_refuses_the_whole_presentation(world: World) -> None:
    _, issued = credential(world)
    jwt, *disclosures = issued["credential"].split("~")
    salt, name, _value = json.loads(base64.urlsafe_b64decode(disclosures[0] + "=="))
    forged = (
        base64.urlsafe_b64encode(json.dumps([salt, name, "张三"]).encode()).decode().rstrip("=")
    )
    r = verify(world, "~".join([jwt, forged, disclosures[1], ""]))
    assert r.status_code == 422
    assert r.json()["code"] == "sd_jwt_disclosure_invalid"
    duplicated = verify(world, "~".join([jwt, disclosures[1], disclosures[1], ""]))
    assert duplicated.json()["code"] == "sd_jwt_disclosure_invalid"
    altered_body = jwt.split(".")
    altered_body[1] = altered_body[1][:-2] + ("AA" if altered_body[1][-2:] != "AA" else "BB")
    assert verify(world, ".".join(altered_body) + "~").json()["code"] in (
        "sd_jwt_signature_invalid",
        "sd_jwt_malformed",
    )


NOW = int(time.time())


def _lists(key_point: bytes, owner: str = "dept:sh-gaj", use: str = "sdjwt") -> Any:
    kid = sm2.key_id(key_point)
    trusted = TrustedKey(kid, key_point, "active", NOW - 60, use=use, owner=owner, alg="ES256")
    return kid, {"310000": TrustList("310000", "上海市", NOW, NOW + 60, "-", {kid: trusted})}


DOCUMENT = {
    "identifier": "1.2.156.3005.2.11310000T00000003L001.11310000T00000003L.00000009.001.X",
    "type": {"key": "resident_id_card", "name": "居民身份证"},
    "issuer": {"department": "sh-gaj", "name": "公安局"},
    "valid_until": None,
    "holder": {"name": "王芳", "id": "310101194803124297"},
    "content": {"person.address": "上海市某路1号"},
}


def test_an_expired_credential_is_refused() -> None:
    private, public = es256.generate()
    kid, lists = _lists(public)
    old = sdjwt.issue(DOCUMENT, kid, es256.private_key(private), now=NOW - 100, ttl=50)
    with pytest.raises(sdjwt.SdJwtRefused) as caught:
        sdjwt.verify(old, lists, now=NOW)
    assert caught.value.code == "sd_jwt_expired"
    fresh = sdjwt.issue(DOCUMENT, kid, es256.private_key(private), now=NOW, ttl=50)
    assert sdjwt.verify(sdjwt.present(fresh, []), lists, now=NOW)["disclosed"] == {}


def test_keys_must_be_credential_keys_of_the_named_issuer() -> None:
    private, public = es256.generate()
    credential_text = sdjwt.issue(
        DOCUMENT, sm2.key_id(public), es256.private_key(private), now=NOW, ttl=60
    )
    for owner, use, code in (
        ("dept:sh-scjgj", "sdjwt", "sd_jwt_wrong_issuer"),
        ("dept:sh-gaj", "license", "sd_jwt_unknown_key"),
    ):
        _, lists = _lists(public, owner=owner, use=use)
        with pytest.raises(sdjwt.SdJwtRefused) as caught:
            sdjwt.verify(credential_text, lists, now=NOW)
        assert caught.value.code == code
    _, others = _lists(es256.generate()[1])
    with pytest.raises(sdjwt.SdJwtRefused) as caught:
        sdjwt.verify(credential_text, others, now=NOW)
    assert caught.value.code == "sd_jwt_unknown_key"


def test_a_credential_only_for_ones_own_valid_license(world: World) -> None:
    items = world.client.get("/api/v1/me/licenses", headers=world.auth("citizen2")).json()["items"]
    theirs = items[0]["identifier"]
    r = world.client.post(f"/api/v1/me/licenses/{theirs}/sd-jwt", headers=world.auth("citizen1"))
    assert r.status_code == 404
    assert verify(world, "not a presentation").status_code == 422


def test_a_non_ascii_disclosure_is_refused(world: World) -> None:
    _, issued = credential(world)
    jwt = issued["credential"].split("~")[0]
    r = verify(world, f"{jwt}~中文~")
    assert r.status_code == 422
    assert r.json()["code"] == "sd_jwt_disclosure_invalid"
